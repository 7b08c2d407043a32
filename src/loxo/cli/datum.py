"""``list / inspect datum``: a job's units of work, and a spec's datums before it runs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any

import typer

import loxo
from loxo.cli import app
from loxo.cli.job import job_ref
from loxo.cli.output import (
    Raw,
    ago,
    elapsed,
    human_size,
    print_fields,
    print_line,
    print_raw,
    print_table,
    seconds,
)
from loxo.model.jobs import DatumInfo, DatumState
from loxo.model.refs import FileKind


def datum_files(inputs: Iterable[Mapping[str, Any]]) -> str:
    """A datum's inputs in one cell: ``repo:/path, repo:/path``."""
    return ", ".join(f"{i['repo']}:{i['path']}" for i in inputs)


@app.list_.command("datum")
def list_datum(
    ctx: typer.Context,
    job: Annotated[
        str | None, typer.Argument(metavar="PIPELINE@ID", help="The job whose datums to list.")
    ] = None,
    spec: Annotated[
        str | None,
        typer.Option("-f", "--file", metavar="SPEC", help="Preview the datums of a spec file instead."),
    ] = None,
    raw: Raw = False,
) -> None:
    """List a job's datums; or with -f, the datums a spec would make now (nothing is created)."""
    if (job is None) == (spec is None):
        raise typer.BadParameter("give a job (PIPELINE@ID) or -f SPEC", param_hint="PIPELINE@ID")
    client = app.client(ctx, wait=False)
    if spec is not None:
        preview = client.preview_datums(spec)
        if raw:
            print_raw([{"id": did, "inputs": [i._asdict() for i in d.inputs]} for did, d in preview])
            return
        rows = [[did, datum_files(i._asdict() for i in d.inputs)] for did, d in preview]
        print_table(["ID", "FILES"], rows)
        return
    assert job is not None
    datums = client.list_datum(job_ref(client, job))
    if raw:
        print_raw(datums)
        return
    print_table(
        ["ID", "FILES", "STATUS", "TIME"],
        [[d.id, datum_files(d.inputs), d.state.value, _time(d)] for d in datums],
    )


def _time(datum: DatumInfo) -> str:
    if datum.state in (DatumState.SKIPPED, DatumState.STARTING):
        return "-"
    return seconds(datum.process_seconds)


@app.inspect.command("datum")
def inspect_datum(
    ctx: typer.Context,
    job: Annotated[str, typer.Argument(metavar="PIPELINE@ID", help="The job.")],
    datum: Annotated[str, typer.Argument(metavar="DATUM", help="The datum's id (or a unique prefix).")],
    raw: Raw = False,
) -> None:
    """Show one datum: state, timings, error, attempts and its exact input files."""
    client = app.client(ctx, wait=False)
    info = client.inspect_datum(job_ref(client, job), datum)
    if raw:
        print_raw(info)
        return
    print_fields(datum_fields(info))
    print_line("Inputs:")
    print_table(["NAME", "REPO", "COMMIT", "PATH", "HASH"], list(_input_rows(client, info)))


def datum_fields(info: DatumInfo) -> list[tuple[str, str]]:
    return [
        ("ID", info.id),
        ("Job", f"{info.pipeline}@{info.job}"),
        ("State", info.state.value),
        ("Error", info.error),
        ("Attempts", str(info.attempts)),
        ("Started", ago(info.started)),
        ("Finished", ago(info.finished)),
        ("Duration", elapsed(info.started, info.finished)),
        ("Download time", seconds(info.download_seconds)),
        ("Process time", seconds(info.process_seconds)),
        ("Upload time", seconds(info.upload_seconds)),
        ("Output size", human_size(info.output_size)),
        ("Hash", info.hash),
    ]


def _input_rows(client: loxo.ClientBase, info: DatumInfo) -> Iterable[list[str]]:
    """One row per input file; a matched directory (glob ``/``) is every file below it."""
    for item in info.inputs:
        ref = f"{item['repo']}@{item['commit']}:{item['path']}"
        for f in client.walk_file(ref):
            if f.kind is FileKind.FILE:
                yield [str(item["name"]), str(item["repo"]), str(item["commit"]), f.path, f.hash]
