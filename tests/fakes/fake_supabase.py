"""FAKE Supabase for tests: just enough PostgREST and Realtime, over a REAL Postgres database.

Not Supabase. A hosted project cannot run here, so this fake stands at the HTTP/WebSocket boundary
that supabase-py talks to, and everything behind it is the real migrated database: the SQL
functions, RLS, triggers and errors are the ones a Supabase project runs. What it implements:

- ``POST /rest/v1/rpc/<fn>``: named JSON args, cast to the function's parameter types the way
  PostgREST does (``json_to_record``), run in one transaction as the JWT's ``role`` with
  ``request.jwt.claims`` set. One row -> object, ``setof`` -> array, scalar -> value. Errors as
  ``{code, message, hint, details}``: 403 for 42501, 409 for 23xxx, 400 otherwise.
- ``GET /rest/v1/<relation>?select=*&col=eq.x&col=in.(a,b)&col=gt.x&order=col.desc&limit=n``.
- ``GET /realtime/v1/websocket?apikey=...&vsn=1.0.0``: Phoenix JSON frames; ``phx_join`` with
  ``config.postgres_changes`` is answered with the bindings and integer ids, ``heartbeat`` on
  topic ``phoenix`` with an ok reply; changes come from ``LISTEN mltrack_changes`` and each row is
  read back as the subscriber's role (so RLS applies, as on Supabase).

Known gaps against the real thing: ``old_record`` carries only the key columns; a deleted row's
``record`` is empty; ``commit_timestamp`` is the time the fake read the row; filters on bindings
are ignored; only the ``public`` schema.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import itertools
import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import jwt
import psycopg
from aiohttp import WSMsgType, web
from psycopg import sql

#: HS256 secret of the fake's JWTs (32+ bytes, so PyJWT does not warn).
JWT_SECRET = "fake-supabase-test-secret-not-for-production-use"
ROLES = ("anon", "authenticated", "service_role")


def make_key(role: str, sub: str | None = None, *, expires_in: int = 3600) -> str:
    """A JWT the fake accepts as API key or access token (``role`` claim, ``sub`` for a user)."""
    now = int(time.time())
    claims: dict[str, Any] = {"role": role, "iss": "fake-supabase", "iat": now}
    claims["exp"] = now + expires_in
    if sub is not None:
        claims["sub"] = sub
    return jwt.encode(claims, JWT_SECRET, algorithm="HS256")


class HttpError(Exception):
    def __init__(self, status: int, code: str, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.hint = status, code, message, hint

    def response(self) -> web.Response:
        body = {"code": self.code, "message": self.message, "hint": self.hint, "details": None}
        return web.json_response(body, status=self.status)


def claims_of(token: str | None) -> dict[str, Any]:
    if not token:
        raise HttpError(401, "PGRST302", "Anonymous access is disabled")
    try:
        claims = jwt.decode(token, JWT_SECRET, algorithms=["HS256"])
    except jwt.PyJWTError as exc:
        raise HttpError(401, "PGRST301", f"JWT invalid: {exc}") from exc
    if claims.get("role") not in ROLES:
        raise HttpError(401, "PGRST301", f"role {claims.get('role')!r} is not allowed")
    return dict(claims)


def request_claims(request: web.Request) -> dict[str, Any]:
    auth = request.headers.get("Authorization", "")
    token = auth[7:] if auth.lower().startswith("bearer ") else request.headers.get("apikey")
    return claims_of(token)


def status_for(sqlstate: str | None) -> int:
    if sqlstate == "42501":
        return 403
    if sqlstate and sqlstate.startswith("23"):
        return 409
    return 400


def db_error(exc: psycopg.Error) -> web.Response:
    diag = exc.diag
    body = {
        "code": diag.sqlstate or "XX000",
        "message": diag.message_primary or str(exc),
        "hint": diag.message_hint,
        "details": diag.message_detail,
    }
    return web.json_response(body, status=status_for(diag.sqlstate))


async def _as_role(conn: psycopg.AsyncConnection[Any], claims: dict[str, Any]) -> None:
    """What PostgREST does at the start of each request's transaction."""
    await conn.execute(
        "select set_config('request.jwt.claims', %s, true),"
        " set_config('request.jwt.claim.sub', %s, true),"
        " set_config('request.jwt.claim.role', %s, true)",
        (json.dumps(claims), claims.get("sub") or "", claims["role"]),
    )
    await conn.execute(sql.SQL("set local role {}").format(sql.Identifier(claims["role"])))


