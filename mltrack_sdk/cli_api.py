"""``mltrack api``: serve the seed's REST API on this machine until Ctrl-C.

A thin shell over :class:`mltrack_sdk.api_server.ApiServer`: it checks that the database
answers and holds mltrack's schema, starts the ``training-api`` function under Deno on
127.0.0.1, and stops it on Ctrl-C.

Example::

    mltrack api --port 5000
    curl http://localhost:5000/api/training/sessions
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from mltrack_sdk.api_server import JWT_SECRET_ENV
from mltrack_sdk.config import DATABASE_URL_ENV


def register(app: typer.Typer) -> None:
    """Add the ``api`` command to ``app`` (the ``mltrack`` CLI)."""
    # Imported here: mltrack_sdk.cli imports this module at its end to register the command.
    from mltrack_sdk.cli import domain_errors

    app.command("api")(domain_errors(api_command))


def _where(database_url: str) -> str:
    """``user@host:port/dbname`` of a URL: enough to recognise it, never its password."""
    from psycopg.conninfo import conninfo_to_dict

    info = conninfo_to_dict(database_url)
    host = str(info.get("host") or "localhost")
    port = f":{info['port']}" if info.get("port") else ""
    return f"{info.get('user') or ''}@{host}{port}/{info.get('dbname') or ''}".lstrip("@")


def check_database(database_url: str) -> None:
    """Raise a one-line error when the database does not answer or lacks mltrack's schema."""
    import psycopg

    from mltrack_sdk.errors import DatabaseUnreachableError, NotConfiguredError

    try:
        with psycopg.connect(database_url, connect_timeout=5) as conn:
            row = conn.execute(
                "select to_regprocedure('public.log_epochs(uuid, jsonb)')"
            ).fetchone()
    except psycopg.OperationalError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DatabaseUnreachableError(
            f"cannot connect to the database {_where(database_url)}: {first}"
        ) from exc
    if row is None or row[0] is None:
        raise NotConfiguredError(
            f"the database {_where(database_url)} has no mltrack schema: run"
            " `mltrack db migrate --database-url ...` first"
        )


def api_command(
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="Port on 127.0.0.1 (0: any free).")
    ] = 5000,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            help=f"Postgres URL (default: ${DATABASE_URL_ENV}, or `mltrack up`'s database).",
            show_default=False,
        ),
    ] = None,
    jwt_secret: Annotated[
        str | None,
        typer.Option(
            "--jwt-secret",
            envvar=JWT_SECRET_ENV,
            help="The project's JWT secret, to verify bearer tokens (without it only requests"
            " without a token are served).",
            show_default=False,
        ),
    ] = None,
    require_token: Annotated[
        bool,
        typer.Option(
            "--require-token",
            help="Serve as deployed: a request without a bearer token is refused (401).",
        ),
    ] = False,
) -> None:
    """Serve the REST API (/api/training/...) on 127.0.0.1 with Deno; a request without a
    token acts as the local service role."""
    from mltrack_sdk.api_server import ApiServer
    from mltrack_sdk.cli import echo
    from mltrack_sdk.connect import resolve_target
    from mltrack_sdk.errors import NotConfiguredError

    target = resolve_target(database_url)
    if not target.database_url:
        raise NotConfiguredError(
            "mltrack api connects to Postgres directly: pass --database-url (on Supabase, the"
            " project's connection string), or set MLTRACK_DATABASE_URL"
        )
    check_database(target.database_url)
    server = ApiServer(
        target.database_url,
        port=port,
        jwt_secret=jwt_secret,
        require_token=require_token,
        log=sys.stderr,
    ).start()
    echo(f"Serving the training API on {server.url}/ (database {_where(target.database_url)})")
    if require_token:
        echo("Every request needs a bearer token signed with the JWT secret.")
    else:
        echo(
            "Requests without a token act as the service role"
            + ("; tokens are verified with the JWT secret." if jwt_secret else ".")
        )
    echo(f"OpenAPI document: {server.url}/openapi.json. Stop with Ctrl-C.")
    try:
        code = server.wait()
    except KeyboardInterrupt:
        server.stop()
        echo("Stopped.")
        return
    if code != 0:
        from mltrack_sdk.api_server import ApiServerError

        raise ApiServerError(f"the API server (deno) exited with code {code}")
