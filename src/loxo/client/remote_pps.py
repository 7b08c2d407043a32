"""``RemotePps``: the PPS verbs over HTTP, with the signatures of ``loxo.pps.api.Pps``.

Jobs run in the server's controller; ``run_pending`` here waits until it has run
everything earlier writes triggered, so a remote client with ``auto_run`` behaves like
the embedded one: a put returns once its pipelines have run.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from loxo.client.http import Http, decode
from loxo.client.remote_pfs import WAIT_CAP
from loxo.model.jobs import DatumInfo, FileLineage, JobInfo, JobState, LogEntry, PipelineInfo
from loxo.model.refs import Commit, CommitInfo, File
from loxo.pps.controller import JobStarted
from loxo.pps.datums import Datum
from loxo.pps.spec import PipelineSpec, spec_from_dict

Pairs = list[tuple[str, str]]


def _job(pipeline: str, job_id: str) -> str:
    return f"/pipelines/{pipeline}/jobs/{job_id}"


class RemotePps:
    def __init__(self, http: Http) -> None:
        self.http = http

    def close(self) -> None:
        """The session is ``RemotePfs``'s to close."""

    @property
    def sandbox_warning(self) -> str | None:
        return None  # user code runs on the server; its log says how

    # -- running ---------------------------------------------------------------------
    def run_pending(
        self, on_start: JobStarted | None = None, now: datetime | None = None
    ) -> list[tuple[str, str, JobState]]:
        """Wait until the server's controller has run every job triggered so far (and
        with ``now``, the cron ticks due by then); returns those that finished while
        waiting, as ``(pipeline, job id, state)``."""
        body: dict[str, Any] = {"now": now.isoformat() if now else None}
        finished: list[tuple[str, str, JobState]] = []
        while True:
            answer = self.http.call("POST", "/settle", _Settled, json=body)
            finished.extend(answer.finished)
            if answer.idle:
                return finished
            body["now"] = None

    def run_cron(self, pipeline: str, now: datetime | None = None) -> CommitInfo:
        return self.http.call("POST", f"/pipelines/{pipeline}/cron", CommitInfo,
                              json={"now": now.isoformat() if now else None})

    def preview_datums(self, spec: PipelineSpec) -> list[tuple[str, Datum]]:
        return self.http.call("POST", "/preview", list[tuple[str, Datum]],
                              json={"spec": spec.to_dict()})

    # -- pipelines -------------------------------------------------------------------
    def create_pipeline(
        self, spec: PipelineSpec, *, update: bool = False, reprocess: bool = False
    ) -> PipelineInfo:
        body = {"spec": spec.to_dict(), "update": update, "reprocess": reprocess}
        return self.http.call("POST", "/pipelines", PipelineInfo, json=body)

    def inspect_pipeline(self, name: str, ancestors: int = 0) -> PipelineInfo:
        return self.http.call("GET", f"/pipelines/{name}", PipelineInfo,
                              params={"ancestors": ancestors})

    def pipeline_spec(self, name: str) -> PipelineSpec:
        return spec_from_dict(self.http.call("GET", f"/pipelines/{name}/spec", dict[str, Any]))

    def list_pipeline(self) -> list[PipelineInfo]:
        return self.http.call("GET", "/pipelines", list[PipelineInfo])

    def delete_pipeline(self, name: str, force: bool = False) -> None:
        self.http.send("DELETE", f"/pipelines/{name}", params={"force": force})

    def stop_pipeline(self, name: str) -> PipelineInfo:
        return self.http.call("POST", f"/pipelines/{name}/stop", PipelineInfo)

    def start_pipeline(self, name: str) -> PipelineInfo:
        return self.http.call("POST", f"/pipelines/{name}/start", PipelineInfo)

    # -- jobs and datums -------------------------------------------------------------
    def list_job(self, pipeline: str | None = None, job_id: str | None = None) -> list[JobInfo]:
        return self.http.call("GET", "/jobs", list[JobInfo],
                              params={"pipeline": pipeline, "job": job_id})

    def inspect_job(self, pipeline: str, job_id: str) -> JobInfo:
        return self.http.call("GET", _job(pipeline, job_id), JobInfo)

    def wait_job(self, pipeline: str, job_id: str, timeout: float | None = None) -> JobInfo:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = WAIT_CAP if deadline is None else max(0.0, deadline - time.monotonic())
            info = self.http.call("GET", f"{_job(pipeline, job_id)}/wait", JobInfo,
                                  params={"timeout": min(left, WAIT_CAP)})
            if info.state.done or (deadline is not None and time.monotonic() >= deadline):
                return info

    def stop_job(self, pipeline: str, job_id: str) -> JobInfo:
        return self.http.call("POST", f"{_job(pipeline, job_id)}/stop", JobInfo)

    def list_datum(self, pipeline: str, job_id: str) -> list[DatumInfo]:
        return self.http.call("GET", f"{_job(pipeline, job_id)}/datums", list[DatumInfo])

    def inspect_datum(self, pipeline: str, job_id: str, datum_id: str) -> DatumInfo:
        return self.http.call("GET", f"{_job(pipeline, job_id)}/datums/{datum_id}", DatumInfo)

    def logs(
        self, pipeline: str, job_id: str | None = None, datum_id: str | None = None
    ) -> Iterator[LogEntry]:
        params = {"job": job_id, "datum": datum_id}
        with self.http.stream(f"/pipelines/{pipeline}/logs", params) as resp:
            for line in resp.iter_lines():
                if line:
                    yield decode(LogEntry, orjson.loads(line))

    # -- provenance ------------------------------------------------------------------
    def provenance(self, ref: Commit) -> Pairs:
        return self.http.call("GET", "/provenance", Pairs, params={"commit": str(ref)})

    def subvenance(self, ref: Commit) -> Pairs:
        return self.http.call("GET", "/subvenance", Pairs, params={"commit": str(ref)})

    def lineage(self, ref: File) -> FileLineage:
        return self.http.call("GET", "/lineage", FileLineage, params={"file": str(ref)})


@dataclass(frozen=True)
class _Settled:
    idle: bool
    finished: tuple[tuple[str, str, JobState], ...]
