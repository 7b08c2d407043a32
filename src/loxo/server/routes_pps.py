"""``/v1`` routes of the PPS verbs: pipelines, jobs, datums, logs, provenance, and
``settle`` (wait until the controller has run what earlier writes triggered)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, BeforeValidator, Field

import loxo
from loxo.client.remote_pfs import WAIT_CAP
from loxo.model.address import parse_file
from loxo.model.jobs import DatumInfo, FileLineage, JobInfo, JobState, LogEntry, PipelineInfo
from loxo.model.refs import CommitInfo
from loxo.pps.datums import Datum
from loxo.pps.inputs import leaves
from loxo.pps.spec import PipelineSpec, spec_from_dict
from loxo.server.auth import Role, authorize, need, pipeline_created, pipeline_deleted
from loxo.server.errors import ERROR_SCHEMA
from loxo.server.routes_pfs import Count, Seconds
from loxo.server.state import ServerState, server_state

router = APIRouter(prefix="/v1", responses=ERROR_SCHEMA)
S = Annotated[ServerState, Depends(server_state)]
ANYONE = need(Role.READER, None)
READ = need(Role.READER, "pipeline")
WRITE = need(Role.WRITER, "pipeline")
OWN = need(Role.OWNER, "pipeline")


class SpecBody(BaseModel):
    spec: dict[str, Any]  # one pipeline, as in a spec file (1.x or 2.x names)


class PipelineCreate(SpecBody):
    update: bool = False
    reprocess: bool = False


def _spec(request: Request, body: SpecBody) -> PipelineSpec:
    """The spec, once the caller may read every input it names."""
    spec = spec_from_dict(body.spec, "request body")
    for leaf in leaves(spec.input):
        authorize(request, Role.READER, leaf.repo)
    return spec


# -- pipelines -----------------------------------------------------------------------
@router.post("/pipelines", dependencies=[ANYONE], tags=["pipelines"])
def create_pipeline(request: Request, body: PipelineCreate, s: S) -> PipelineInfo:
    spec = _spec(request, body)
    if body.update:
        authorize(request, Role.WRITER, spec.name)
    info = s.client.pps.create_pipeline(spec, update=body.update, reprocess=body.reprocess)
    pipeline_created(request, spec.name)
    s.changed()
    return info


@router.get("/pipelines", dependencies=[ANYONE], tags=["pipelines"])
def list_pipeline(s: S) -> list[PipelineInfo]:
    return s.client.list_pipeline()


@router.get("/pipelines/{pipeline}", dependencies=[READ], tags=["pipelines"])
def inspect_pipeline(pipeline: str, s: S, ancestors: Count = 0) -> PipelineInfo:
    return s.client.pps.inspect_pipeline(pipeline, ancestors)


@router.get("/pipelines/{pipeline}/spec", dependencies=[READ], tags=["pipelines"])
def pipeline_spec(pipeline: str, s: S) -> dict[str, Any]:
    return s.client.pps.pipeline_spec(pipeline).to_dict()


@router.delete("/pipelines/{pipeline}", status_code=204, dependencies=[OWN], tags=["pipelines"])
def delete_pipeline(request: Request, pipeline: str, s: S, force: bool = False) -> None:
    s.client.delete_pipeline(pipeline, force)
    pipeline_deleted(request, pipeline)


@router.post("/pipelines/{pipeline}/stop", dependencies=[WRITE], tags=["pipelines"])
def stop_pipeline(pipeline: str, s: S) -> PipelineInfo:
    return s.client.stop_pipeline(pipeline)


@router.post("/pipelines/{pipeline}/start", dependencies=[WRITE], tags=["pipelines"])
def start_pipeline(pipeline: str, s: S) -> PipelineInfo:
    info = s.client.pps.start_pipeline(pipeline)
    s.changed()
    return info


def _iso_text(value: object) -> object:
    if value is not None and not isinstance(value, str | datetime):
        raise ValueError("a time is an ISO 8601 string, e.g. 2024-05-01T12:00:00Z")
    return value


When = Annotated[datetime | None, BeforeValidator(_iso_text)]  # not pydantic's lax epoch numbers


class CronRun(BaseModel):
    now: When = None


@router.post("/pipelines/{pipeline}/cron", dependencies=[WRITE], tags=["pipelines"])
def run_cron(pipeline: str, body: CronRun, s: S) -> CommitInfo:
    info = s.client.pps.run_cron(pipeline, body.now)
    s.changed()
    return info


@router.post("/preview", dependencies=[ANYONE], tags=["pipelines"])
def preview_datums(request: Request, body: SpecBody, s: S) -> list[tuple[str, Datum]]:
    return s.client.pps.preview_datums(_spec(request, body))


# -- running -------------------------------------------------------------------------
class Settle(BaseModel):
    now: When = None  # also commit the cron ticks due by then
    timeout: Annotated[float, Field(strict=True)] = WAIT_CAP  # a number, not true/"5"


class Settled(BaseModel):
    idle: bool  # false: still working after the wait; ask again
    finished: list[tuple[str, str, JobState]]  # (pipeline, job id, state) during this wait


@router.post("/settle", dependencies=[ANYONE], tags=["jobs"])
def settle(request: Request, body: Settle, s: S) -> Settled:
    """Wait (at most 20 s) until every job triggered so far has run. Ticking every
    pipeline's crons at a chosen ``now`` needs clusterAdmin."""
    mark = s.controller.mark()
    if body.now is not None:
        authorize(request, Role.ADMIN, None)
        s.tick(body.now)
    ticket = s.controller.poke()
    idle = s.controller.wait_idle(ticket, min(max(body.timeout, 0.0), WAIT_CAP))
    return Settled(idle=idle, finished=s.controller.finished_since(mark))


