"""The Ray executor: datum sets as Ray tasks, on a local cluster or one you join.

``RayEngine(None, ...)`` starts a Ray cluster of this machine's cores inside this
process (no dashboard, loopback); ``RayEngine("ray://host:10001", ...)`` joins an
existing cluster through Ray Client (the head's client server port), so the loxo server
need not be a Ray node and a dead head only breaks the connection, never this process.

Each set is one task with the pipeline's resource requests as Ray resources:
``num_cpus`` (1 when none is asked), ``num_gpus``, ``memory`` (bytes) and, for a GPU
type, ``accelerator_type`` (Ray's custom resource ``accelerator_type:<type>``). Ray
retries a task whose worker process or node dies (``max_retries``) on any node that has
the resources; the task runs in a Ray worker process that keeps its ``DatumWorker``
(sandbox, store) between tasks. ``ray`` is imported only when the executor starts.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

from loxo.executors.engine import (
    EngineExecutor,
    EngineUnavailable,
    MissingExtra,
    SetReply,
    TaskLost,
    Unschedulable,
    fits,
    run_set_here,
)
from loxo.worker.task import DatumSet, TaskResources

MAX_RETRIES = 3
"""How often Ray re-runs a set whose worker died, before its datums fail."""
OBJECT_STORE_BYTES = 256 * 2**20
"""The local cluster's object store: only small result records travel through it."""

_lock = threading.Lock()
_users: dict[str | None, int] = {}  # Ray allows one connection per process: shared, counted


def import_ray() -> Any:
    """The ``ray`` module, or ``MissingExtra`` with the one line that installs it."""
    try:
        import ray
    except ImportError as exc:
        raise MissingExtra("the ray executor needs Ray: pip install 'loxo[ray]'") from exc
    return ray


class RayEngine:
    """``Engine`` over Ray. ``address``: None for a local cluster, else ``ray://host:port``."""

    def __init__(self, address: str | None, scratch_root: Path, use_sandbox: bool = True,
                 num_cpus: int | None = None) -> None:
        self.address = address
        self.scratch_root = str(scratch_root)
        self.use_sandbox = use_sandbox
        self.num_cpus = num_cpus
        self.description = f"the Ray cluster at {address}" if address else "the local Ray cluster"
        self._ray: Any = None
        self._remote: Any = None

    def start(self) -> float:
        if self._ray is not None:
            return 0.0
        ray = import_ray()
        started = time.perf_counter()
        with _lock:
            if _users and self.address not in _users:
                other = next(iter(_users)) or "a local cluster"
                raise EngineUnavailable(f"this process already uses Ray ({other}): one Ray cluster a process")
            if not ray.is_initialized():
                self._connect(ray)
            _users[self.address] = _users.get(self.address, 0) + 1
        self._ray = ray
        self._remote = ray.remote(run_set_here)
        return time.perf_counter() - started

    def _connect(self, ray: Any) -> None:
        quiet: dict[str, Any] = {"log_to_driver": False, "logging_level": "WARNING", "namespace": "loxo"}
        if self.address is None:
            ray.init(num_cpus=self.num_cpus or os.cpu_count() or 1, include_dashboard=False,
                     _node_ip_address="127.0.0.1", object_store_memory=OBJECT_STORE_BYTES,
                     configure_logging=False, **quiet)
        else:
            ray.init(self.address, **quiet)

    def check(self, need: TaskResources) -> None:
        want = _request(need)
        nodes = [n for n in self._ray.nodes() if n.get("Alive")]
        if any(fits(n.get("Resources", {}), want) for n in nodes):
            return
        offers = "; ".join(_offer(n.get("Resources", {})) for n in nodes) or "no live nodes"
        raise Unschedulable(
            f"no node of {self.description} can satisfy the resource requests ({need.describe()}); "
            f"nodes offer: {offers}"
        )

    def submit(self, work: DatumSet) -> Any:
        need = work.resources
        options: dict[str, Any] = {
            "num_cpus": need.cpu if need.cpu is not None else 1,
            "max_retries": MAX_RETRIES, "retry_exceptions": False,
            "name": f"loxo:{work.pipeline}:{work.job_id[:8]}",
        }
        if need.gpu:
            options["num_gpus"] = need.gpu
        if need.memory is not None:
            options["memory"] = need.memory
        if need.gpu_type:
            options["accelerator_type"] = need.gpu_type
        return self._remote.options(**options).remote(work, self.scratch_root, self.use_sandbox)

    def wait(self, pending: list[Any], timeout: float) -> list[Any]:
        ready, _ = self._ray.wait(pending, num_returns=1, timeout=timeout, fetch_local=True)
        return list(ready)

    def reply(self, handle: Any) -> SetReply:
        exceptions = self._ray.exceptions
        try:
            reply: SetReply = self._ray.get(handle)
        except (exceptions.WorkerCrashedError, exceptions.NodeDiedError, exceptions.ObjectLostError,
                exceptions.OutOfMemoryError, exceptions.TaskCancelledError,
                exceptions.RayTaskError) as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise TaskLost(f"Ray gave up on this datum set (worker or node lost, tried "
                           f"{MAX_RETRIES + 1} times): {type(exc).__name__}: {first}") from exc
        return reply

    def cancel(self, pending: list[Any]) -> None:
        for ref in pending:
            self._ray.cancel(ref, force=True)

    def ping(self) -> None:
        self._ray.cluster_resources()

    def close(self) -> None:
        if self._ray is None:
            return
        ray, self._ray, self._remote = self._ray, None, None
        with _lock:
            _users[self.address] -= 1
            if _users[self.address] > 0:
                return
            del _users[self.address]
        ray.shutdown()


def _request(need: TaskResources) -> dict[str, float]:
    want = {"CPU": need.cpu if need.cpu is not None else 1.0, "GPU": float(need.gpu)}
    if need.memory is not None:
        want["memory"] = float(need.memory)
    if need.gpu_type:
        want[f"accelerator_type:{need.gpu_type}"] = 0.001
    return want


def _offer(resources: dict[str, float]) -> str:
    memory = resources.get("memory", 0.0) / 2**30
    extra = sorted(k for k in resources if k not in ("CPU", "GPU", "memory", "object_store_memory")
                   and not k.startswith("node:"))
    return (f"CPU={resources.get('CPU', 0):g} GPU={resources.get('GPU', 0):g} memory={memory:.1f} GiB"
            + (f" {' '.join(extra)}" if extra else ""))


def ray_executor(address: str | None, scratch_root: Path, use_sandbox: bool = True,
                 timeout: float = 60.0, num_cpus: int | None = None) -> EngineExecutor[Any]:
    """An executor on Ray: a local cluster (``address`` None) or ``ray://host:port``."""
    engine = RayEngine(address, scratch_root, use_sandbox, num_cpus)
    return EngineExecutor(engine, timeout=timeout, scratch_root=None if address else scratch_root)
