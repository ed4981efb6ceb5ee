"""The dashboard's in-process store, kept current by one change feed.

One :class:`LiveStore` per server process (the app keeps it in ``st.cache_resource``) holds
what the pages show: every session, the running ones with their latest epochs, the leaderboard,
hyperparameter runs and datasets. Its thread reads a :class:`mltrack_sdk.live.ChangeFeed` and
re-reads only what a change names (the changed sessions, the new epochs of a session, the
leaderboard when a run ended); pages read :attr:`LiveStore.snapshot` and never query the
database on a timer. When the feed's connection drops, the store says so, and when it is back
it reads everything again and keeps a note of what changed while it was away::

    from mltrack_sdk import Client
    from mltrack_sdk.live import change_feed
    from dashboard.store import LiveStore

    store = LiveStore(Client(database_url=url), lambda: change_feed(url))
    store.wait_synced(10)
    print(store.snapshot.state, len(store.snapshot.sessions))
    store.close()
"""

from __future__ import annotations

import collections
import dataclasses
import logging
import threading
import time
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from dashboard.changes import merge_epochs, plan_changes
from dashboard.data import TERMINAL, describe_changes
from dashboard.snapshot import RECENT_EPOCHS, ConnectionState, Snapshot
from mltrack_sdk.errors import MltrackError
from mltrack_sdk.live import FeedClosed
from mltrack_sdk.models import (
    ActiveSession,
    EpochMetrics,
    SessionDetail,
    TrainingSession,
)

if TYPE_CHECKING:
    from mltrack_sdk.client import Client
    from mltrack_sdk.live import Change, ChangeFeed

log = logging.getLogger(__name__)

T = TypeVar("T")


