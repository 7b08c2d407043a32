"""``fsck`` and ``version``: looking after the store and the tool itself."""

from __future__ import annotations

from typing import Annotated

import typer

import loxo
from loxo.cli import app
from loxo.cli.output import Raw, print_line, print_raw


def fsck(
    ctx: typer.Context,
    fix: Annotated[bool, typer.Option("--fix", help="Remove leftovers of interrupted writes.")] = False,
    raw: Raw = False,
) -> None:
    """Check every object and reference; exit 1 if anything is broken (warnings do not count)."""
    problems = app.client(ctx).fsck(fix)
    if raw:
        print_raw(problems)
    elif not problems:
        print_line("no problems found")
    for p in problems if not raw else []:
        print_line(f"{p.severity}: {p.where}: {p.problem}")
    if any(p.severity == "error" for p in problems):
        raise typer.Exit(1)


def version(ctx: typer.Context) -> None:
    """Print the version of loxo (and of the server, with --address)."""
    state = ctx.find_root().obj
    if isinstance(state, app.State) and state.address:
        remote = app.client(ctx)
        assert isinstance(remote, loxo.RemoteClient)
        print_line(f"client: {loxo.__version__}")
        print_line(f"server: {remote.server_version()}")
        return
    print_line(loxo.__version__)
