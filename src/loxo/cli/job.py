"""``list / inspect / wait / stop job``.

A job is named ``pipeline@id``; its id is the global id it shares with the commit that
triggered it and the output commit it made. A bare id names the one job with that id
(several pipelines sharing it must be told apart with ``pipeline@id``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Annotated

import typer

import loxo
from loxo.cli import app
from loxo.cli.output import (
    Raw,
    ago,
    datum_progress,
    elapsed,
    human_size,
    print_fields,
    print_line,
    print_raw,
    print_table,
    warn,
)
from loxo.errors import InvalidArgument, JobNotFound, LoxoError, NotFound
from loxo.model.jobs import JobInfo, JobState

Pipeline = Annotated[str | None, typer.Option("-p", "--pipeline", help="Only this pipeline's jobs.")]
JobArg = Annotated[
    str, typer.Argument(metavar="PIPELINE@ID", help="A job: pipeline@id (or an id only one pipeline has).")
]


def job_ref(client: loxo.ClientBase, text: str) -> str:
    """``pipeline@id`` for a job argument: as given, or found from a bare id."""
    if "@" in text:
        return text
    jobs = client.list_job(job_id=text)
    if not jobs:
        raise JobNotFound(f"job {text} not found; see: loxo list job")
    if len(jobs) > 1:
        names = ", ".join(sorted(j.pipeline for j in jobs))
        raise InvalidArgument(f"job id {text} is shared by pipelines {names}; name one as PIPELINE@{text}")
    return f"{jobs[0].pipeline}@{jobs[0].id}"


def print_jobs(jobs: Sequence[JobInfo]) -> None:
    """pachctl's ``list job`` table."""
    print_table(
        ["ID", "PIPELINE", "STARTED", "DURATION", "RESTART", "PROGRESS", "DL", "UL", "STATE"],
        [[j.id, j.pipeline, ago(j.started or j.created), elapsed(j.started, j.finished), str(j.restart),
          datum_progress(j.data_processed, j.data_skipped, j.data_total),
          human_size(j.download_bytes), human_size(j.upload_bytes), j.state.value] for j in jobs],
    )


@app.list_.command("job")
def list_job(
    ctx: typer.Context,
    job_id: Annotated[
        str | None, typer.Argument(metavar="[ID]", help="Only the jobs of this global id (or pipeline@id).")
    ] = None,
    pipeline: Pipeline = None,
    raw: Raw = False,
) -> None:
    """List jobs, newest first."""
    if job_id is not None and "@" in job_id:
        pipeline, _, job_id = job_id.partition("@")
    jobs = app.client(ctx, wait=False).list_job(pipeline, job_id)
    if raw:
        print_raw(jobs)
        return
    print_jobs(jobs)


@app.inspect.command("job")
def inspect_job(ctx: typer.Context, job: JobArg, raw: Raw = False) -> None:
    """Show one job: its state and reason, datum counts, data moved, inputs."""
    client = app.client(ctx, wait=False)
    info = client.inspect_job(job_ref(client, job))
    if raw:
        print_raw(info)
        return
    print_fields(job_fields(info))
    print_line("Inputs:")
    for item in info.inputs:
        branch = f" ({item['branch']})" if item.get("branch") else ""
        print_line(f"  {item.get('name', item['repo'])}: {item['repo']}@{item['commit']}{branch}")


def job_fields(info: JobInfo) -> list[tuple[str, str]]:
    return [
        ("ID", info.id),
        ("Pipeline", info.pipeline),
        ("Pipeline version", str(info.version)),
        ("State", info.state.value),
        ("Reason", info.reason),
        ("Created", ago(info.created)),
        ("Started", ago(info.started)),
        ("Finished", ago(info.finished)),
        ("Duration", elapsed(info.started, info.finished)),
        ("Progress", datum_progress(info.data_processed, info.data_skipped, info.data_total)),
        ("Datums processed", str(info.data_processed)),
        ("Datums skipped", str(info.data_skipped)),
        ("Datums failed", str(info.data_failed)),
        ("Datums recovered", str(info.data_recovered)),
        ("Datums total", str(info.data_total)),
        ("Data downloaded", human_size(info.download_bytes)),
        ("Data uploaded", human_size(info.upload_bytes)),
        ("Restarts", str(info.restart)),
        ("Output commit", f"{info.pipeline}@{info.output_commit}" if info.output_commit else "-"),
        ("Salt", info.salt),
    ]


@app.wait.command("job")
def wait_job(
    ctx: typer.Context,
    ref: Annotated[
        str,
        typer.Argument(
            metavar="PIPELINE@ID|ID|REPO@COMMIT",
            help="A job, every job of a global id, or the jobs a commit triggered.",
        ),
    ],
    pipeline: Pipeline = None,
    timeout: Annotated[
        float | None, typer.Option("--timeout", help="Give up after this many seconds.")
    ] = None,
    raw: Raw = False,
) -> None:
    """Block until the jobs are finished and list them; exit 1 if one did not succeed."""
    client = app.client(ctx, wait=False)
    deadline = None if timeout is None else time.monotonic() + timeout
    done: list[JobInfo] = []
    for job in _jobs_to_wait(client, ref, pipeline):
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        info = client.wait_job(job, left)
        if not info.state.done:
            raise LoxoError(f"job {job} is still {info.state.value} after {timeout} s")
        done.append(info)
    if raw:
        print_raw(done)
    elif done:
        print_jobs(done)
    bad = [j for j in done if j.state is not JobState.SUCCESS]
    if bad:
        first = bad[0]
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        reason = f": {first.reason}" if first.reason else ""
        warn(f"error: job {first.pipeline}@{first.id} {first.state.value}{reason}{more}")
        raise typer.Exit(1)


def _jobs_to_wait(client: loxo.ClientBase, ref: str, pipeline: str | None) -> list[str]:
    """``pipeline@id`` of every job ``ref`` names (see ``wait_job``)."""
    if "@" not in ref:
        jobs = client.list_job(pipeline, ref)
        if not jobs:
            raise JobNotFound(f"no job has id {ref}; see: loxo list job")
        return [f"{j.pipeline}@{j.id}" for j in reversed(jobs)]
    try:
        job = client.inspect_job(ref)
    except NotFound:  # not a pipeline, or no such job: a commit, then
        commit = client.inspect_commit(ref)
    else:
        return [f"{job.pipeline}@{job.id}"]
    return [f"{j.pipeline}@{j.id}" for j in reversed(client.list_job(pipeline, commit.id))]


@app.stop.command("job")
def stop_job(ctx: typer.Context, job: JobArg) -> None:
    """Kill an unfinished job (a running one stops after its current datums)."""
    client = app.client(ctx, wait=False)
    client.stop_job(job_ref(client, job))