# -- jobs and datums -----------------------------------------------------------------
@router.get("/jobs", dependencies=[ANYONE], tags=["jobs"])
def list_job(s: S, pipeline: str | None = None, job: str | None = None) -> list[JobInfo]:
    return s.client.pps.list_job(pipeline, job)


@router.get("/pipelines/{pipeline}/jobs/{job}", dependencies=[READ], tags=["jobs"])
def inspect_job(pipeline: str, job: str, s: S) -> JobInfo:
    return s.client.pps.inspect_job(pipeline, job)


@router.get("/pipelines/{pipeline}/jobs/{job}/wait", dependencies=[READ], tags=["jobs"])
def wait_job(pipeline: str, job: str, s: S, timeout: Seconds = WAIT_CAP) -> JobInfo:
    """Held at most 20 s; an unfinished job comes back as it is and the caller asks again."""
    return s.client.pps.wait_job(pipeline, job, min(timeout, WAIT_CAP))


@router.post("/pipelines/{pipeline}/jobs/{job}/stop", dependencies=[WRITE], tags=["jobs"])
def stop_job(pipeline: str, job: str, s: S) -> JobInfo:
    return s.client.pps.stop_job(pipeline, job)


@router.get("/pipelines/{pipeline}/jobs/{job}/datums", dependencies=[READ], tags=["jobs"])
def list_datum(pipeline: str, job: str, s: S) -> list[DatumInfo]:
    return s.client.pps.list_datum(pipeline, job)


@router.get("/pipelines/{pipeline}/jobs/{job}/datums/{datum}", dependencies=[READ],
            tags=["jobs"])
def inspect_datum(pipeline: str, job: str, datum: str, s: S) -> DatumInfo:
    return s.client.pps.inspect_datum(pipeline, job, datum)


def _ndjson(entries: Iterator[LogEntry]) -> Iterator[bytes]:
    for e in entries:
        yield orjson.dumps(e, option=orjson.OPT_APPEND_NEWLINE)


@router.get("/pipelines/{pipeline}/logs", dependencies=[READ], tags=["jobs"],
            response_class=StreamingResponse)
def logs(pipeline: str, s: S, job: str | None = None, datum: str | None = None
         ) -> StreamingResponse:
    """Log lines of user code as newline-delimited JSON ``LogEntry`` records."""
    entries = s.client.pps.logs(pipeline, job, datum)
    first = next(entries, None)  # errors (unknown pipeline or job) before the stream starts
    lines = _ndjson(itertools.chain([first], entries) if first is not None else iter(()))
    return StreamingResponse(lines, media_type="application/x-ndjson")


# -- provenance ----------------------------------------------------------------------
@router.get("/provenance", dependencies=[ANYONE], tags=["provenance"])
def provenance(request: Request, commit: str, s: S) -> list[tuple[str, str]]:
    ref = parse_file(commit).commit
    authorize(request, Role.READER, ref.repo)
    return s.client.pps.provenance(ref)


@router.get("/subvenance", dependencies=[ANYONE], tags=["provenance"])
def subvenance(request: Request, commit: str, s: S) -> list[tuple[str, str]]:
    ref = parse_file(commit).commit
    authorize(request, Role.READER, ref.repo)
    return s.client.pps.subvenance(ref)


@router.get("/lineage", dependencies=[ANYONE], tags=["provenance"])
def lineage(request: Request, file: str, s: S) -> FileLineage:
    ref = parse_file(file)
    authorize(request, Role.READER, ref.commit.repo)
    return s.client.pps.lineage(ref)


class Version(BaseModel):
    version: str


@router.get("/version", tags=["admin"])
def version() -> Version:
    return Version(version=loxo.__version__)
