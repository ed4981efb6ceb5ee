"""The dashboard's in-process store, kept current by one change feed.

One :class:`LiveStore` per server process (the app keeps it in ``st.cache_resource``) holds
what the pages show: every session, the running ones with their latest epochs, the leaderboard,
hyperparameter runs and datasets. Its thread reads a :class:`mltrack_sdk.live.ChangeFeed` and
re-reads only what a change names (the changed sessions, the new epochs of a session, the
leaderboard when a run ended); pages read :attr:`LiveStore.snapshot` and never query the
database on a timer. When the feed's connection drops, the store says so, and when it is back
it reads everything again and keeps a note of what changed while it was away. How a batch of
changes is applied is :mod:`dashboard.store_apply`::

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
from collections.abc import Callable, Hashable
from typing import TYPE_CHECKING, Any, TypeVar

from dashboard.data import describe_changes
from dashboard.snapshot import RECENT_EPOCHS, ConnectionState, Snapshot
from dashboard.store_apply import ChangeApplication
from mltrack_sdk.errors import MltrackError
from mltrack_sdk.live import FeedClosed
from mltrack_sdk.models import SessionDetail

if TYPE_CHECKING:
    from mltrack_sdk.client import Client
    from mltrack_sdk.live import ChangeFeed

log = logging.getLogger(__name__)

T = TypeVar("T")


class LiveStore(ChangeApplication):
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


__all__ = ["RECENT_EPOCHS", "ConnectionState", "LiveStore", "Snapshot"]
