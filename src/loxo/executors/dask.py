"""The Dask executor: datum sets as Dask tasks, on a local cluster or one you join.

``DaskEngine(None, ...)`` starts a scheduler and one single-threaded worker per core of
this machine, each in its own subprocess (``dask spec``, so a user's script is never
re-imported by a worker), on loopback with no dashboard; ``DaskEngine("tcp://host:8786",
...)`` joins an existing scheduler.

Dask has no built-in CPU/GPU/memory requests, only named worker resources. A set asks
for ``gpu`` (``--resources gpu=N`` on a worker), and for ``cpu`` and ``memory`` where
workers declare resources of those names; where they do not, a CPU request is checked
against a worker's thread count and a memory request against its memory limit. A GPU
type is a worker resource of that name. When a worker process dies the scheduler runs
its sets again elsewhere (up to ``distributed.scheduler.allowed-failures`` times, then
``KilledWorker``). Each worker keeps its ``DatumWorker`` (sandbox, store) between sets.
``distributed`` is imported only when the executor starts.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from pathlib import Path
from typing import Any

from loxo.executors.engine import (
    EngineExecutor,
    MissingExtra,
    SetReply,
    TaskLost,
    Unschedulable,
    run_set_here,
)
from loxo.worker.task import DatumSet, TaskResources

CONNECT_TIMEOUT = 30.0
WORKER_MEMORY = "2GiB"
"""Each local worker's memory limit: user code runs in its own processes, not in it."""


def import_distributed() -> Any:
    """The ``distributed`` module, or ``MissingExtra`` with the one line that installs it."""
    try:
        import distributed
    except ImportError as exc:
        raise MissingExtra("the dask executor needs Dask: pip install 'loxo[dask]'") from exc
    return distributed


class DaskEngine:
    """``Engine`` over Dask. ``address``: None for a local cluster, else ``tcp://host:port``."""

    def __init__(self, address: str | None, scratch_root: Path, use_sandbox: bool = True,
                 workers: int | None = None) -> None:
        self.address = address
        self.scratch_root = str(scratch_root)
        self.use_sandbox = use_sandbox
        self.workers = workers
        self.description = f"the Dask scheduler at {address}" if address else "the local Dask cluster"
        self._distributed: Any = None
        self._cluster: Any = None
        self._client: Any = None
        self._constraints: dict[TaskResources, dict[str, float]] = {}

    def start(self) -> float:
        if self._client is not None:
            return 0.0
        distributed = import_distributed()
        started = time.perf_counter()
        if self.address is None:
            from distributed.deploy.subprocess import SubprocessCluster

            n = self.workers or os.cpu_count() or 1
            self._cluster = SubprocessCluster(
                host="127.0.0.1", scheduler_port=0, dashboard_address=None, n_workers=n,
                threads_per_worker=1, worker_kwargs={"memory_limit": WORKER_MEMORY},
            )
            target: Any = self._cluster
        else:
            target = self.address
        try:
            self._client = distributed.Client(target, timeout=CONNECT_TIMEOUT, set_as_default=False)
            if self._cluster is not None:
                self._client.wait_for_workers(self.workers or os.cpu_count() or 1, timeout=CONNECT_TIMEOUT)
        except BaseException:
            self.close()
            raise
        self._distributed = distributed
        self._constraints.clear()
        return time.perf_counter() - started

    def check(self, need: TaskResources) -> None:
        workers = list(self._client.scheduler_info(n_workers=-1)["workers"].values())
        for worker in workers:
            found = _constraints(need, worker)
            if found is not None:
                self._constraints[need] = found
                return
        offers = "; ".join(_offer(w) for w in workers) or "no workers"
        raise Unschedulable(
            f"no worker of {self.description} can satisfy the resource requests ({need.describe()}); "
            f"workers offer: {offers}"
        )

    def submit(self, work: DatumSet) -> Any:
        key = f"loxo-{work.pipeline}-{work.job_id[:8]}-{uuid.uuid4().hex[:12]}"
        resources = self._constraints.get(work.resources) or None
        return self._client.submit(run_set_here, work, self.scratch_root, self.use_sandbox,
                                   key=key, pure=False, resources=resources, retries=0)

    def wait(self, pending: list[Any], timeout: float) -> list[Any]:
        try:
            with self._client.as_current():  # wait() asks for "the current client"
                done, _ = self._distributed.wait(pending, timeout=timeout, return_when="FIRST_COMPLETED")
        except TimeoutError:
            return []
        return list(done)

    def reply(self, handle: Any) -> SetReply:
        if handle.status == "error":
            exc = handle.exception()
            first = (str(exc).strip().splitlines() or [""])[0]
            killed = type(exc).__name__ == "KilledWorker"
            why = "its workers died too often" if killed else "the task raised"
            raise TaskLost(f"Dask gave up on this datum set ({why}): {type(exc).__name__}: {first}")
        reply: SetReply = handle.result()
        return reply

    def cancel(self, pending: list[Any]) -> None:
        self._client.cancel(pending, force=True)

    def ping(self) -> None:
        if self._client.status != "running":
            raise ConnectionError(f"the Dask client is {self._client.status}")
        self._client.scheduler_info(n_workers=0)

    def close(self) -> None:
        client, cluster = self._client, self._cluster
        self._client = self._cluster = self._distributed = None
        if client is not None:
            with contextlib.suppress(Exception):
                client.close(timeout=10)
        if cluster is not None:
            cluster.close(timeout=10)


def _constraints(need: TaskResources, worker: dict[str, Any]) -> dict[str, float] | None:
    """The resources to ask of Dask for ``need`` if ``worker`` can run it, else None."""
    declared: dict[str, float] = {k.lower(): v for k, v in worker.get("resources", {}).items()}
    wanted: dict[str, float] = {}
    if need.gpu:
        wanted["gpu"] = float(need.gpu)
    if need.gpu_type:
        wanted[need.gpu_type.lower()] = 1.0
    if need.cpu is not None:
        if "cpu" in declared:
            wanted["cpu"] = need.cpu
        elif need.cpu > worker.get("nthreads", 1):
            return None
    if need.memory is not None:
        if "memory" in declared:
            wanted["memory"] = float(need.memory)
        elif 0 < worker.get("memory_limit", 0) < need.memory:
            return None
    if any(declared.get(name, 0.0) < amount for name, amount in wanted.items()):
        return None
    names = {k.lower(): k for k in worker.get("resources", {})}
    return {names[name]: amount for name, amount in wanted.items()}


def _offer(worker: dict[str, Any]) -> str:
    memory = worker.get("memory_limit", 0) / 2**30
    resources = " ".join(f"{k}={v:g}" for k, v in sorted(worker.get("resources", {}).items()))
    return f"threads={worker.get('nthreads', 0)} memory_limit={memory:.1f} GiB" + (
        f" {resources}" if resources else "")


def dask_executor(address: str | None, scratch_root: Path, use_sandbox: bool = True,
                  timeout: float = 60.0, workers: int | None = None) -> EngineExecutor[Any]:
    """An executor on Dask: a local cluster (``address`` None) or ``tcp://host:port``."""
    engine = DaskEngine(address, scratch_root, use_sandbox, workers)
    return EngineExecutor(engine, timeout=timeout, scratch_root=None if address else scratch_root)
