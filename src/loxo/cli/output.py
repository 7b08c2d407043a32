"""How the CLI shows things: tables, ``Key: value`` blocks, sizes, times and ``--raw`` JSON.

Sizes and ages are formatted the way pachctl does (docker's go-units): binary units
with four significant digits (``4.308KiB``) and rough ages (``About a minute ago``).
"""

from __future__ import annotations

import dataclasses
import enum
import io
import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

Raw = Annotated[bool, typer.Option("--raw", help="Print the records as JSON instead of a table.")]
NoWait = Annotated[
    bool, typer.Option("--no-wait", help="Only record the change: the next command that waits runs its jobs.")
]

_UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")
_WIDE = 100_000  # when not on a terminal, never wrap or cut a table


def human_size(size: float) -> str:
    """``139B``, ``4.308KiB``, ``1.2MiB``: binary units, four significant digits."""
    unit = 0
    while size >= 1024 and unit < len(_UNITS) - 1:
        size /= 1024
        unit += 1
    return f"{size:.4g}{_UNITS[unit]}"


def human_duration(seconds: float) -> str:
    """A rough duration, as docker and pachctl print it (``3 seconds``, ``About an hour``)."""
    whole = int(seconds)
    if whole < 1:
        return "Less than a second"
    if whole == 1:
        return "1 second"
    if whole < 60:
        return f"{whole} seconds"
    minutes = whole // 60
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(seconds / 3600 + 0.5)  # rounded to the nearest hour, like Go's Round
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{whole // 3600 // 24 // 365} years"


def ago(when: datetime | None, now: datetime | None = None) -> str:
    """``3 seconds ago``; ``-`` for no time at all (an open commit's finish)."""
    if when is None:
        return "-"
    current = now if now is not None else datetime.now(UTC)
    return f"{human_duration((current - when).total_seconds())} ago"


def datum_progress(processed: int, skipped: int, total: int) -> str:
    """pachctl's PROGRESS column: ``processed + skipped / total`` (failed datums count in
    the total only)."""
    return f"{processed} + {skipped} / {total}"


def elapsed(start: datetime | None, end: datetime | None) -> str:
    """How long something took (``2 seconds``); ``-`` while it has not ended."""
    if start is None or end is None:
        return "-"
    return human_duration((end - start).total_seconds())


def seconds(value: float) -> str:
    """A short measured time: ``0.259s``, ``12.3s``, ``950s``."""
    if value < 0.0005:
        return "0s"
    return f"{value:.3g}s" if value < 100 else f"{value:.0f}s"


# -- JSON ---------------------------------------------------------------------------------
def plain(value: Any) -> Any:
    """Records as JSON-ready data: dataclasses to dicts, datetimes ISO-8601, enums values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    return value


def print_raw(value: Any) -> None:
    """One record (or a list of them) as indented JSON on stdout."""
    typer.echo(json.dumps(plain(value), indent=2))


def print_json_line(value: Any) -> None:
    """One record as compact JSON on one line (a stream of records: JSON Lines)."""
    typer.echo(json.dumps(plain(value), separators=(",", ":")))


# -- text -----------------------------------------------------------------------------------
def print_table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> None:
    """A plain table with pachctl's column names: no boxes, bold header on a terminal.

    Like pachctl's tab-aligned output it is never cut to the terminal's width: ids and
    paths are printed whole, and a long line wraps in the terminal instead.
    """
    table = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    for header in headers:
        table.add_column(header, no_wrap=True)
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))
    on_terminal = Console().is_terminal
    buffer = io.StringIO()
    Console(
        file=buffer, width=_WIDE, highlight=False, force_terminal=on_terminal,
        color_system="standard" if on_terminal else None,
    ).print(table)
    for line in buffer.getvalue().splitlines():
        typer.echo(line.rstrip(), color=on_terminal)


def print_fields(fields: Sequence[tuple[str, str]]) -> None:
    """A ``Key: value`` block, like pachctl's inspect commands."""
    for key, value in fields:
        typer.echo(f"{key}: {value}".rstrip())


def print_line(text: str) -> None:
    typer.echo(text)


def write_bytes(chunks: Iterable[bytes]) -> None:
    """Raw bytes to stdout (``get file``), with nothing added."""
    out = typer.get_binary_stream("stdout")
    for chunk in chunks:
        out.write(chunk)
    out.flush()


def warn(text: str) -> None:
    """One line on stderr."""
    typer.echo(text, err=True)
