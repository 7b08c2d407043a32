"""Records of the pipeline layer: pipelines, jobs, datums, log lines."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class JobState(StrEnum):
    """Pachyderm 2.x job states."""

    CREATED = "created"
    STARTING = "starting"
    RUNNING = "running"
    EGRESSING = "egressing"
    FINISHING = "finishing"
    SUCCESS = "success"
    FAILURE = "failure"
    KILLED = "killed"
    UNRUNNABLE = "unrunnable"

    @property
    def done(self) -> bool:
        return self in _TERMINAL


_TERMINAL = {JobState.SUCCESS, JobState.FAILURE, JobState.KILLED, JobState.UNRUNNABLE}


class DatumState(StrEnum):
    SUCCESS = "success"
    SKIPPED = "skipped"
    FAILED = "failed"
    RECOVERED = "recovered"
    STARTING = "starting"


class PipelineState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"


@dataclass(frozen=True)
class PipelineInfo:
    name: str
    version: int
    state: PipelineState
    created: datetime
    spec: dict[str, Any]
    spec_commit: str
    salt: str
    inputs: tuple[str, ...]  # repo names read, left to right
    last_job: str | None = None
    last_job_state: JobState | None = None


@dataclass(frozen=True)
class JobInfo:
    """One run of a pipeline. ``id`` is the global id it shares with its commits."""

    pipeline: str
    id: str
    version: int
    state: JobState
    reason: str
    created: datetime
    started: datetime | None
    finished: datetime | None
    data_total: int
    data_processed: int
    data_skipped: int
    data_failed: int
    data_recovered: int
    download_bytes: int
    upload_bytes: int
    restart: int
    output_commit: str | None
    inputs: tuple[dict[str, str], ...] = field(default=())
    salt: str = ""


@dataclass(frozen=True)
class DatumInfo:
    pipeline: str
    job: str
    id: str
    state: DatumState
    hash: str
    error: str
    attempts: int
    started: datetime | None
    finished: datetime | None
    download_seconds: float
    process_seconds: float
    upload_seconds: float
    inputs: tuple[dict[str, Any], ...]  # {name, repo, commit, path, id}
    output_size: int = 0


@dataclass(frozen=True)
class LogEntry:
    pipeline: str
    job: str
    datum: str | None
    ts: datetime
    stream: str
    line: str


@dataclass(frozen=True)
class FileLineage:
    """Which job and datum made an output file, from exactly which input files."""

    repo: str
    commit: str
    path: str
    pipeline: str
    job: str
    datum: str
    inputs: tuple[dict[str, Any], ...]  # {repo, commit, path, hash}
