"""What a worker is asked to do: plain, picklable descriptions of datum sets.

Any executor (local processes, Ray, Dask) ships these to a process that can reach the
store, and gets ``DatumResult``s back; the job's bookkeeping stays with the caller.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from loxo.pfs.dirblobs import Node
from loxo.pfs.store import StoreLocation
from loxo.storage.blobs import Part


@dataclass(frozen=True)
class Transform:
    """The part of a pipeline spec that says how to run user code."""

    cmd: tuple[str, ...]
    stdin: tuple[str, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    err_cmd: tuple[str, ...] = ()
    err_stdin: tuple[str, ...] = ()
    accept_return_code: tuple[int, ...] = ()
    working_dir: str | None = None
    datum_timeout: float | None = None
    datum_tries: int = 3
    datum_batching: bool = False


class TaskInput(NamedTuple):
    """One input of a datum: the glob match ``path`` in commit ``commit`` of ``repo``.
    Named tuples, not dataclasses, for these two: a job makes one per datum (100,000 of
    them cost a third less time to make and to pickle)."""

    name: str
    repo: str
    commit: str
    tree: str | None
    path: str
    empty_files: bool = False


class DatumTask(NamedTuple):
    datum_id: str
    inputs: tuple[TaskInput, ...]
    env: dict[str, str]


@dataclass(frozen=True)
class TaskResources:
    """What one datum set asks of the node that runs it: the spec's ``resource_requests``
    (a limit stands in for a missing request). CPUs, bytes of memory, GPUs and their type;
    engines turn these into their own requests (the local executor ignores them)."""

    cpu: float | None = None
    memory: int | None = None
    gpu: int = 0
    gpu_type: str | None = None

    def describe(self) -> str:
        """``cpu=2, memory=1.5 GiB, gpu=1 (A100)``, or ``nothing`` for no request."""
        parts = [] if self.cpu is None else [f"cpu={self.cpu:g}"]
        if self.memory is not None:
            parts.append(f"memory={self.memory / 2**30:.1f} GiB")
        if self.gpu:
            parts.append(f"gpu={self.gpu}" + (f" ({self.gpu_type})" if self.gpu_type else ""))
        return ", ".join(parts) or "nothing"


@dataclass(frozen=True)
class DatumSet:
    location: StoreLocation
    job_id: str
    pipeline: str
    transform: Transform
    datums: tuple[DatumTask, ...]
    resources: TaskResources = TaskResources()


@dataclass(frozen=True)
class LogLine:
    ts: float
    stream: str
    line: str


@dataclass(frozen=True)
class DatumResult:
    """How one datum went. ``state`` is "success", "failed" or "recovered". A success's
    output files are stored as the tree ``output_tree``; its directory blobs are in the
    object store but not yet in the blob index: the caller indexes ``tree_parts`` when it
    records the datum (``tree_nodes`` are the same blobs decoded, for its cache)."""

    datum_id: str
    state: str
    output_tree: str | None
    tree_nodes: dict[str, Node]
    tree_parts: tuple[Part, ...]
    output_size: int
    error: str
    attempts: int
    started: float
    finished: float
    download_seconds: float
    process_seconds: float
    upload_seconds: float
    download_bytes: int
    logs: tuple[LogLine, ...]


@dataclass(frozen=True)
class WorkerFailure:
    """An infrastructure error inside a worker (not a failure of user code)."""

    message: str


@dataclass
class Ran:
    """A datum whose user code has run; its outputs are still in ``out``."""

    datum_id: str
    state: str
    ok: bool
    out: str
    error: str
    attempts: int
    started: float
    finished: float
    download: float
    process: float
    downloaded: int
    logs: tuple[LogLine, ...]
