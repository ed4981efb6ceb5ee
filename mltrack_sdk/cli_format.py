"""What the read commands share: the database option, the client, and how values look in tables.

Only typer and the standard library are imported at module level, so ``mltrack --help`` stays
fast; rich, the SDK's client and its models are imported when a command runs.

Example::

    with open_client(database_url) as client:
        table = new_table("Sessions", ("id", {}), ("mAP50-95", RIGHT))
        table.add_row(str(s.id), number(s.best_map50_95))
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mltrack_sdk.config import DATABASE_URL_ENV

if TYPE_CHECKING:
    from pydantic import BaseModel
    from rich.console import Console
    from rich.table import Table

    from mltrack_sdk.client import Client

DatabaseUrlOption = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help=f"Postgres URL (default: ${DATABASE_URL_ENV}, Supabase settings, or `mltrack up`).",
        show_default=False,
    ),
]

JsonOption = Annotated[
    bool, typer.Option("--json", help="Print JSON (shapes: docs/cli.md) instead of a table.")
]

#: Column options for a right-aligned number column.
RIGHT: dict[str, Any] = {"justify": "right", "no_wrap": True}
#: Column options for a name: the columns that wrap when the terminal is narrow (rich narrows
#: wrapping columns first, so ids and numbers stay whole).
NAME: dict[str, Any] = {"overflow": "fold", "min_width": 6}
#: Column options for an id, a status or a time: never wrapped.
FIXED: dict[str, Any] = {"no_wrap": True}

#: How a session status looks in a table.
STATUS_STYLES = {
    "pending": "dim",
    "running": "cyan",
    "completed": "green",
    "failed": "red",
    "cancelled": "yellow",
}

#: Trophies for the top three of the leaderboard.
TROPHIES = {1: "🥇", 2: "🥈", 3: "🥉"}

EMPTY = "-"


def open_client(database_url: str | None) -> Client:
    """A :class:`~mltrack_sdk.client.Client` for ``--database-url`` (else the configuration)."""
    from mltrack_sdk.client import Client

    return Client(database_url=database_url)


def console() -> Console:
    """A stdout console made per command, so width and colour follow this invocation."""
    from rich.console import Console

    return Console(highlight=False)


def new_table(title: str | None, *columns: tuple[str, Mapping[str, Any]]) -> Table:
    """A rich table with the given ``(header, column options)`` columns."""
    from rich import box
    from rich.table import Table

    table = Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    for header, options in columns:
        table.add_column(header, **options)
    return table


def fitted_table(
    out: Console,
    title: str | None,
    columns: Sequence[tuple[str, Mapping[str, Any]]],
    rows: Iterable[Sequence[str]],
    optional: Sequence[str] = (),
) -> Table:
    """A table of ``rows`` that fits ``out``'s width: the ``optional`` columns (headers, the
    first dropped first) are left out while the table cannot fit, so a narrow terminal shows
    fewer columns instead of squeezing each to nothing."""
    rows = [list(row) for row in rows]
    dropped: set[str] = set()
    while True:
        keep = [i for i, (header, _) in enumerate(columns) if header not in dropped]
        table = new_table(title, *(columns[i] for i in keep))
        for row in rows:
            table.add_row(*(row[i] for i in keep))
        left = [header for header in optional if header not in dropped]
        if not left or _narrowest(table) <= out.width:
            return table
        dropped.add(left[0])


def _narrowest(table: Table) -> int:
    """The least width ``table`` needs: each column at its longest word, or its longest cell
    when it does not wrap (rich's own measure ignores ``no_wrap``)."""
    from rich.cells import cell_len
    from rich.text import Text

    total = 0
    for column in table.columns:
        widest = column.min_width or 0
        for cell in (column.header, *column.cells):
            plain = Text.from_markup(cell).plain if isinstance(cell, str) else str(cell)
            words = [plain] if column.no_wrap else plain.split()
            widest = max(widest, *(cell_len(word) for word in words or [""]))
        total += widest
    count = len(table.columns)
    # Between two columns: one space of padding (collapsed) and the separator; an edge at each end.
    return total + 2 * (count - 1) + 2


def print_rows(
    rows: Sequence[BaseModel],
    json_output: bool,
    empty: str,
    table: Callable[[Console, Any], Table],
) -> None:
    """What a list command prints: ``rows`` as JSON, ``empty`` when there are none, else
    ``table(console, rows)``."""
    from mltrack_sdk.cli import print_json

    if json_output:
        print_json(as_json(rows))
        return
    out = console()
    if not rows:
        out.print(empty, markup=False)
        return
    out.print(table(out, rows))


def as_json(rows: Iterable[BaseModel]) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts (UUIDs and timestamps as text, the column names as keys)."""
    return [row.model_dump(mode="json") for row in rows]


def number(value: float | int | None, digits: int = 4) -> str:
    """``value`` with ``digits`` decimals (integers as they are), ``-`` when missing."""
    if value is None:
        return EMPTY
    if isinstance(value, int):
        return str(value)
    return f"{value:.{digits}f}"


def duration(seconds: float | None) -> str:
    """``2h 05m``, ``3m 07s`` or ``42s``; ``-`` when missing."""
    if seconds is None:
        return EMPTY
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def ago(value: datetime | None, now: datetime | None = None) -> str:
    """How long ago, briefly: ``just now``, ``5m ago``, ``3h ago``, ``2d ago``; the date after
    30 days; ``-`` when missing."""
    if value is None:
        return EMPTY
    seconds = ((now or datetime.now(value.tzinfo)) - value).total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            count = int(seconds // size)
            return (
                value.astimezone().strftime("%Y-%m-%d")
                if unit == "d" and count > 30
                else (f"{count}{unit} ago")
            )
    return "just now"


def timestamp(value: datetime | None) -> str:
    """Local time to the minute (``2026-05-01 14:03``); ``-`` when missing."""
    return EMPTY if value is None else value.astimezone().strftime("%Y-%m-%d %H:%M")


def status(value: str, reason: str | None = None) -> str:
    """The status as rich markup, coloured, with its reason when there is one."""
    from rich.markup import escape

    text = f"[{STATUS_STYLES.get(value, '')}]{value}[/]"
    return f"{text} ({escape(reason)})" if reason else text


def text(value: Any) -> str:
    """Any value as plain text for a table cell (markup escaped), ``-`` when missing."""
    from rich.markup import escape

    return EMPTY if value is None or value == "" else escape(str(value))


def epochs(done: int | None, planned: int | None) -> str:
    """``done/planned`` epochs."""
    return f"{done or 0}/{planned if planned is not None else '?'}"


def key_values(title: str, rows: Sequence[tuple[str, str]]) -> Table:
    """A two-column table of labels and values (the values may hold markup)."""
    table = new_table(title, ("", {"style": "bold", "no_wrap": True}), ("", {}))
    table.show_header = False
    for label, value in rows:
        table.add_row(label, value)
    return table
