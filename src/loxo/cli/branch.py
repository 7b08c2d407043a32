"""``create / list / inspect / delete branch``."""

from __future__ import annotations

from typing import Annotated

import typer

from loxo.cli import app
from loxo.cli.output import Raw, ago, print_fields, print_raw, print_table
from loxo.model.address import parse_branch
from loxo.model.refs import BranchInfo

BranchArg = Annotated[str, typer.Argument(metavar="REPO@BRANCH", help="The branch, as repo@branch.")]


@app.create.command("branch")
def create_branch(
    ctx: typer.Context,
    branch: BranchArg,
    head: Annotated[
        str | None,
        typer.Option(
            "--head",
            metavar="REPO@COMMIT",
            help="Point the branch at this commit (repo@commit, or a commit or branch of the same repo).",
        ),
    ] = None,
) -> None:
    """Create a branch (empty, or at --head); with --head on an existing branch, move it."""
    target = parse_branch(branch)
    if head is not None and "@" not in head:
        head = f"{target.repo}@{head}"
    app.client(ctx).create_branch(target, head)


@app.list_.command("branch")
def list_branch(
    ctx: typer.Context,
    repo: Annotated[str, typer.Argument(help="The repo whose branches to list.")],
    raw: Raw = False,
) -> None:
    """List a repo's branches and their heads."""
    branches = app.client(ctx).list_branch(repo)
    if raw:
        print_raw(branches)
        return
    print_table(["BRANCH", "HEAD"], [[b.name, b.head or "-"] for b in branches])


@app.inspect.command("branch")
def inspect_branch(ctx: typer.Context, branch: BranchArg, raw: Raw = False) -> None:
    """Show one branch."""
    info = app.client(ctx).inspect_branch(branch)
    if raw:
        print_raw(info)
        return
    print_fields(_fields(info))


def _fields(info: BranchInfo) -> list[tuple[str, str]]:
    return [
        ("Name", f"{info.repo}@{info.name}"),
        ("Head Commit", f"{info.repo}@{info.head}" if info.head else "-"),
        ("Open Commit", f"{info.repo}@{info.open_commit}" if info.open_commit else "-"),
        ("Created", ago(info.created)),
    ]


@app.delete.command("branch")
def delete_branch(ctx: typer.Context, branch: BranchArg) -> None:
    """Delete a branch; its commits stay reachable by id."""
    app.client(ctx).delete_branch(branch)
