"""``mltrack watch``: running sessions as live progress bars, moved on by the change feed.

One bar per running session (epochs done of planned, latest loss and mAP50-95, ETA). Nothing is
polled: the view is read again only when :func:`mltrack_sdk.live.change_feed` reports a change
(a logged epoch, a heartbeat, a status change). Sessions that start while watching get a bar;
sessions that end keep theirs with their final status. With ids, only those sessions are
watched and the command ends when all of them have ended (like ``gh run watch``). Ctrl-C stops
watching cleanly (exit code 0).

Example::

    mltrack watch                       # every running session, until Ctrl-C
    mltrack watch 6f1c0a2e-...          # until that session ends
    mltrack watch --once                # print the progress once and exit
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated, Any
from uuid import UUID

import typer

from mltrack_sdk.cli_format import DatabaseUrlOption

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress, TaskID

    from mltrack_sdk.client import Client
    from mltrack_sdk.live import ChangeFeed
    from mltrack_sdk.models import ActiveSession, TrainingSession

#: Tables whose changes move the bars on.
WATCHED_TABLES = ("training_sessions", "training_metrics")
#: After a change, further changes within this many seconds are taken in the same read.
SETTLE_SECONDS = 0.1
#: How long to wait for the feed to listen before the first full read.
READY_TIMEOUT = 10.0


def register(app: typer.Typer) -> None:
    """Add ``watch`` to ``app``."""
    # Imported here: mltrack_sdk.cli imports this module at its end to register the command.
    from mltrack_sdk.cli import domain_errors

    app.command("watch")(domain_errors(watch_command))


def watch_command(
    session_ids: Annotated[
        list[UUID] | None,
        typer.Argument(
            metavar="IDS",
            help="Watch only these sessions, until all of them have ended.",
            show_default=False,
        ),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout", min=0, help="Stop watching after this many seconds.", show_default=False
        ),
    ] = None,
    once: Annotated[
        bool, typer.Option("--once", help="Print the progress once and exit (no live view).")
    ] = False,
    database_url: DatabaseUrlOption = None,
) -> None:
    """Live progress bars of running sessions, moved on by changes in the database."""
    from mltrack_sdk.cli_format import console, open_client

    out = console()
    only = [str(sid) for sid in dict.fromkeys(session_ids or [])] or None
    try:
        with open_client(database_url) as client:
            watcher = Watcher(client, out, only)
            # The first read fails fast (one red line) when the database is unreachable.
            watcher.refresh(announce=not once)
            if once or watcher.done:  # asked for once, or every session given has ended
                watcher.show()
                return
            from mltrack_sdk.live import change_feed

            with change_feed(database_url, tables=WATCHED_TABLES) as feed:
                feed.wait_ready(READY_TIMEOUT)
                watch(watcher, feed, timeout)
    except KeyboardInterrupt:
        out.print("Stopped watching.", markup=False)


def watch(watcher: Watcher, feed: ChangeFeed, timeout: float | None = None) -> None:
    """Show ``watcher``'s bars live, reading again after each batch of changes from ``feed``,
    until the watched sessions have ended, ``timeout`` seconds passed, or Ctrl-C."""
    deadline = None if timeout is None else time.monotonic() + timeout
    with watcher.progress:
        watcher.refresh()
        if not watcher.tasks and watcher.only is None:
            watcher.say("No running sessions: waiting for one to start (Ctrl-C to stop).")
        while not watcher.done:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                break
            # The one-second wake-up only checks the deadline; the database is read on changes.
            if feed.get(timeout=1.0 if left is None else min(1.0, left)) is None:
                continue
            while feed.get(timeout=SETTLE_SECONDS) is not None:
                pass
            watcher.refresh()


class Watcher:
    """The bars of the watched sessions, read from the ``active_training_sessions`` view.

    ``only``: the ids to watch (an unknown one raises ``NotFoundError``); ``None``: every
    running session, including those that start later.
    """

    def __init__(self, client: Client, out: Console, only: list[str] | None = None) -> None:
        self.client = client
        self.only = only
        self.progress = new_progress(out)
        self.tasks: dict[str, TaskID] = {}
        self.ended: dict[str, str] = {}
        #: How many times the view was read (once at the start, then once per batch of changes).
        self.reads = 0

    @property
    def done(self) -> bool:
        """True once every session given by id has ended."""
        return self.only is not None and all(sid in self.ended for sid in self.only)

    def say(self, line: str) -> None:
        """Print a line above the bars."""
        self.progress.console.print(line, markup=False)

    def show(self) -> None:
        """Print the bars once (a snapshot), or say that nothing runs."""
        if not self.tasks:
            self.say("No running sessions.")
            return
        with self.progress:
            pass  # starting and stopping the live view prints it once

    def refresh(self, announce: bool = True) -> None:
        """Read the running sessions again and move the bars on; sessions that left the view
        get their final status."""
        self.reads += 1
        active = {str(a.id): a for a in self.client.active_sessions()}
        if self.only is not None:
            active = {sid: a for sid, a in active.items() if sid in self.only}
        for sid, row in active.items():
            self._update(sid, row, announce)
        missing = [sid for sid in self.tasks if sid not in active and sid not in self.ended]
        missing += [sid for sid in self.only or () if sid not in active and sid not in self.tasks]
        for sid in missing:
            self._settle(self.client.session(sid).session, announce)

    def _update(self, sid: str, row: ActiveSession, announce: bool) -> None:
        fields = {
            "epoch": f"epoch {row.epochs_completed}/{row.epochs or '?'}",
            "loss": _value(_loss(row)),
            "map": _value(row.map50_95),
            "state": _eta(row.eta_seconds) if not row.stop_requested else "stopping",
        }
        if sid not in self.tasks:
            self.tasks[sid] = self.progress.add_task(
                row.session_name or sid, total=row.epochs or None, **fields
            )
            if announce:
                self.say(f"{row.session_name or 'session'} ({sid}) is running.")
        self.progress.update(
            self.tasks[sid], completed=row.epochs_completed, total=row.epochs or None, **fields
        )

    def _settle(self, session: TrainingSession, announce: bool) -> None:
        """A watched session that is not running: show its state (and remember a final one)."""
        sid = str(session.id)
        fields = {
            "epoch": f"epoch {session.epochs_completed}/{session.epochs or '?'}",
            "loss": _value(session.final_loss),
            "map": _value(session.final_map50_95),
            "state": session.status,
        }
        if sid not in self.tasks:
            self.tasks[sid] = self.progress.add_task(
                session.session_name or sid, total=session.epochs or None, **fields
            )
        self.progress.update(self.tasks[sid], completed=session.epochs_completed, **fields)
        if session.status in ("completed", "failed", "cancelled"):
            self.ended[sid] = session.status
            if announce:
                reason = f": {session.status_reason}" if session.status_reason else ""
                self.say(f"{session.session_name or 'session'} ({sid}) {session.status}{reason}")


def new_progress(out: Console) -> Progress:
    """One line per session: name, bar, epochs, loss, mAP50-95, ETA or final status."""
    from rich.progress import BarColumn, Progress, TextColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[epoch]}"),
        TextColumn("loss {task.fields[loss]}"),
        TextColumn("mAP50-95 {task.fields[map]}"),
        TextColumn("{task.fields[state]}"),
        console=out,
        auto_refresh=True,
        refresh_per_second=4,
    )


def _loss(row: ActiveSession) -> float | None:
    """The latest total loss; the sum of the box, cls and dfl losses when no total was logged."""
    if row.total_loss is not None:
        return row.total_loss
    parts = [v for v in (row.box_loss, row.cls_loss, row.dfl_loss) if v is not None]
    return sum(parts) if parts else None


def _value(value: Any) -> str:
    return "-" if value is None else f"{value:.4f}"


def _eta(seconds: float | None) -> str:
    from mltrack_sdk.cli_format import duration

    return "running" if seconds is None else f"ETA {duration(seconds)}"
