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

from mltrack_sdk.client_metrics import METRIC_FIELDS as METRIC_FIELDS
from mltrack_sdk.client_metrics import MetricReads, session_id_text
from mltrack_sdk.errors import InvalidValueError, NotFoundError
from mltrack_sdk.models import (
    ActiveSession,
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
from mltrack_sdk.rows import build_models, gc_paused, typed_columns

if TYPE_CHECKING:
    from mltrack_sdk.transports.base import Transport

M = TypeVar("M", bound=BaseModel)

#: The leaderboard view holds the top 50; asking for more returns those 50.
DEFAULT_LIMIT = 50


def _session_ids(ids: Collection[UUID | str]) -> list[str]:
    """Ids as text for an IN filter; a bare string is one id, not a collection of characters."""
    if isinstance(ids, str | UUID):
        return [session_id_text(ids)]
    return sorted({session_id_text(i) for i in ids})


def _check_limit(limit: int | None) -> int | None:
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise InvalidValueError(f"limit must be a positive integer (got {limit!r})", field="limit")
    return limit


class Client(MetricReads):
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
        sid = session_id_text(session_id)
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

    def request_stop(self, session_id: UUID | str, reason: str | None = None) -> TrainingSession:
        """Ask a running session to stop; its next heartbeat tells the training process.

        Returns the session as stored. Errors are the database's (e.g. ``NotFoundError``)::

            client.request_stop(session_id, reason="diverged")
        """
        args: dict[str, Any] = {"session_id": session_id_text(session_id)}
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
        filters = {"session_id": session_id_text(session_id)} if session_id is not None else None
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
