"""Reading what training runs recorded: sessions, metrics, views, benchmarks.

:class:`Client` is the read side of the SDK. It only calls ``Transport.select_columns`` and
``Transport.rpc`` (and, for metrics, ``stream_columns`` where the transport has it: see
:class:`~mltrack_sdk.transports.base.ColumnStream`), so it works the same over a direct Postgres
URL and over Supabase. Rows become models without a pydantic validation per row: each column is
checked once (:mod:`mltrack_sdk.rows`), with the same result::

    from mltrack_sdk.client import Client

    with Client(database_url="postgresql://postgres@127.0.0.1:5432/postgres") as client:
        for s in client.sessions(status="running"):
            print(s.session_name, s.current_epoch, s.best_map50_95)
        detail = client.session(some_id)
        print([m.map50_95 for m in detail.metrics])
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID

from pydantic import BaseModel

from mltrack_sdk.errors import InvalidValueError, NotFoundError
from mltrack_sdk.models import (
    ActiveSession,
    EpochMetrics,
    HyperparameterRun,
    LeaderboardEntry,
    ModelBenchmark,
    SessionDetail,
    SessionStatus,
    SessionSummary,
    TrainingDataset,
    TrainingSession,
    ValidationResult,
)
from mltrack_sdk.rows import build_models, build_models_from_rows, gc_paused, typed_columns

if TYPE_CHECKING:
    from mltrack_sdk.transports.base import Columns, RowChunk, Transport

M = TypeVar("M", bound=BaseModel)

#: The leaderboard view holds the top 50; asking for more returns those 50.
DEFAULT_LIMIT = 50
#: The columns of ``training_metrics`` that ``EpochMetrics`` holds, in its order.
METRIC_FIELDS: tuple[str, ...] = tuple(EpochMetrics.model_fields)


def _session_id(value: UUID | str) -> str:
    """The id as text (what both transports take); a malformed id is the caller's mistake."""
    try:
        return str(value if isinstance(value, UUID) else UUID(str(value)))
    except ValueError:
        raise InvalidValueError(
            f"session_id must be a UUID (got {value!r})", field="session_id"
        ) from None


def _session_ids(ids: Collection[UUID | str]) -> list[str]:
    """Ids as text for an IN filter; a bare string is one id, not a collection of characters."""
    if isinstance(ids, str | UUID):
        return [_session_id(ids)]
    return sorted({_session_id(i) for i in ids})


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


def _check_limit(limit: int | None) -> int | None:
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise InvalidValueError(f"limit must be a positive integer (got {limit!r})", field="limit")
    return limit


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


