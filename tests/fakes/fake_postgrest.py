"""FAKE PostgREST for tests (the REST half of the fake Supabase), over a REAL Postgres database.

Not PostgREST. It stands at the HTTP boundary supabase-py talks to; behind it the SQL functions,
RLS, triggers and errors are the real migrated database's. It also holds the fake's JWTs, which
the Realtime half (:mod:`tests.fakes.fake_realtime`) checks the same way. What it implements:

- ``POST /rest/v1/rpc/<fn>``: named JSON args, cast to the function's parameter types the way
  PostgREST does (``json_to_record``), run in one transaction as the JWT's ``role`` with
  ``request.jwt.claims`` set. One row -> object, ``setof`` -> array, scalar -> value. Errors as
  ``{code, message, hint, details}``: 403 for 42501, 409 for 23xxx, 400 otherwise.
- ``GET /rest/v1/<relation>?select=*&col=eq.x&col=in.(a,b)&col=gt.x&order=col.desc&limit=n
  &offset=m``, capped at ``max_rows`` (1,000) rows like PostgREST, with ``Content-Range``.

Known gaps against the real thing: only ``select=*``, the filters above, the ``public`` schema.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any

import jwt
import psycopg
from aiohttp import web
from psycopg import sql

#: HS256 secret of the fake's JWTs (32+ bytes, so PyJWT does not warn).
JWT_SECRET = "fake-supabase-test-secret-not-for-production-use"
ROLES = ("anon", "authenticated", "service_role")
#: Supabase's per-role statement_timeout (service_role has none).
ROLE_STATEMENT_TIMEOUT = {"anon": "3s", "authenticated": "8s"}


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
    except jwt.ExpiredSignatureError as exc:
        # PostgREST 12+: an expired token has its own code, with the WWW-Authenticate error.
        raise HttpError(401, "PGRST303", "JWT expired") from exc
    except jwt.PyJWTError as exc:
        raise HttpError(401, "PGRST301", f"JWT invalid: {exc}") from exc
    if claims.get("role") not in ROLES:
        raise HttpError(401, "PGRST301", f"role {claims.get('role')!r} is not allowed")
    return dict(claims)


def request_claims(request: web.Request) -> dict[str, Any]:
    auth = request.headers.get("Authorization", "")
    token = auth[7:] if auth.lower().startswith("bearer ") else request.headers.get("apikey")
    return claims_of(token)


#: PostgREST's HTTP status for a SQLSTATE (longest prefix first); anything else is 400.
_STATUS = {
    "08": 503, "09": 500, "0L": 403, "0P": 403, "23503": 409, "23505": 409, "25006": 405,
    "25": 500, "28": 403, "2D": 500, "38": 500, "39": 500, "3B": 500, "40": 500, "53": 503,
    "54": 413, "55": 500, "57": 500, "58": 500, "F0": 500, "HV": 500, "P0001": 400, "P0": 500,
    "XX": 500, "42883": 404, "42P01": 404, "42P17": 500,
}  # fmt: skip


def status_for(sqlstate: str | None, role: str | None = None) -> int:
    """The status PostgREST answers with; 42501 is 401 for anon (no token), else 403."""
    code = sqlstate or "XX000"
    if code == "42501":
        return 401 if role == "anon" else 403
    return _STATUS.get(code, _STATUS.get(code[:2], 400))


def db_error(exc: psycopg.Error, role: str | None = None) -> web.Response:
    diag = exc.diag
    body = {
        "code": diag.sqlstate or "XX000",
        "message": diag.message_primary or str(exc),
        "hint": diag.message_hint,
        "details": diag.message_detail,
    }
    return web.json_response(body, status=status_for(diag.sqlstate, role))


async def as_role(conn: psycopg.AsyncConnection[Any], claims: dict[str, Any]) -> None:
    """What PostgREST does at the start of each request's transaction."""
    # PostgREST 12 sets only request.jwt.claims (the legacy request.jwt.claim.* are gone), then
    # the role, whose statement_timeout applies (Supabase: anon 3 s, authenticated 8 s).
    await conn.execute("select set_config('request.jwt.claims', %s, true)", (json.dumps(claims),))
    await conn.execute(sql.SQL("set local role {}").format(sql.Identifier(claims["role"])))
    timeout = ROLE_STATEMENT_TIMEOUT.get(claims["role"])
    if timeout:
        await conn.execute(sql.SQL("set local statement_timeout = {}").format(sql.Literal(timeout)))


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


