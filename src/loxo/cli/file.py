"""``list / glob / diff / inspect / copy / delete / walk file`` (put and get: ``transfer``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated

import typer

import loxo
from loxo.cli import app
from loxo.cli.output import NoWait, Raw, human_size, print_fields, print_line, print_raw, print_table
from loxo.errors import PipelineNotFound
from loxo.model.refs import FileInfo, FileKind

FileRef = Annotated[str, typer.Argument(metavar="REPO@REF:PATH", help="A file: repo@branch:/path.")]
DirRef = Annotated[
    str, typer.Argument(metavar="REPO@REF[:PATH]", help="A commit, and a directory in it (default /).")
]


def _name(info: FileInfo) -> str:
    if info.kind is FileKind.DIR and info.path != "/":
        return info.path + "/"
    return info.path


def print_files(files: Iterable[FileInfo]) -> None:
    """The ``NAME TYPE SIZE`` table of pachctl's list, glob and walk."""
    print_table(
        ["NAME", "TYPE", "SIZE"], [[_name(f), f.kind.value, human_size(f.size_bytes)] for f in files]
    )


def _show(files: list[FileInfo], raw: bool) -> None:
    if raw:
        print_raw(files)
    else:
        print_files(files)


@app.list_.command("file")
def list_file(ctx: typer.Context, ref: DirRef, raw: Raw = False) -> None:
    """List a directory's children (or one file)."""
    _show(app.client(ctx).list_file(ref), raw)


@app.glob.command("file")
def glob_file(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(metavar="REPO@REF:PATTERN", help="e.g. images@master:/*")],
    raw: Raw = False,
) -> None:
    """Show what a glob pattern matches, as a pipeline input would see it."""
    _show(app.client(ctx).glob_file(ref), raw)


@app.walk.command("file")
def walk_file(ctx: typer.Context, ref: DirRef, raw: Raw = False) -> None:
    """Every directory and file at or below a path, depth first."""
    _show(list(app.client(ctx).walk_file(ref)), raw)


@app.inspect.command("file")
def inspect_file(ctx: typer.Context, ref: FileRef, raw: Raw = False) -> None:
    """Show one file or directory; for a pipeline's output file, the job, datum and exact
    input files that made it."""
    client = app.client(ctx, wait=False)
    info = client.inspect_file(ref)
    if raw:
        print_raw(info)
        return
    print_fields([
        ("Path", info.path),
        ("Commit", f"{info.repo}@{info.commit}"),
        ("Type", info.kind.value),
        ("Size", human_size(info.size_bytes)),
        ("Hash", info.hash),
    ])
    if info.kind is FileKind.FILE and _is_pipeline(client, info.repo):
        lineage = client.lineage(f"{info.repo}@{info.commit}:{info.path}")
        print_fields([("Job", f"{lineage.pipeline}@{lineage.job}"), ("Datum", lineage.datum)])
        print_line("Inputs:")
        for item in lineage.inputs:
            print_line(f"  {item['repo']}@{item['commit']}:{item['path']} {item['hash']}")


def _is_pipeline(client: loxo.ClientBase, repo: str) -> bool:
    try:
        client.inspect_pipeline(repo)
    except PipelineNotFound:
        return False
    return True


@app.diff.command("file")
def diff_file(
    ctx: typer.Context,
    new: Annotated[str, typer.Argument(metavar="NEW", help="repo@ref[:path], the newer side.")],
    old: Annotated[
        str | None, typer.Argument(metavar="OLD", help="The older side (default: NEW's parent commit).")
    ] = None,
    name_only: Annotated[
        bool, typer.Option("--name-only", help="Only the paths: + new/changed, - removed.")
    ] = False,
    raw: Raw = False,
) -> None:
    """Files that are new or changed in NEW, and files removed since OLD."""
    pairs = app.client(ctx).diff_file(new, old)
    if raw:
        print_raw([{"new": n, "old": o} for n, o in pairs])
        return
    added = [n for n, _ in pairs if n is not None]
    removed = [o for n, o in pairs if n is None and o is not None]
    if name_only:
        for info in added:
            print_line(f"+ {info.path}")
        for info in removed:
            print_line(f"- {info.path}")
        return
    if added:
        print_line("New Files:")
        print_files(added)
    if removed:
        if added:
            print_line("")
        print_line("Removed Files:")
        print_files(removed)


@app.copy.command("file")
def copy_file(
    ctx: typer.Context,
    src: Annotated[str, typer.Argument(metavar="SRC", help="repo@ref:path to copy from.")],
    dst: Annotated[str, typer.Argument(metavar="DST", help="repo@branch:path to copy to.")],
    append: Annotated[
        bool, typer.Option("-a", "--append", help="Append to DST instead of replacing.")
    ] = False,
    no_wait: NoWait = False,
) -> None:
    """Copy a file or directory by reference (no data is copied)."""
    app.client(ctx, wait=not no_wait).copy_file(src, dst, append=append)


@app.delete.command("file")
def delete_file(ctx: typer.Context, ref: FileRef, no_wait: NoWait = False) -> None:
    """Delete a file or a whole directory (a new commit, or in the open commit)."""
    app.client(ctx, wait=not no_wait).delete_file(ref)