class LiveStore:
    """See the module docstring. ``open_feed`` makes a started change feed (called again after
    the feed failed for good); ``client`` does every read. ``offline_after``: seconds without a
    connection before ``reconnecting`` becomes ``offline``; ``retry_max``: the longest wait
    between attempts to read or to open the feed again."""

    def __init__(
        self,
        client: Client,
        open_feed: Callable[[], ChangeFeed],
        *,
        offline_after: float = 5.0,
        retry_max: float = 5.0,
        detail_cache: int = 32,
    ) -> None:
        self.client = client
        self._open_feed = open_feed
        self.offline_after = offline_after
        self.retry_max = retry_max
        self._snapshot = Snapshot()
        self._feed: ChangeFeed | None = None
        self._stop = threading.Event()
        self._synced = threading.Event()
        self._lock = threading.RLock()
        self._details: collections.OrderedDict[str, SessionDetail] = collections.OrderedDict()
        self._detail_cache = detail_cache
        self._memo: collections.OrderedDict[Hashable, tuple[Hashable, Any]] = (
            collections.OrderedDict()
        )
        self._thread = threading.Thread(target=self._run, name="mltrack-dashboard", daemon=True)
        self._thread.start()

    # -- what pages read ------------------------------------------------------------------

    @property
    def snapshot(self) -> Snapshot:
        """The current :class:`Snapshot` (an immutable value: read it once per render)."""
        return self._snapshot

    def wait_synced(self, timeout: float | None = None) -> bool:
        """Block until everything was read once; False on a timeout."""
        return self._synced.wait(timeout)

    def detail(self, session_id: str) -> SessionDetail:
        """A session with its metrics, validation results and benchmarks: read once when first
        asked for, then kept current by the feed (the last ``detail_cache`` sessions asked for).
        Raises the SDK's errors (e.g. :class:`~mltrack_sdk.errors.DatabaseUnreachableError`)."""
        with self._lock:
            found = self._details.get(session_id)
            if found is not None:
                self._details.move_to_end(session_id)
                return found
        scope = f"session:{session_id}"
        seen = self._snapshot.version(scope)
        detail = self.client.session(session_id)
        with self._lock:
            # Kept only when no change of it came in while it was read (else: read next time).
            if self._snapshot.version(scope) == seen:
                self._details[session_id] = detail
                while len(self._details) > self._detail_cache:
                    self._details.popitem(last=False)
        return detail

    def memo(self, key: Hashable, version: Hashable, build: Callable[[], T]) -> T:
        """``build()`` once per ``version`` of ``key`` (e.g. a table built from the snapshot),
        shared by every viewer of this process."""
        with self._lock:
            found = self._memo.get(key)
            if found is not None and found[0] == version:
                self._memo.move_to_end(key)
                return found[1]  # type: ignore[no-any-return]
        value = build()
        with self._lock:
            self._memo[key] = (version, value)
            while len(self._memo) > 64:
                self._memo.popitem(last=False)
        return value

    def request_stop(
        self, session_id: str, reason: str = "stop requested from the dashboard"
    ) -> None:
        """Ask a running session to stop after its current epoch (``request_stop``); the
        change comes back through the feed."""
        self.client.request_stop(session_id, reason=reason)

    def close(self) -> None:
        """Stop the thread and the feed, and close the client."""
        self._stop.set()
        self._thread.join(15)
        try:
            self.client.close()
        except MltrackError as exc:
            log.warning("dashboard: closing the database client failed: %s", exc)

    # -- the thread -----------------------------------------------------------------------

    def _set(self, **changes: Any) -> None:
        self._snapshot = dataclasses.replace(self._snapshot, **changes)

    def _publish(self, **read: Any) -> None:
        """A snapshot of what was just read: the connection works."""
        self._set(state="live", error=None, changed_at=time.time(), **read)

    def _run(self) -> None:
        try:
            self._loop()
        except Exception as exc:  # a bug: keep the page up and say what happened
            log.exception("dashboard: the live store stopped")
            self._set(state="offline", error=f"the live store stopped: {type(exc).__name__}: {exc}")
        finally:
            if self._feed is not None:
                self._feed.close()

    def _loop(self) -> None:
        backoff, lost_at, needs_sync = 0.5, time.monotonic(), True
        while not self._stop.is_set():
            if self._feed is None:
                try:
                    self._feed = self._open_feed()
                except MltrackError as exc:
                    self._set(state="offline", error=exc.message)
                    self._stop.wait(backoff)
                    backoff = min(backoff * 2, self.retry_max)
                    continue
            if self._feed.wait_ready(0):
                if needs_sync:
                    try:
                        self._sync(reconnect=self._snapshot.synced)
                    except MltrackError as exc:
                        self._set(state="offline", error=exc.message)
                        self._stop.wait(backoff)
                        backoff = min(backoff * 2, self.retry_max)
                        continue
                    needs_sync, backoff = False, 0.5
            elif not needs_sync or self._snapshot.state == "connecting":
                # The feed's connection is down (or not up yet): everything is read again
                # when it is back.
                if not needs_sync:
                    lost_at = time.monotonic()
                needs_sync = True
                self._set(state="reconnecting" if self._snapshot.synced else "connecting")
            waited = time.monotonic() - lost_at
            if needs_sync and waited > self.offline_after and self._snapshot.state != "offline":
                self._set(
                    state="offline",
                    error=self._snapshot.error or "no connection to the database",
                )
            try:
                change = self._feed.get(timeout=0.25)
            except FeedClosed:
                return
            except MltrackError as exc:  # the source gave up (e.g. a refused subscription)
                self._set(state="offline", error=exc.message)
                self._feed.close()
                self._feed, needs_sync = None, True
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self.retry_max)
                continue
            if change is None or needs_sync:
                continue  # what changed before the (re)sync is in what it reads
            batch = [change]
            while len(batch) < 2000 and (more := self._feed.get(timeout=0)) is not None:
                batch.append(more)
            try:
                self._apply(batch)
            except MltrackError as exc:
                self._set(state="offline", error=exc.message)
                needs_sync, lost_at = True, time.monotonic()

    # -- reading ----------------------------------------------------------------------------

    def _sync(self, *, reconnect: bool) -> None:
        """Read everything; after a reconnect, note what changed while away."""
        before = self._snapshot
        sessions = {str(s.id): s for s in self.client.sessions(limit=None)}
        active = self._read_active(None)
        recent = {sid: self._recent(sid, row) for sid, (row, _) in active.items()}
        leaderboard = tuple(self.client.leaderboard())
        runs = tuple(self.client.hyperparameter_runs())
        datasets = tuple(self.client.datasets())
        with self._lock:
            self._details.clear()
        versions = {k: v + 1 for k, v in before.versions.items()}
        for scope in ("sessions", "history", "active", "leaderboard", "runs", "datasets"):
            versions[scope] = versions.get(scope, 0) + 1
        changes: dict[str, Any] = {}
        if reconnect:
            changes = {
                "away_notes": tuple(describe_changes(before.sessions, sessions)),
                "reconnected_at": time.time(),
            }
        self._publish(
            synced=True,
            sessions=sessions,
            active=active,
            recent_metrics=recent,
            leaderboard=leaderboard,
            runs=runs,
            datasets=datasets,
            versions=versions,
            **changes,
        )
        self._synced.set()

    def _read_active(self, ids: Iterable[str] | None) -> dict[str, tuple[ActiveSession, float]]:
        rows = self.client.active_sessions(ids=None if ids is None else list(ids))
        now = time.monotonic()
        return {str(r.id): (r, now) for r in rows}

    def _recent(self, session_id: str, row: ActiveSession) -> tuple[EpochMetrics, ...]:
        last = row.latest_epoch
        if last is None:
            return ()
        first = max(0, last - RECENT_EPOCHS + 1)
        return tuple(self.client.metrics(session_id, epochs=range(first, last + 1)))

    def _apply(self, batch: list[Change]) -> None:
        """Re-read what ``batch`` names and publish a new snapshot."""
        snap = self._snapshot
        plan = plan_changes(batch)
        delivered, to_read, deleted = plan.delivered, plan.to_read, plan.deleted
        epochs, epoch_rows = plan.epochs, plan.epoch_rows
        read = self.client.sessions(ids=to_read - delivered.keys(), limit=None)
        fresh = {**{str(s.id): s for s in read}, **delivered}
        # A named session that is not there any more was deleted.
        deleted |= (to_read - fresh.keys()) - delivered.keys()
        changed = set(fresh) | deleted
        if not changed and not plan.runs_changed and not plan.datasets_changed:
            return

        sessions = dict(snap.sessions)
        for sid in deleted:
            sessions.pop(sid, None)
        new_first = {sid: s for sid, s in fresh.items() if sid not in sessions}
        sessions.update({sid: s for sid, s in fresh.items() if sid in sessions})
        sessions = {**new_first, **sessions} if new_first else sessions

        # Epoch rows the feed only named are read once, for the cards and the open details.
        with self._lock:
            wanted = {sid for sid in epochs if sid in snap.active or sid in self._details}
        wanted |= {sid for sid, s in fresh.items() if s.status == "running"}
        for sid in wanted & epochs.keys():
            epoch_rows[sid].extend(self.client.metrics(sid, epochs=epochs[sid]))

        active, recent, active_moved = self._next_active(snap, fresh, deleted, epoch_rows)
        self._update_details(fresh, deleted, epoch_rows, plan.reread_details)

        versions = dict(snap.versions)

        def bump(scope: str) -> None:
            versions[scope] = versions.get(scope, 0) + 1

        bump("sessions")
        for sid in changed:
            bump(f"session:{sid}")
        if any(
            s.status in TERMINAL or (sid in snap.sessions and snap.sessions[sid].status in TERMINAL)
            for sid, s in fresh.items()
        ) or (deleted & snap.sessions.keys()):
            bump("history")
        if active_moved:
            bump("active")
        board = snap.leaderboard
        listed = {str(e.id) for e in board}
        if any(s.status == "completed" for s in fresh.values()) or (changed & listed):
            board = tuple(self.client.leaderboard())
            if board != snap.leaderboard:
                bump("leaderboard")
        runs = snap.runs
        if plan.runs_changed or any(s.hyperparameter_run_id for s in fresh.values()):
            runs = tuple(self.client.hyperparameter_runs())
            bump("runs")
        datasets = snap.datasets
        if plan.datasets_changed:
            datasets = tuple(self.client.datasets())
            bump("datasets")
        notes: dict[str, Any] = {}
        if plan.caught_up:
            before = {sid: snap.sessions[sid] for sid in plan.caught_up if sid in snap.sessions}
            after = {sid: sessions[sid] for sid in plan.caught_up if sid in sessions}
            notes = {
                "away_notes": tuple(describe_changes(before, after)),
                "reconnected_at": time.time(),
            }
        self._publish(
            sessions=sessions,
            active=active,
            recent_metrics=recent,
            leaderboard=board,
            runs=runs,
            datasets=datasets,
            versions=versions,
            **notes,
        )

    def _next_active(
        self,
        snap: Snapshot,
        fresh: Mapping[str, TrainingSession],
        deleted: set[str],
        epoch_rows: Mapping[str, list[EpochMetrics]],
    ) -> tuple[dict[str, tuple[ActiveSession, float]], dict[str, tuple[EpochMetrics, ...]], bool]:
        """The running sessions after a change: the changed ones read again from the view."""
        active = dict(snap.active)
        recent = dict(snap.recent_metrics)
        running = {sid for sid, s in fresh.items() if s.status == "running"}
        ended = (set(fresh) - running) | deleted
        moved = bool(ended & active.keys())
        for sid in ended:
            active.pop(sid, None)
            recent.pop(sid, None)
        if running:
            read = self._read_active(running)
            moved = moved or bool(read) or bool(running & active.keys())
            for sid in running - read.keys():
                active.pop(sid, None)
                recent.pop(sid, None)
            for sid, (row, at) in read.items():
                if sid not in recent:
                    recent[sid] = self._recent(sid, row)
                elif epoch_rows.get(sid):
                    recent[sid] = merge_epochs(recent[sid], epoch_rows[sid])[-RECENT_EPOCHS:]
                active[sid] = (row, at)
        # Most recently started first, as the view orders them.
        ordered = sorted(
            active.items(),
            key=lambda kv: kv[1][0].started_at.timestamp() if kv[1][0].started_at else 0.0,
            reverse=True,
        )
        return dict(ordered), recent, moved

    def _update_details(
        self,
        fresh: Mapping[str, TrainingSession],
        deleted: set[str],
        epoch_rows: Mapping[str, list[EpochMetrics]],
        reread: set[str],
    ) -> None:
        with self._lock:
            for sid in list(self._details):
                if sid in deleted or sid in reread:
                    del self._details[sid]  # read again when next asked for
                elif sid in fresh:
                    detail = self._details[sid]
                    metrics = merge_epochs(detail.metrics, epoch_rows.get(sid, ()))
                    self._details[sid] = detail.model_copy(
                        update={"session": fresh[sid], "metrics": metrics}
                    )


__all__ = ["RECENT_EPOCHS", "ConnectionState", "LiveStore", "Snapshot"]