# --- PostgREST -----------------------------------------------------------------------------

FILTER_OPS = {"eq": "=", "neq": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<="}
IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")


def _ident(name: str) -> sql.Identifier:
    if not IDENT.match(name):
        raise HttpError(400, "PGRST100", f"unsupported name {name!r}")
    return sql.Identifier(name)


def _in_values(text: str) -> list[str]:
    if not (text.startswith("(") and text.endswith(")")):
        raise HttpError(400, "PGRST100", f"bad in list {text!r}")
    return [v[1:-1] if v.startswith('"') else v for v in text[1:-1].split(",") if v]


def select_query(relation: str, params: Any) -> tuple[sql.Composed, list[Any]]:
    where: list[sql.Composable] = []
    values: list[Any] = []
    order: list[sql.Composable] = []
    limit: int | None = None
    for key, raw in params.items():
        if key == "select":
            if raw != "*":
                raise HttpError(400, "PGRST100", "the fake supports select=* only")
        elif key == "order":
            for item in raw.split(","):
                column, *mods = item.split(".")
                parts = [_ident(column)]
                parts += [
                    sql.SQL(
                        {
                            "desc": "desc",
                            "asc": "asc",
                            "nullsfirst": "nulls first",
                            "nullslast": "nulls last",
                        }[m]
                    )
                    for m in mods
                ]
                order.append(sql.SQL(" ").join(parts))
        elif key == "limit":
            limit = int(raw)
        else:
            op, _, value = raw.partition(".")
            if op == "in":
                items = _in_values(value)
                where.append(
                    sql.SQL("{} in ({})").format(
                        _ident(key), sql.SQL(", ").join(sql.Placeholder() * len(items))
                    )
                )
                values += items
            elif op == "is" and value == "null":
                where.append(sql.SQL("{} is null").format(_ident(key)))
            elif op in FILTER_OPS:
                where.append(
                    sql.SQL("{} " + FILTER_OPS[op] + " {}").format(_ident(key), sql.Placeholder())
                )
                values.append(value)
            else:
                raise HttpError(400, "PGRST100", f"the fake does not support {op!r}")
    query = sql.SQL("select to_json(_r)::text from (select * from public.{}").format(
        _ident(relation)
    )
    if where:
        query += sql.SQL(" where ") + sql.SQL(" and ").join(where)
    if order:
        query += sql.SQL(" order by ") + sql.SQL(", ").join(order)
    if limit is not None:
        query += sql.SQL(" limit {}").format(sql.Literal(limit))
    return query + sql.SQL(") _r"), values


@dataclass
class FakeSupabase:
    """The fake server over ``db_url``; ``url`` is its base (what ``create_client`` takes)."""

    db_url: str
    host: str = "127.0.0.1"
    port: int = 0
    #: While True, Realtime connections are refused with 503 (a test of reconnects).
    refuse_realtime: bool = False
    _sockets: set[Subscriber] = field(default_factory=set)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    async def connect(self) -> psycopg.AsyncConnection[Any]:
        return await psycopg.AsyncConnection.connect(self.db_url)

    async def rpc(self, request: web.Request) -> web.StreamResponse:
        fn = request.match_info["fn"]
        try:
            claims = request_claims(request)
            body = await request.json() if request.can_read_body else {}
            if not isinstance(body, dict):
                raise HttpError(400, "PGRST102", "the body must be a JSON object")
            async with await self.connect() as conn:
                signature = await self._signature(conn, fn, set(body))
                _, types, returns_set = signature
                cols = sql.SQL(", ").join(
                    sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(types[n])) for n in body
                )
                named = sql.SQL(", ").join(
                    sql.SQL("{} => _args.{}").format(sql.Identifier(n), sql.Identifier(n))
                    for n in body
                )
                source = (
                    sql.SQL("json_to_record(%s::json) as _args({})").format(cols)
                    if body
                    else sql.SQL("(select) as _args")
                )
                query = sql.SQL(
                    "select coalesce(json_agg(_r), '[]'::json)::text"
                    " from {} cross join lateral public.{}({}) as _r"
                ).format(source, sql.Identifier(fn), named)
                async with conn.transaction():
                    await _as_role(conn, claims)
                    cur = await conn.execute(query, [json.dumps(body)] if body else [])
                    row = await cur.fetchone()
        except HttpError as exc:
            return exc.response()
        except psycopg.Error as exc:
            return db_error(exc)
        assert row is not None
        text = row[0]
        if not returns_set:
            rows = json.loads(text)
            text = json.dumps(rows[0] if rows else None)
        return web.Response(text=text, content_type="application/json")

    async def _signature(
        self, conn: psycopg.AsyncConnection[Any], fn: str, given: set[str]
    ) -> tuple[list[str], dict[str, str], bool]:
        cur = await conn.execute(
            "select coalesce(p.proargnames, '{}'), "
            "       array(select format_type(t, null) from unnest(p.proargtypes) t), p.proretset"
            "  from pg_proc p join pg_namespace n on n.oid = p.pronamespace"
            " where n.nspname = 'public' and p.proname = %s",
            (fn,),
        )
        for names, types, returns_set in await cur.fetchall():
            if given <= set(names[: len(types)]):
                return names, dict(zip(names, types, strict=False)), returns_set
        raise HttpError(
            404,
            "PGRST202",
            f"Could not find the function public.{fn}"
            f"({', '.join(sorted(given))}) in the schema cache",
        )

    async def select(self, request: web.Request) -> web.StreamResponse:
        relation = request.match_info["relation"]
        try:
            claims = request_claims(request)
            query, values = select_query(relation, request.query)
            async with await self.connect() as conn, conn.transaction():
                await _as_role(conn, claims)
                cur = await conn.execute(query, values)
                rows = [r[0] for r in await cur.fetchall()]
        except HttpError as exc:
            return exc.response()
        except psycopg.Error as exc:
            return db_error(exc)
        return web.Response(text="[" + ",".join(rows) + "]", content_type="application/json")

    # --- Realtime ----------------------------------------------------------------------------

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
            sub.topics[str(topic)] = bindings
            await reply("ok", {"postgres_changes": bindings})
        elif event == "phx_leave":
            sub.topics.pop(str(topic), None)
            await reply("ok", {})
        elif event == "access_token":
            with contextlib.suppress(HttpError):
                sub.claims = claims_of(payload.get("access_token"))

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
        if op == "DELETE":
            rows: list[dict[str, Any]] = [{}]
            columns: list[dict[str, str]] = []
        else:
            rows, columns = await self._read_rows(sub.claims, table, change)
        key = {k: change[k] for k in ("id",) if change.get(k) is not None}
        stamp = dt.datetime.now(dt.timezone.utc).isoformat().replace("+00:00", "Z")
        for topic in {t for t, _ in matching}:
            ids = [i for t, i in matching if t == topic]
            for row in rows:
                old = key or {k: row[k] for k in ("session_id", "epoch", "id") if k in row}
                data = {
                    "schema": "public",
                    "table": table,
                    "commit_timestamp": stamp,
                    "type": op,
                    "columns": columns,
                    "errors": None,
                    "record": row,
                    "old_record": old if op != "INSERT" else {},
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
                await _as_role(conn, claims)
                cur = await conn.execute(query, args)
                rows = [r[0] for r in await cur.fetchall()]
        return rows, columns

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/rest/v1/rpc/{fn}", self.rpc)
        app.router.add_get("/realtime/v1/websocket", self.websocket)
        app.router.add_get("/rest/v1/{relation}", self.select)
        return app

    async def drop_sockets(self) -> None:
        """Close every Realtime socket (a test of reconnects)."""
        for sub in list(self._sockets):
            await sub.ws.close()


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
