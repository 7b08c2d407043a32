"""``create / list / inspect / update / delete repo``."""

from __future__ import annotations

from typing import Annotated

import typer

from loxo.cli import app
from loxo.cli.output import Raw, ago, human_size, print_fields, print_raw, print_table
from loxo.model.refs import RepoInfo

Name = Annotated[str, typer.Argument(help="Repo name: letters, digits, '-' and '_'.")]


@app.create.command("repo")
def create_repo(
    ctx: typer.Context,
    name: Name,
    description: Annotated[str, typer.Option("-d", "--description", help="What the repo holds.")] = "",
) -> None:
    """Create an empty repo."""
    app.client(ctx).create_repo(name, description)


@app.list_.command("repo")
def list_repo(ctx: typer.Context, raw: Raw = False) -> None:
    """List repos, newest first."""
    repos = app.client(ctx).list_repo()
    if raw:
        print_raw(repos)
        return
    print_table(
        ["NAME", "CREATED", "SIZE (MASTER)", "DESCRIPTION"],
        [[r.name, ago(r.created), human_size(r.size_bytes), r.description] for r in repos],
    )


@app.inspect.command("repo")
def inspect_repo(ctx: typer.Context, name: Name, raw: Raw = False) -> None:
    """Show one repo."""
    info = app.client(ctx).inspect_repo(name)
    if raw:
        print_raw(info)
        return
    print_fields(_fields(info))


def _fields(info: RepoInfo) -> list[tuple[str, str]]:
    return [
        ("Name", info.name),
        ("Description", info.description),
        ("Created", ago(info.created)),
        ("Size of HEAD on master", human_size(info.size_bytes)),
        ("Branches", ", ".join(info.branches)),
    ]


@app.update.command("repo")
def update_repo(
    ctx: typer.Context,
    name: Name,
    description: Annotated[str, typer.Option("-d", "--description", help="The new description.")],
) -> None:
    """Change a repo's description."""
    app.client(ctx).update_repo(name, description)


@app.delete.command("repo")
def delete_repo(
    ctx: typer.Context,
    name: Name,
    force: Annotated[bool, typer.Option("-f", "--force", help="Delete even if pipelines read it.")] = False,
) -> None:
    """Delete a repo with all its branches and commits."""
    app.client(ctx).delete_repo(name, force)