class Client:
    """Read access to mltrack over any transport.

    Give a transport, or let the client resolve one from ``database_url`` / Supabase settings
    (then from the environment, as :func:`mltrack_sdk.connect.resolve_transport` does). The
    client closes a transport it resolved itself; a transport passed in stays the caller's::

        client = Client(database_url="postgresql://postgres@localhost/postgres")
        try:
            print(client.leaderboard(limit=3))
        finally:
            client.close()
    """

    def __init__(
        self,
        transport: Transport | None = None,
        *,
        database_url: str | None = None,
        supabase_url: str | None = None,
        supabase_key: str | None = None,
        access_token: str | Callable[[], str] | None = None,
    ) -> None:
        if transport is None:
            # Imported here: the connect module pulls in the transports' drivers.
            from mltrack_sdk.connect import resolve_transport

            settings = {
                "supabase_url": supabase_url,
                "supabase_key": supabase_key,
                "access_token": access_token,
            }
            # Only what was given, so a direct-URL setup needs no Supabase support at all.
            given: dict[str, Any] = {k: v for k, v in settings.items() if v is not None}
            transport = resolve_transport(database_url=database_url, **given)
            self._owns_transport = True
        else:
            self._owns_transport = False
        self.transport: Transport = transport

    # -- plumbing ---------------------------------------------------------------------------

    def _rows(
        self,
        model: type[M],
        relation: str,
        *,
        filters: Mapping[str, Any] | None = None,
        order: Sequence[tuple[str, bool]] = (),
        limit: int | None = None,
    ) -> list[M]:
        # The model's columns only, each checked once (see mltrack_sdk.rows): the same models
        # as model_validate of each row, without the per-row cost.
        with gc_paused():
            got = self.transport.select_columns(
                relation, list(model.model_fields), filters=filters, order=order, limit=limit
            )
            return build_models(model, typed_columns(model, got.data, got.types))

    def close(self) -> None:
        """Close the transport if this client resolved it (a passed-in one is left open).

        Example::

            client.close()
        """
        if self._owns_transport:
            self.transport.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- sessions ---------------------------------------------------------------------------

    def sessions(
        self,
        status: SessionStatus | None = None,
        limit: int | None = DEFAULT_LIMIT,
        *,
        ids: Collection[UUID | str] | None = None,
    ) -> list[TrainingSession]:
        """Sessions, newest first, optionally only those with ``status`` (``None``: no limit)
        and only those of ``ids`` (what a live view re-reads when a change names them).

        Example::

            failed = client.sessions(status="failed", limit=10)
            changed = client.sessions(ids=[id1, id2], limit=None)
        """
        filters: dict[str, Any] = {"status": status} if status is not None else {}
        if ids is not None:
            filters["id"] = _session_ids(ids)
            if not filters["id"]:
                return []
        return self._rows(
            TrainingSession,
            "training_sessions",
            filters=filters or None,
            order=(("created_at", True), ("id", False)),
            limit=_check_limit(limit),
        )

    def session(self, session_id: UUID | str) -> SessionDetail:
        """One session with its metrics (by epoch), validation results and benchmarks (fastest
        first). Raises :class:`~mltrack_sdk.errors.NotFoundError` if there is no such session::

            detail = client.session("6f1c...")
            print(detail.session.status, len(detail.metrics), detail.benchmarks[0].fps)
        """
        sid = _session_id(session_id)
        rows = self._rows(TrainingSession, "training_sessions", filters={"id": sid}, limit=1)
        if not rows:
            raise NotFoundError(
                f"session_id: no session {sid} (or it is not visible to you)",
                sqlstate="MT005",
                field="session_id",
            )
        return SessionDetail(
            session=rows[0],
            metrics=tuple(self.metrics(sid)),
            validation_results=tuple(
                self._rows(
                    ValidationResult,
                    "validation_results",
                    filters={"session_id": sid},
                    order=(("split", False), ("class_name", False)),
                )
            ),
            benchmarks=tuple(self.benchmarks(sid)),
        )

    def _metric_filters(
        self, session_id: UUID | str, epochs: Collection[int] | None
    ) -> dict[str, Any] | None:
        """The filters of one session's metrics; None when ``epochs`` selects nothing."""
        filters: dict[str, Any] = {"session_id": _session_id(session_id)}
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

    def request_stop(self, session_id: UUID | str, reason: str | None = None) -> TrainingSession:
        """Ask a running session to stop; its next heartbeat tells the training process.

        Returns the session as stored. Errors are the database's (e.g. ``NotFoundError``)::

            client.request_stop(session_id, reason="diverged")
        """
        args: dict[str, Any] = {"session_id": _session_id(session_id)}
        if reason is not None:
            args["reason"] = reason
        row = self.transport.rpc("request_stop", args)
        if isinstance(row, list):  # a transport may hand back a one-row set
            row = row[0]
        return TrainingSession.model_validate(row)

    # -- views ------------------------------------------------------------------------------

    def active_sessions(self, *, ids: Collection[UUID | str] | None = None) -> list[ActiveSession]:
        """Running sessions with their latest epoch, progress, ETA and heartbeat age, most
        recently started first; only those of ``ids`` when given::

            for a in client.active_sessions():
                print(a.session_name, f"{a.progress_percent}%", a.eta_seconds)
        """
        filters: dict[str, Any] | None = None
        if ids is not None:
            filters = {"id": _session_ids(ids)}
            if not filters["id"]:
                return []
        return self._rows(
            ActiveSession,
            "active_training_sessions",
            filters=filters,
            order=(("started_at", True), ("id", False)),
        )

    def leaderboard(self, limit: int | None = DEFAULT_LIMIT) -> list[LeaderboardEntry]:
        """Completed models ranked by mAP50-95 (the view keeps the top 50).

        Example::

            best = client.leaderboard(limit=1)[0]
        """
        return self._rows(
            LeaderboardEntry,
            "models_leaderboard",
            order=(("rank", False),),
            limit=_check_limit(limit),
        )

    def performance_summary(self, limit: int | None = DEFAULT_LIMIT) -> list[SessionSummary]:
        """Every session with its summary (best/final metrics, losses, speed), newest first.

        Example::

            rows = client.performance_summary(limit=20)
        """
        return self._rows(
            SessionSummary,
            "training_performance_summary",
            order=(("created_at", True), ("id", False)),
            limit=_check_limit(limit),
        )

    # -- other tables -----------------------------------------------------------------------

    def benchmarks(self, session_id: UUID | str | None = None) -> list[ModelBenchmark]:
        """Inference benchmarks, fastest first; only one session's when ``session_id`` is given.

        Example::

            fastest = client.benchmarks(session_id)[0]
        """
        filters = {"session_id": _session_id(session_id)} if session_id is not None else None
        return self._rows(
            ModelBenchmark,
            "model_benchmarks",
            filters=filters,
            order=(("avg_inference_ms", False), ("created_at", False)),
        )

    def datasets(self) -> list[TrainingDataset]:
        """Registered datasets, by name.

        Example::

            names = [d.name for d in client.datasets()]
        """
        return self._rows(TrainingDataset, "training_datasets", order=(("name", False),))

    def hyperparameter_runs(self) -> list[HyperparameterRun]:
        """Hyperparameter searches, newest first.

        Example::

            for run in client.hyperparameter_runs():
                print(run.name, run.trials_completed, run.best_value)
        """
        return self._rows(
            HyperparameterRun,
            "hyperparameter_runs",
            order=(("created_at", True), ("id", False)),
        )


__all__ = ["Client"]
