"""``logs``: what user code printed, per pipeline, job or datum.

A failed job's reason names the exact command, e.g.
``loxo logs -p edges -j <id> --datum <datum>``.
"""

from __future__ import annotations

import time
from itertools import islice
from typing import Annotated

import typer

import loxo
from loxo.cli import app
from loxo.cli.output import print_json_line, print_line

POLL_SECONDS = 0.2


def logs(
    ctx: typer.Context,
    pipeline: Annotated[str | None, typer.Option("-p", "--pipeline", help="The pipeline.")] = None,
    job: Annotated[
        str | None, typer.Option("-j", "--job", metavar="ID", help="Only this job (an id, or pipeline@id).")
    ] = None,
    datum: Annotated[str | None, typer.Option("--datum", metavar="ID", help="Only this datum.")] = None,
    follow: Annotated[
        bool, typer.Option("-f", "--follow", help="Keep printing new lines until the job is finished.")
    ] = False,
    raw: Annotated[bool, typer.Option("--raw", help="One JSON record a line.")] = False,
) -> None:
    """Print user code's output lines (stdout and stderr), oldest first."""
    if job is not None and "@" in job:
        named, _, job = job.partition("@")
        pipeline = pipeline or named
    if pipeline is None:
        raise typer.BadParameter("name the pipeline: -p PIPELINE (or -j PIPELINE@ID)", param_hint="-p")
    client = app.client(ctx, wait=False)
    seen = 0
    while True:
        finished = not follow or _finished(client, pipeline, job)
        for entry in islice(client.logs(pipeline, job, datum), seen, None):
            seen += 1
            if raw:
                print_json_line(entry)
            else:
                print_line(entry.line)
        if finished:
            return
        time.sleep(POLL_SECONDS)


def _finished(client: loxo.ClientBase, pipeline: str, job: str | None) -> bool:
    """Whether the job (or the pipeline's newest job) is done: nothing more will be logged."""
    jobs = client.list_job(pipeline)
    if job is not None:
        jobs = [j for j in jobs if j.id.startswith(job)]
    return not jobs or jobs[0].state.done
