"""One call on the wire at a time, on a helper thread, so the writer can take and encode the next
batch meanwhile: the database works while Python encodes, instead of each waiting on the other.

Only one call is ever in flight, and the writer waits for its answer (committed, or failed)
before the next one starts: a session's calls reach the database one after another, in order,
exactly as when the writer sent them itself. The thread is a daemon: a call blocked on a hung
link cannot keep the process from exiting (finish() hands the calls over meanwhile, see
:mod:`mltrack_sdk.custody`).

Example::

    sender = InFlight("mltrack-send-1234abcd")
    job = sender.start(transport.rpc, "heartbeat", {"session_id": sid})
    ...                       # fill the next batch
    result = job.result()     # the answer, or the exception the call raised
    sender.stop()
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any


class Job:
    """A call handed to :class:`InFlight`; :meth:`result` waits for it."""

    __slots__ = ("_args", "_done", "_error", "_fn", "_value")

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self._fn, self._args = fn, args
        self._done = threading.Event()
        self._value: Any = None
        self._error: BaseException | None = None

    def _run(self) -> None:
        try:
            self._value = self._fn(*self._args)
        except BaseException as exc:  # re-raised on the caller's thread by result()
            self._error = exc
        finally:
            self._done.set()

    def result(self) -> Any:
        """The call's return value; raises what the call raised."""
        self._done.wait()
        if self._error is not None:
            raise self._error
        return self._value


class InFlight:
    """A helper thread that runs the calls given to :meth:`start`, one at a time, in order."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._jobs: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def start(self, fn: Callable[..., Any], *args: Any) -> Job:
        """Run ``fn(*args)`` on the helper thread (started on first use)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
            self._thread.start()
        job = Job(fn, args)
        self._jobs.put(job)
        return job

    def stop(self) -> None:
        """End the helper thread once its call (if any) returns."""
        if self._thread is not None:
            self._jobs.put(None)
            self._thread = None

    def _loop(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            job._run()
