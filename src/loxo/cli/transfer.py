"""``put file`` and ``get file``: moving bytes between the local disk and a repo."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Annotated

import typer

import loxo
from loxo.cli import app
from loxo.cli.output import NoWait, write_bytes
from loxo.cli.progress import measure_local, transfer_bar
from loxo.client.sources import is_url, listing_entries, url_name
from loxo.model.address import join_path, parse_file
from loxo.model.refs import FileKind

STDIN = "-"


@app.put.command("file")
def put_file(
    ctx: typer.Context,
    ref: Annotated[
        str, typer.Argument(metavar="REPO@BRANCH[:PATH]", help="Where to put: a branch or open commit.")
    ],
    files: Annotated[
        list[str] | None,
        typer.Option("-f", "--file", help="A local file, directory (-r), URL, or '-' for stdin. Repeatable."),
    ] = None,
    recursive: Annotated[
        bool, typer.Option("-r", "--recursive", help="Put directories recursively.")
    ] = False,
    input_file: Annotated[
        str | None, typer.Option("-i", "--input-file", help="A file listing paths or URLs, one a line.")
    ] = None,
    untar: Annotated[bool, typer.Option("--untar", help="Expand .tar/.tar.gz/.tgz into files.")] = False,
    append: Annotated[bool, typer.Option("-a", "--append", help="Append to existing files.")] = False,
    overwrite: Annotated[
        bool, typer.Option("-o", "--overwrite", help="Replace existing files (the default).")
    ] = False,
    parallelism: Annotated[
        int, typer.Option("-p", "--parallelism", min=1, help="Files read at once.")
    ] = 8,
    message: Annotated[str, typer.Option("-m", "--message", help="Description of the new commit.")] = "",
    no_wait: NoWait = False,
) -> None:
    """Put files, directories, URLs or stdin into a repo: all in ONE commit, then run the
    jobs it triggers."""
    if append and overwrite:
        raise typer.BadParameter("choose one of --append and --overwrite", param_hint="-a/-o")
    target = parse_file(ref)
    entries = list(files or [])
    if input_file is not None:
        entries.extend(listing_entries(input_file))
    client = app.client(ctx, wait=not no_wait)
    if not entries or entries == [STDIN]:
        _put_stdin(client, target, append, message)
        return
    if STDIN in entries:
        raise typer.BadParameter("'-f -' (stdin) cannot be mixed with other sources", param_hint="-f")
    if ":" not in ref and not untar:  # no path given: every source keeps its own name
        items = [("/" + (url_name(e) if is_url(e) else Path(e).name), e) for e in entries]
    else:
        items = _destinations(target.path, entries, untar or len(entries) == 1)
    total_bytes, total_files = measure_local(entries, recursive)
    with transfer_bar("put", total_bytes, total_files) as report:
        client.put_many(
            target.commit, items, recursive=recursive, untar=untar, append=append,
            description=message, progress=report, parallelism=parallelism,
        )


def _put_stdin(client: loxo.ClientBase, target: loxo.File, append: bool, message: str) -> None:
    if target.path == "/":
        raise typer.BadParameter(
            "reading stdin needs a destination path: repo@branch:/path (or give -f FILE)",
            param_hint="REPO@BRANCH[:PATH]",
        )
    source = loxo.Source(target.path, stream=typer.get_binary_stream("stdin"))
    client.put_files(target.commit, [source], append=append, description=message)


def _destinations(path: str, entries: list[str], as_given: bool) -> list[tuple[str, str]]:
    """``(destination, source)`` pairs: PATH itself for one source, else PATH/<source name>."""
    if as_given or path == "/":
        return [(path, e) for e in entries]
    return [(join_path(path, url_name(e) if is_url(e) else Path(e).name), e) for e in entries]


@app.get.command("file")
def get_file(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(metavar="REPO@REF:PATH", help="The file (or directory, -r).")],
    output: Annotated[
        str | None, typer.Option("-o", "--output", help="Write here instead of stdout (a directory with -r).")
    ] = None,
    recursive: Annotated[bool, typer.Option("-r", "--recursive", help="Get a whole directory tree.")] = False,
) -> None:
    """Write one file to stdout (raw bytes), or with -r -o DIR a whole tree to disk."""
    client = app.client(ctx)
    if recursive:
        if output is None:
            raise typer.BadParameter("get file -r needs -o DIR to write the tree into", param_hint="-o")
        files = [f for f in client.walk_file(ref) if f.kind is FileKind.FILE]
        with transfer_bar("get", sum(f.size_bytes for f in files), len(files)) as report:
            client.get_files(ref, output, progress=report)
        return
    chunks = client.read_file(ref)
    if output is None:
        write_bytes(chunks)
        return
    if os.path.isdir(output):
        output = os.path.join(output, PurePosixPath(parse_file(ref).path).name)
    _write_file(output, chunks)


def _write_file(target: str, chunks: Iterable[bytes]) -> None:
    """Write all of it under a temporary name, then rename: never half a file."""
    tmp = f"{target}.loxo-part"
    try:
        with open(tmp, "wb") as out:
            for chunk in chunks:
                out.write(chunk)
        os.replace(tmp, target)
    except OSError as exc:
        _discard(tmp)
        raise loxo.LoxoError(f"cannot write {target}: {exc.strerror or exc}") from None
    except BaseException:
        _discard(tmp)
        raise


def _discard(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)