#: PostgREST's ``max_rows`` (hosted Supabase's default and supabase/config.toml): no read
#: returns more rows, whatever its ``limit``.
MAX_ROWS = 1000


def select_query(
    relation: str, params: Any, max_rows: int = MAX_ROWS
) -> tuple[sql.Composed, list[Any], int]:
    """The query of a GET on ``relation``, its parameters, and its offset (for Content-Range)."""
    where: list[sql.Composable] = []
    values: list[Any] = []
    order: list[sql.Composable] = []
    limit: int | None = None
    offset = 0
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
        elif key == "offset":
            offset = int(raw)
        else:
            op, _, value = raw.partition(".")
            if op == "in" and not _in_values(value):
                where.append(sql.SQL("false"))  # in.() matches nothing, as on PostgREST
            elif op == "in":
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
    limit = max_rows if limit is None else min(limit, max_rows)
    query += sql.SQL(" limit {} offset {}").format(sql.Literal(limit), sql.Literal(offset))
    return query + sql.SQL(") _r"), values, offset


@dataclass
class FakePostgREST:
    """The fake's REST half over ``db_url``: ``rpc`` and ``select`` request handlers."""

    db_url: str
    max_rows: int = MAX_ROWS

    async def connect(self) -> psycopg.AsyncConnection[Any]:
        return await psycopg.AsyncConnection.connect(self.db_url)

    async def rpc(self, request: web.Request) -> web.StreamResponse:
        fn = request.match_info["fn"]
        claims: dict[str, Any] = {}
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
                    await as_role(conn, claims)
                    cur = await conn.execute(query, [json.dumps(body)] if body else [])
                    row = await cur.fetchone()
        except HttpError as exc:
            return exc.response()
        except psycopg.Error as exc:
            return db_error(exc, claims.get("role"))
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
            "       array(select format_type(t, null) from unnest(p.proargtypes) t), p.proretset,"
            "       p.pronargs - p.pronargdefaults"
            "  from pg_proc p join pg_namespace n on n.oid = p.pronamespace"
            " where n.nspname = 'public' and p.proname = %s",
            (fn,),
        )
        for names, types, returns_set, required in await cur.fetchall():
            # As PostgREST's schema cache: every argument known, every one without a default given.
            if given <= set(names[: len(types)]) and set(names[:required]) <= given:
                return names, dict(zip(names, types, strict=False)), returns_set
        raise HttpError(
            404,
            "PGRST202",
            f"Could not find the function public.{fn}"
            f"({', '.join(sorted(given))}) in the schema cache",
        )

    async def select(self, request: web.Request) -> web.StreamResponse:
        relation = request.match_info["relation"]
        claims: dict[str, Any] = {}
        try:
            claims = request_claims(request)
            query, values, offset = select_query(relation, request.query, self.max_rows)
            async with await self.connect() as conn, conn.transaction():
                await as_role(conn, claims)
                cur = await conn.execute(query, values)
                rows = [r[0] for r in await cur.fetchall()]
        except HttpError as exc:
            return exc.response()
        except psycopg.Error as exc:
            return db_error(exc, claims.get("role"))
        # As PostgREST: the range served, total unknown ("*") unless a count was asked for.
        served = f"{offset}-{offset + len(rows) - 1}" if rows else "*"
        return web.Response(
            text="[" + ",".join(rows) + "]",
            content_type="application/json",
            headers={"Content-Range": f"{served}/*"},
        )

    def add_routes(self, app: web.Application) -> None:
        """Route ``/rest/v1/rpc/<fn>`` and ``/rest/v1/<relation>`` of ``app`` here."""
        app.router.add_post("/rest/v1/rpc/{fn}", self.rpc)
        app.router.add_get("/rest/v1/{relation}", self.select)
