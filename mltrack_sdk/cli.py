"""The ``mltrack`` command: a thin typer shell over the library.

Every command calls one library function and prints its result. A
:class:`~mltrack_sdk.errors.MltrackError` becomes one red line on stderr and exit
code 1 (a failed connection names the database URL it tried, password hidden); any
other exception is a bug and keeps its traceback. ``--json`` output goes through
:func:`print_json`, so every command prints JSON the same way.

Commands are grouped in sub-apps (``mltrack db ...``); a new group is a
``typer.Typer()`` added with ``app.add_typer(group, name=...)``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, TypeVar

import typer

from mltrack_sdk import __version__
from mltrack_sdk.cli_format import DatabaseUrlOption
from mltrack_sdk.config import DATABASE_URL_ENV
from mltrack_sdk.errors import MltrackError, is_connection_failure

if TYPE_CHECKING:
    from rich.console import Console

P = ParamSpec("P")
R = TypeVar("R")

app = typer.Typer(
    name="mltrack",
    help="Track training runs in Postgres/Supabase.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    # Plain (click) help and usage errors: typer's rich help imports rich's markdown and
    # traceback modules, which alone would take most of `mltrack --help`'s time budget.
    rich_markup_mode=None,
    context_settings={"max_content_width": 120},
)
db_app = typer.Typer(help="Work with a database given by URL.", no_args_is_help=True)
app.add_typer(db_app, name="db")


def _console(stderr: bool = False) -> Console:
    # Made per use so colour and width follow the environment of this invocation; imported
    # here so that `mltrack --help` does not load rich.
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, soft_wrap=True)


def echo(text: str, style: str | None = None) -> None:
    """Print one plain line on stdout (no rich markup interpretation)."""
    _console().print(text, style=style, markup=False)


DatabaseUrl = Annotated[
    str,
    typer.Option(
        "--database-url",
        envvar=DATABASE_URL_ENV,
        help=f"Postgres URL (or ${DATABASE_URL_ENV}).",
        show_default=False,
    ),
]


def print_json(value: Any) -> None:
    """Print ``value`` as indented JSON with sorted keys: plain text, never re-wrapped to the
    terminal's width, so a script can parse it (``--json`` of every command)::

        print_json([row.model_dump(mode="json") for row in rows])
    """
    import json

    typer.echo(json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False))


def redact_url(url: str) -> str:
    """``url`` with its password hidden (in the URL form and in ``password=...``).

    Example::

        redact_url("postgresql://me:secret@db:5432/x")  # postgresql://me:***@db:5432/x
    """
    for password in _passwords(url):
        url = url.replace(password, "***")
    return url


def _passwords(url: str) -> list[str]:
    import re

    found = re.findall(r"://[^:/?#@\s]*:([^@/?#]+)@", url)
    found += re.findall(r"(?i)\bpassword\s*=\s*('[^']*'|[^&\s]+)", url)
    # Longest first, so a password that contains another is replaced whole.
    return sorted({p for p in found if p.strip("'")}, key=len, reverse=True)


def _tried_url(database_url: Any) -> str | None:
    """The database a command connected to: its ``--database-url``, else the SDK's resolution
    (environment, Supabase settings, ``mltrack up``), password hidden."""
    if not isinstance(database_url, str) or not database_url:
        from mltrack_sdk.connect import resolve_target

        try:
            target = resolve_target()
        except MltrackError:
            return None
        database_url = target.database_url or target.supabase_url
    return redact_url(database_url) if database_url else None


def domain_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn MltrackError into one red line and exit code 1 (no traceback); a failed connection
    names the URL it tried (the command's ``database_url`` argument, else the configured one)."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except MltrackError as exc:
            line = "Error: " + " ".join(exc.message.split())
            given = kwargs.get("database_url")
            for password in _passwords(given) if isinstance(given, str) else ():
                line = line.replace(password, "***")  # a driver may quote the URL it refused
            if is_connection_failure(exc):
                tried = _tried_url(kwargs.get("database_url"))
                if tried and tried not in line:
                    line += f" (database: {tried})"
            _console(stderr=True).print(line, style="red", markup=False)
            raise typer.Exit(code=1) from None

    return wrapper


def _version(value: bool) -> None:
    if value:
        echo(f"mltrack {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Track training runs in Postgres/Supabase."""


def _connect_hint(url: str) -> None:
    echo(f"  psql '{url}'")
    echo(f"  export {DATABASE_URL_ENV}='{url}'")


