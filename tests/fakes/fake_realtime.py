"""FAKE Supabase Realtime for tests (the WebSocket half of the fake Supabase), over REAL Postgres.

Not Supabase Realtime. It stands at the WebSocket boundary supabase-py talks to; the changes come
from the real database's triggers. What it implements:

- ``GET /realtime/v1/websocket?apikey=...&vsn=1.0.0``: Phoenix JSON frames; ``phx_join`` with
  ``config.postgres_changes`` is answered with the bindings and integer ids, ``heartbeat`` on
  topic ``phoenix`` with an ok reply; changes come from ``LISTEN mltrack_changes`` and each row is
  read back as the subscriber's role (so RLS applies, as on Supabase).

As on Supabase (replica identity default), ``old_record`` carries the primary key, and a DELETE
is one event per deleted row (training_metrics: ``session_id`` and ``epoch``).

Known gaps against the real thing: a deleted row's ``record`` is empty; deleting metrics rows
that are not contiguous epochs of a session raises (the notification names a range);
``commit_timestamp`` is the time the fake read the row; filters on bindings are ignored; only the
``public`` schema.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
from aiohttp import WSMsgType, web
from psycopg import sql

from tests.fakes.fake_postgrest import HttpError, as_role, claims_of


def primary_key(table: str, row: dict[str, Any]) -> dict[str, Any]:
    """The primary key columns of ``row``: what Realtime puts in ``old_record`` (replica
    identity default)."""
    names = ("session_id", "epoch") if table == "training_metrics" else ("id",)
    return {k: row[k] for k in names if k in row}


def deleted_keys(table: str, change: dict[str, Any]) -> list[dict[str, Any]]:
    """The primary keys of the rows a DELETE notification stands for. A metrics notification
    names the epochs as a range and a count: exact when the deleted epochs are contiguous (a
    session deleted, a run cut back), and then one key per epoch, as Realtime sends."""
    if table != "training_metrics":
        return [{"id": change["id"]}] if change.get("id") is not None else []
    low, high, count = change["min_epoch"], change["max_epoch"], change["count"]
    if high - low + 1 != count:
        raise NotImplementedError(
            f"fake Realtime: {count} metrics rows deleted between epochs {low} and {high}"
            " (not contiguous): the notification does not say which"
        )
    return [{"session_id": change["session_id"], "epoch": e} for e in range(low, high + 1)]


@dataclass
class FakeRealtime:
    """The fake's Realtime half over ``db_url``: the socket handler and the change listener."""

    db_url: str
    #: While True, Realtime connections are refused with 503 (a test of reconnects).
    refuse_realtime: bool = False
    #: Realtime answers a join at once, then starts the Postgres subscription and says so in a
    #: ``system`` message ("Subscribed to PostgreSQL") after this delay; changes before it are
    #: not delivered, as on the real server.
    subscribe_delay: float = 0.3
    #: When set, the ``system`` message after the join is this error instead (a subscription
    #: Realtime cannot start: a table outside the publication, RLS, a bad filter).
    subscription_error: str | None = None
    _sockets: set[Subscriber] = field(default_factory=set)
    _tasks: set[asyncio.Future[None]] = field(default_factory=set)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    async def connect(self) -> psycopg.AsyncConnection[Any]:
        return await psycopg.AsyncConnection.connect(self.db_url)

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        if self.refuse_realtime:
            return web.json_response({"message": "unavailable (fake outage)"}, status=503)
        try:
            claims = claims_of(request.query.get("apikey"))
        except HttpError as exc:
            return exc.response()
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        sub = Subscriber(ws, claims)
        self._sockets.add(sub)
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                await self._on_frame(sub, json.loads(msg.data))
        finally:
            self._sockets.discard(sub)
        return ws

    async def _on_frame(self, sub: Subscriber, frame: dict[str, Any]) -> None:
        topic, event, payload = frame.get("topic"), frame.get("event"), frame.get("payload") or {}

        async def reply(status: str, response: dict[str, Any]) -> None:
            await sub.send(
                topic,
                "phx_reply",
                {"status": status, "response": response},
                ref=frame.get("ref"),
                join_ref=frame.get("join_ref"),
            )

        if event == "heartbeat":
            await reply("ok", {})
        elif event == "phx_join":
            try:
                if payload.get("access_token"):
                    sub.claims = claims_of(payload["access_token"])
            except HttpError as exc:
                await reply("error", {"reason": exc.message})
                return
            bindings = []
            for b in (payload.get("config") or {}).get("postgres_changes") or []:
                binding = {
                    "id": next(self._ids),
                    "event": b.get("event", "*"),
                    "schema": b.get("schema"),
                    "table": b.get("table"),
                }
                if b.get("filter"):
                    binding["filter"] = b["filter"]
                bindings.append(binding)
            await reply("ok", {"postgres_changes": bindings})
            task = asyncio.ensure_future(self._start_subscription(sub, str(topic), bindings))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        elif event == "phx_leave":
            sub.topics.pop(str(topic), None)
            await reply("ok", {})
        elif event == "access_token":
            with contextlib.suppress(HttpError):
                sub.claims = claims_of(payload.get("access_token"))

    async def _start_subscription(
        self, sub: Subscriber, topic: str, bindings: list[dict[str, Any]]
    ) -> None:
        await asyncio.sleep(self.subscribe_delay)
        channel = topic.removeprefix("realtime:")
        if self.subscription_error is not None:
            payload = {"status": "error", "message": self.subscription_error}
        else:
            sub.topics[topic] = bindings
            payload = {"status": "ok", "message": "Subscribed to PostgreSQL"}
        await sub.send(
            topic, "system", {**payload, "extension": "postgres_changes", "channel": channel}
        )

    async def listen(self, ready: asyncio.Event) -> None:
        """Forward ``mltrack_changes`` notifications to the subscribed sockets."""
        async with await psycopg.AsyncConnection.connect(self.db_url, autocommit=True) as conn:
            await conn.execute("listen mltrack_changes")
            ready.set()
            async for note in conn.notifies():
                change = json.loads(note.payload)
                for sub in list(self._sockets):
                    await self._deliver(sub, change)

    async def _deliver(self, sub: Subscriber, change: dict[str, Any]) -> None:
        table, op = change["table"], change["op"]
        matching = [
            (topic, b["id"])
            for topic, bindings in sub.topics.items()
            for b in bindings
            if b.get("table") == table
            and b.get("schema", "public") == "public"
            and b.get("event") in ("*", op)
        ]
        if not matching:
            return
        columns: list[dict[str, str]] = []
        if op == "DELETE":  # one event per deleted row, its primary key in old_record
            events = [({}, key) for key in deleted_keys(table, change)]
        else:
            rows, columns = await self._read_rows(sub.claims, table, change)
            events = [(row, {} if op == "INSERT" else primary_key(table, row)) for row in rows]
        stamp = dt.datetime.now(dt.timezone.utc).isoformat().replace("+00:00", "Z")
        for topic in {t for t, _ in matching}:
            ids = [i for t, i in matching if t == topic]
            for row, old in events:
                data = {
                    "schema": "public",
                    "table": table,
                    "commit_timestamp": stamp,
                    "type": op,
                    "columns": columns,
                    "errors": None,
                    "record": row,
                    "old_record": old,
                }
                await sub.send(topic, "postgres_changes", {"data": data, "ids": ids})

    async def _read_rows(
        self, claims: dict[str, Any], table: str, change: dict[str, Any]
    ) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
        if "id" in change and change["id"] is not None:
            where, args = sql.SQL("id = %s"), [change["id"]]
        elif table == "training_metrics":
            where = sql.SQL("session_id = %s and epoch between %s and %s")
            args = [change["session_id"], change["min_epoch"], change["max_epoch"]]
        else:  # validation_results: the session's latest rows
            where = sql.SQL("session_id = %s order by recorded_at desc limit %s")
            args = [change["session_id"], change.get("count", 1)]
        query = sql.SQL("select to_jsonb(t) from public.{} t where {}").format(
            sql.Identifier(table), where
        )
        async with await self.connect() as conn:
            cur = await conn.execute(
                "select attname::text, format_type(atttypid, atttypmod) from pg_attribute"
                " where attrelid = %s::regclass and attnum > 0 and not attisdropped"
                " order by attnum",
                (f"public.{table}",),
            )
            columns = [{"name": n, "type": t} for n, t in await cur.fetchall()]
            async with conn.transaction():
                await as_role(conn, claims)
                cur = await conn.execute(query, args)
                rows = [r[0] for r in await cur.fetchall()]
        return rows, columns

    async def drop_sockets(self) -> None:
        """Close every Realtime socket (a test of reconnects)."""
        for sub in list(self._sockets):
            await sub.ws.close()

    def add_routes(self, app: web.Application) -> None:
        """Route ``/realtime/v1/websocket`` of ``app`` here."""
        app.router.add_get("/realtime/v1/websocket", self.websocket)


@dataclass(eq=False)
class Subscriber:
    ws: web.WebSocketResponse
    claims: dict[str, Any]
    topics: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    async def send(
        self,
        topic: Any,
        event: str,
        payload: dict[str, Any],
        *,
        ref: Any = None,
        join_ref: Any = None,
    ) -> None:
        frame = {"topic": topic, "event": event, "payload": payload, "ref": ref}
        if join_ref is not None:
            frame["join_ref"] = join_ref
        if not self.ws.closed:
            await self.ws.send_str(json.dumps(frame, default=str))
