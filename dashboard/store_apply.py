"""How :class:`~dashboard.store.LiveStore` applies a batch of changes (a mixin): re-read what
the batch names - the changed sessions, the new epochs of a running or open session, the
running sessions from the active view, the leaderboard when a run ended - and publish the next
snapshot with the version of each scope that moved bumped, so pages redraw only what changed::

    class LiveStore(ChangeApplication):
        ...
        self._apply(changes)  # on the store's thread, after the feed delivered ``changes``
"""

from __future__ import annotations

import collections
import contextlib
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from dashboard.changes import merge_epochs, plan_changes
from dashboard.data import TERMINAL, describe_changes
from dashboard.snapshot import RECENT_EPOCHS, Snapshot
from mltrack_sdk.models import ActiveSession, EpochMetrics, SessionDetail, TrainingSession

if TYPE_CHECKING:
    from mltrack_sdk.client import Client
    from mltrack_sdk.live import Change


class ChangeApplication:
    """The batch application of :class:`~dashboard.store.LiveStore`; it uses the store's
    client, snapshot, open details (under its lock) and ``_publish``."""

    client: Client
    _snapshot: Snapshot
    _lock: contextlib.AbstractContextManager[Any]
    _details: collections.OrderedDict[str, SessionDetail]

    def _publish(self, **read: Any) -> None:
        raise NotImplementedError

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

    def _recent_after(
        self,
        session_id: str,
        row: ActiveSession,
        rows: tuple[EpochMetrics, ...],
        new: list[EpochMetrics] | None,
    ) -> tuple[EpochMetrics, ...]:
        """A card's recent epochs ``rows`` with the ``new`` ones the feed brought, and those up
        to the card's latest epoch that it has not brought yet (the view, read now, can be ahead
        of the feed: the epochs' change comes in a later batch), read here: a card and its
        recent epochs always agree."""
        merged = merge_epochs(rows, new) if new else rows
        last = row.latest_epoch
        known = merged[-1].epoch if merged else -1
        if last is not None and last > known:
            first = max(known + 1, last - RECENT_EPOCHS + 1)
            merged = merge_epochs(
                merged, self.client.metrics(session_id, epochs=range(first, last + 1))
            )
        return merged[-RECENT_EPOCHS:]

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
                else:
                    recent[sid] = self._recent_after(sid, row, recent[sid], epoch_rows.get(sid))
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
            open_now = {sid: d.metrics for sid, d in self._details.items() if sid in fresh}
        # A session read ahead of the feed (its epochs' change comes in a later batch): the
        # epochs up to its current one are read here, so that a detail and its session agree.
        late: dict[str, list[EpochMetrics]] = {}
        for sid, metrics in open_now.items():
            if sid in deleted or sid in reread:
                continue
            # A detail's metrics are in epoch order (merge_epochs): its last is its latest.
            last = metrics[-1].epoch if metrics else -1
            known = max([last, *(m.epoch for m in epoch_rows.get(sid, ()))])
            current = fresh[sid].current_epoch
            if current is not None and current > known:
                late[sid] = self.client.metrics(sid, epochs=range(known + 1, current + 1))
        with self._lock:
            for sid in list(self._details):
                if sid in deleted or sid in reread:
                    del self._details[sid]  # read again when next asked for
                elif sid in fresh:
                    detail = self._details[sid]
                    new = [*epoch_rows.get(sid, ()), *late.get(sid, ())]
                    metrics = merge_epochs(detail.metrics, new)
                    self._details[sid] = detail.model_copy(
                        update={"session": fresh[sid], "metrics": metrics}
                    )


__all__ = ["ChangeApplication"]
