"""FAKE Supabase for tests: just enough PostgREST and Realtime, over a REAL Postgres database.

Not Supabase. A hosted project cannot run here, so this fake stands at the HTTP/WebSocket boundary
that supabase-py talks to, and everything behind it is the real migrated database: the SQL
functions, RLS, triggers and errors are the ones a Supabase project runs.

Its two halves, each documenting what it implements and its known gaps against the real thing:

- :mod:`tests.fakes.fake_postgrest`: ``POST /rest/v1/rpc/<fn>``, ``GET /rest/v1/<relation>``,
  and the fake's JWTs (:func:`make_key`);
- :mod:`tests.fakes.fake_realtime`: ``GET /realtime/v1/websocket`` (Phoenix frames,
  ``postgres_changes`` fed by ``LISTEN mltrack_changes``).

:class:`FakeSupabase` serves both on one port; :class:`RunningFake` runs it on a thread of its
own::

    fake = RunningFake(db_url)
    transport = SupabaseTransport(fake.url, make_key("service_role"))
    fake.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from dataclasses import dataclass, field
from typing import Any

import psycopg
from aiohttp import web

from tests.fakes.fake_postgrest import JWT_SECRET, FakePostgREST, make_key
from tests.fakes.fake_realtime import FakeRealtime


@dataclass
class FakeSupabase:
    """The fake server over ``db_url``; ``url`` is its base (what ``create_client`` takes)."""

    db_url: str
    host: str = "127.0.0.1"
    port: int = 0
    rest: FakePostgREST = field(init=False)
    realtime: FakeRealtime = field(init=False)

    def __post_init__(self) -> None:
        self.rest = FakePostgREST(self.db_url)
        self.realtime = FakeRealtime(self.db_url)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def refuse_realtime(self) -> bool:
        """While True, Realtime connections are refused with 503 (a test of reconnects)."""
        return self.realtime.refuse_realtime

    @refuse_realtime.setter
    def refuse_realtime(self, value: bool) -> None:
        self.realtime.refuse_realtime = value

    def app(self) -> web.Application:
        app = web.Application()
        self.rest.add_routes(app)
        self.realtime.add_routes(app)
        return app

    async def listen(self, ready: asyncio.Event) -> None:
        """Forward ``mltrack_changes`` notifications to the subscribed sockets."""
        await self.realtime.listen(ready)

    async def drop_sockets(self) -> None:
        """Close every Realtime socket (a test of reconnects)."""
        await self.realtime.drop_sockets()


class RunningFake:
    """A :class:`FakeSupabase` served from a thread of its own; ``stop()`` shuts it down."""

    def __init__(self, db_url: str) -> None:
        self.fake = FakeSupabase(db_url)
        self.loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._serve, name="fake-supabase", daemon=True)
        self._thread.start()
        if not self._started.wait(15):
            raise RuntimeError("the fake Supabase server did not start")
        if self._error is not None:
            raise RuntimeError("the fake Supabase server failed") from self._error

    @property
    def url(self) -> str:
        return self.fake.url

    def sign_up(self, user: str) -> str:
        """Make ``user`` a user of the project (a row of ``auth.users``, as Supabase Auth keeps
        it; owner_id references it) and return it: tokens with this ``sub`` may then write."""
        with psycopg.connect(self.fake.db_url, autocommit=True) as conn:
            conn.execute("insert into auth.users (id) values (%s) on conflict do nothing", (user,))
        return user

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._start())
        except BaseException as exc:
            self._error = exc
            self._started.set()
            return
        self._started.set()
        self.loop.run_forever()
        self.loop.run_until_complete(self._shutdown())
        self.loop.close()

    async def _start(self) -> None:
        self.runner = web.AppRunner(self.fake.app(), handle_signals=False)
        await self.runner.setup()
        site = web.TCPSite(self.runner, self.fake.host, 0)
        await site.start()
        server = site._server
        assert server is not None
        self.fake.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        ready = asyncio.Event()
        self.listener = asyncio.create_task(self.fake.listen(ready))
        await asyncio.wait_for(ready.wait(), 10)

    async def _shutdown(self) -> None:
        self.listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.listener
        await self.runner.cleanup()

    def call(self, coro: Any, timeout: float = 10) -> Any:
        """Run ``coro`` on the server's loop (e.g. ``fake.drop_sockets()``)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(15)


__all__ = ["JWT_SECRET", "FakeSupabase", "RunningFake", "make_key"]