@app.command()
@domain_errors
def up() -> None:
    """Start the local embedded Postgres (or reuse it) and apply migrations."""
    from mltrack_sdk import local

    state = local.up()
    if state.changed:
        echo(f"Started local Postgres in {state.pgdata}")
    else:
        echo("Local Postgres is already running.")
    if state.applied:
        echo(f"Applied {len(state.applied)} migration(s).")
    echo(state.url or "")
    echo("Connect with:")
    _connect_hint(state.url or "")


@app.command()
@domain_errors
def down() -> None:
    """Stop the local embedded Postgres."""
    from mltrack_sdk import local

    state = local.down()
    echo("Stopped local Postgres." if state.changed else "Local Postgres is not running.")


@app.command()
@domain_errors
def status() -> None:
    """Say whether the local embedded Postgres runs, and its URL."""
    from mltrack_sdk import local

    state = local.status()
    echo("running" if state.running else "stopped")
    if state.url:
        echo(state.url)


MigrationsDir = Annotated[
    Path | None,
    typer.Option(
        "--migrations-dir",
        help="Directory of <version>_<name>.sql files (default: the shipped migrations).",
        file_okay=False,
        show_default=False,
    ),
]


@db_app.command("migrate")
@domain_errors
def db_migrate(database_url: DatabaseUrl, migrations_dir: MigrationsDir = None) -> None:
    """Apply pending migrations to the database (bootstrapping plain Postgres first)."""
    from mltrack_sdk.migrate import migrate

    applied = migrate(database_url, migrations_dir)
    if not applied:
        echo("Nothing to apply: the database is up to date.")
        return
    for version in applied:
        echo(f"applied {version}")
    echo(f"Applied {len(applied)} migration(s).")


DeadLetters = Annotated[
    bool,
    typer.Option(
        "--dead-letters",
        help="Then retry the calls the database rejected (spool/dead-letter.jsonl), once their"
        " cause is fixed; those rejected again stay there, with the new message.",
    ),
]


@app.command()
@domain_errors
def sync(database_url: DatabaseUrlOption = None, dead_letters: DeadLetters = False) -> None:
    """Send the calls that runs spooled locally while the backend was unavailable."""
    from mltrack_sdk.connect import resolve_transport
    from mltrack_sdk.spool import Spool

    spool = Spool()
    transport = resolve_transport(database_url=database_url)
    try:
        result = spool.replay_all(transport)
        echo(f"Replayed {result.sent} call(s).")
        if result.dead:
            echo(
                f"{result.dead} call(s) were rejected by the database: see {spool.dead_letter_path}"
            )
        if result.malformed:
            echo(
                f"{result.malformed} malformed spool record(s) could not be replayed:"
                f" see {spool.dead_letter_path}"
            )
        for message in result.errors or []:
            echo(f"  {' '.join(message.split())}")
        if dead_letters:
            retried = spool.retry_dead_letters(transport)
            echo(f"Retried dead letters: {retried.sent} sent, {retried.dead} rejected again.")
            for message in retried.errors or []:
                echo(f"  {' '.join(message.split())}")
            if retried.dead:
                echo(f"Kept in {spool.dead_letter_path}")
            if retried.malformed:
                echo(
                    f"{retried.malformed} malformed dead letter(s) kept in {spool.dead_letter_path}"
                )
    finally:
        transport.close()


from mltrack_sdk.cli_benchmark import register as register_benchmark  # noqa: E402

register_benchmark(app)

from mltrack_sdk.cli_sweep import register as register_sweep  # noqa: E402

register_sweep(app)

from mltrack_sdk.cli_train import register as register_train  # noqa: E402

register_train(app)

from mltrack_sdk.cli_demo import register as register_demo  # noqa: E402

register_demo(app)

from mltrack_sdk.cli_metrics import register as register_metrics  # noqa: E402
from mltrack_sdk.cli_results import register as register_results  # noqa: E402
from mltrack_sdk.cli_sessions import register as register_sessions  # noqa: E402
from mltrack_sdk.cli_watch import register as register_watch  # noqa: E402

register_sessions(app)
register_metrics(app)
register_results(app)
register_watch(app)

from mltrack_sdk.cli_api import register as register_api  # noqa: E402

register_api(app)

from mltrack_sdk.cli_dashboard import register as register_dashboard  # noqa: E402

register_dashboard(app)

if __name__ == "__main__":
    app()
