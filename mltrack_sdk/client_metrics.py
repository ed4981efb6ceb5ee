"""The metrics reads of :class:`~mltrack_sdk.client.Client` (a mixin): one session's epochs as
``EpochMetrics`` models or as one list per column, streamed in chunks where the transport can
(:class:`~mltrack_sdk.transports.base.ColumnStream`), so the client builds one chunk's models
while the server sends the next::

    losses = [m.total_loss for m in client.metrics(session_id)]
    cols = client.metrics_columns(session_id, ["total_loss", "map50_95"])
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from uuid import UUID

from mltrack_sdk.errors import InvalidValueError
from mltrack_sdk.models import EpochMetrics
from mltrack_sdk.rows import build_models, build_models_from_rows, gc_paused, typed_columns

if TYPE_CHECKING:
    from mltrack_sdk.transports.base import Columns, RowChunk, Transport

#: The columns of ``training_metrics`` that ``EpochMetrics`` holds, in its order.
METRIC_FIELDS: tuple[str, ...] = tuple(EpochMetrics.model_fields)


def session_id_text(value: UUID | str) -> str:
    """The id as text (what both transports take); a malformed id is the caller's mistake."""
    try:
        return str(value if isinstance(value, UUID) else UUID(str(value)))
    except ValueError:
        raise InvalidValueError(
            f"session_id must be a UUID (got {value!r})", field="session_id"
        ) from None


def _epochs(epochs: Collection[int]) -> list[int]:
    values = [] if isinstance(epochs, str | bytes) else list(epochs)
    if isinstance(epochs, str | bytes) or not all(
        isinstance(e, int) and not isinstance(e, bool) and e >= 0 for e in values
    ):
        raise InvalidValueError(
            f"epochs must be a collection of non-negative integers (got {epochs!r})", field="epochs"
        )
    return sorted(set(values))


def _metric_column_names(columns: Sequence[str] | None) -> list[str]:
    """``epoch`` first, then ``columns`` (each once); each must be an ``EpochMetrics`` field."""
    if columns is None:
        return ["epoch", *(c for c in METRIC_FIELDS if c != "epoch")]
    if isinstance(columns, str | bytes) or not all(isinstance(c, str) for c in columns):
        raise InvalidValueError(
            f"columns must be a list of column names (got {columns!r})", field="columns"
        )
    unknown = [c for c in columns if c not in METRIC_FIELDS]
    if unknown:
        raise InvalidValueError(
            f"columns: {unknown[0]!r} is not a metric column (one of {', '.join(METRIC_FIELDS)})",
            field="columns",
        )
    return list(dict.fromkeys(["epoch", *columns]))


def _by_epoch(filters: Mapping[str, Any]) -> dict[str, Any]:
    """The select arguments of one session's metric rows in epoch order."""
    return {"filters": filters, "order": (("epoch", False),)}


def _typed_metrics(
    got: Columns, filters: Mapping[str, Any], columns: Sequence[str]
) -> dict[str, list[Any]]:
    """``columns`` of ``got`` (metric rows) typed as ``EpochMetrics`` holds them;
    ``session_id`` is the filter's (one UUID, not one decoded per row)."""
    data = typed_columns(EpochMetrics, got.data, got.types)
    if "session_id" in columns:
        data["session_id"] = [UUID(filters["session_id"])] * len(data["epoch"])
    return {c: data[c] for c in columns}


class MetricReads:
    """``metrics`` and ``metrics_columns`` of :class:`~mltrack_sdk.client.Client`."""

    transport: Transport

    def _metric_filters(
        self, session_id: UUID | str, epochs: Collection[int] | None
    ) -> dict[str, Any] | None:
        """The filters of one session's metrics; None when ``epochs`` selects nothing."""
        filters: dict[str, Any] = {"session_id": session_id_text(session_id)}
        if epochs is not None:
            filters["epoch"] = _epochs(epochs)
            if not filters["epoch"]:
                return None
        return filters

    def _metric_chunks(
        self,
        filters: Mapping[str, Any],
        columns: Sequence[str],
        consume: Callable[[dict[str, list[Any]]], object],
    ) -> None:
        """Hand ``consume`` the filtered metric rows by epoch, chunk by chunk as the transport
        streams them (one chunk when it cannot), as ``columns`` typed as ``EpochMetrics`` holds
        them (see :meth:`_typed_metrics`)."""
        selected = [c for c in columns if c != "session_id"]
        stream = getattr(self.transport, "stream_columns", None)
        if stream is not None:
            stream(
                "training_metrics",
                selected,
                lambda got: consume(_typed_metrics(got, filters, columns)),
                **_by_epoch(filters),
            )
        else:
            got = self.transport.select_columns("training_metrics", selected, **_by_epoch(filters))
            consume(_typed_metrics(got, filters, columns))

    def metrics(
        self, session_id: UUID | str, *, epochs: Collection[int] | None = None
    ) -> list[EpochMetrics]:
        """The per-epoch metrics of a session, ordered by epoch (empty for an unknown id);
        only the ``epochs`` given when there are some (e.g. those a change notification names).

        Example::

            losses = [m.total_loss for m in client.metrics(session_id)]
            new = client.metrics(session_id, epochs=range(5, 8))
        """
        filters = self._metric_filters(session_id, epochs)
        if filters is None:
            return []
        out: list[EpochMetrics] = []
        stream = getattr(self.transport, "stream_rows", None)
        with gc_paused():
            if stream is None:
                self._metric_chunks(
                    filters,
                    METRIC_FIELDS,
                    lambda data: out.extend(build_models(EpochMetrics, data)),
                )
                return out
            # Models of each chunk, made from its rows, while the transport brings the next.
            constants = {"session_id": UUID(filters["session_id"])}

            def add(chunk: RowChunk) -> None:
                out.extend(
                    build_models_from_rows(
                        EpochMetrics,
                        list(chunk.types),
                        chunk.rows,
                        chunk.types,
                        parsed=chunk.json,
                        constants=constants,
                    )
                )

            selected = [c for c in METRIC_FIELDS if c != "session_id"]
            stream("training_metrics", selected, add, **_by_epoch(filters))
        return out

    def metrics_columns(
        self,
        session_id: UUID | str,
        columns: Sequence[str] | None = None,
        *,
        epochs: Collection[int] | None = None,
    ) -> dict[str, list[Any]]:
        """A session's metrics as one list per column, ordered by epoch - what a chart draws,
        cheaper than :meth:`metrics` for long runs. ``columns`` are ``EpochMetrics`` fields
        (default: all); ``epoch`` always comes first. Values are typed as in ``EpochMetrics``
        (``None`` where an epoch has no value); ``epochs`` narrows as in :meth:`metrics`.

        Example::

            cols = client.metrics_columns(session_id, ["total_loss", "map50_95"])
            plot(cols["epoch"], cols["map50_95"])
        """
        wanted = _metric_column_names(columns)
        out: dict[str, list[Any]] = {c: [] for c in wanted}
        filters = self._metric_filters(session_id, epochs)
        if filters is None:
            return out

        def add(data: dict[str, list[Any]]) -> None:
            for column, values in data.items():
                out[column].extend(values)

        with gc_paused():
            self._metric_chunks(filters, wanted, add)
        return out


__all__ = ["METRIC_FIELDS", "MetricReads", "session_id_text"]
