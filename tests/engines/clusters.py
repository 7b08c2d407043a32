"""Real Ray and Dask clusters on loopback, started and stopped by the tests themselves.

Each node or scheduler/worker is its own process group (``start_new_session``), so it is
stopped by its group id: only what a test started is ever killed (never ``ray stop``,
which would stop every Ray on the machine). Ports are free ones picked at start; the
dashboards are off; Ray's token auth and usage stats are off. Processes start in the
repository root, as the iris specs name their scripts relative to it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ENGINE_ENV = {"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0",
              "PYTHONUNBUFFERED": "1"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Group:
    """One started process (and its process group), with its log file."""

    name: str
    process: subprocess.Popen[bytes]
    log: Path

    def alive(self) -> bool:
        return self.process.poll() is None

    def tail(self, lines: int = 15) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return f"--- {self.name} ---\n" + "\n".join(text.splitlines()[-lines:])

    def kill(self) -> None:
        """SIGKILL the whole group (the node and every worker it started)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(10)


@dataclass
class Cluster:
    kind: str
    address: str  # what --executor takes
    workdir: Path
    groups: list[Group] = field(default_factory=list)

    def start(self, name: str, argv: list[str]) -> Group:
        log = self.workdir / f"{name}.log"
        with open(log, "ab") as out:
            process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
                                       start_new_session=True, env={**os.environ, **ENGINE_ENV})
        group = Group(name, process, log)
        self.groups.append(group)
        return group

    def wait_for(self, group: Group, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in group.log.read_text(errors="replace"):
                return
            if not group.alive():
                break
            time.sleep(0.2)
        report = self.logs()
        self.stop()
        raise RuntimeError(f"{group.name} did not say {text!r} within {timeout} s\n{report}")

    def group(self, name: str) -> Group:
        return next(g for g in self.groups if g.name == name)

    def logs(self) -> str:
        return "\n".join(g.tail() for g in self.groups)

    def stop(self) -> None:
        for group in reversed(self.groups):  # workers before their head or scheduler
            group.kill()
        shutil.rmtree(self.workdir, ignore_errors=True)


def _ray_ports() -> list[str]:
    names = ("node-manager-port", "object-manager-port", "dashboard-agent-listen-port",
             "dashboard-agent-grpc-port", "runtime-env-agent-port", "metrics-export-port")
    return [f"--{name}={free_port()}" for name in names]


def start_ray(node2_gpus: int = 1, timeout: float = 120.0) -> Cluster:
    """``ray start --head`` (1 CPU) plus a second node (1 CPU, ``node2_gpus`` logical GPUs),
    joined through Ray Client at ``ray://127.0.0.1:<client port>``."""
    port, client_port = free_port(), free_port()
    workdir = Path(tempfile.mkdtemp(prefix="lxr-", dir="/tmp"))  # short: Ray's socket paths
    cluster = Cluster("ray", f"ray://127.0.0.1:{client_port}", workdir)
    ray = str(BIN / "ray")
    common = ["--node-ip-address=127.0.0.1", "--object-store-memory=100000000", "--block",
              "--disable-usage-stats"]
    head = cluster.start("ray-head", [
        ray, "start", "--head", f"--port={port}", f"--ray-client-server-port={client_port}",
        "--num-cpus=1", "--num-gpus=0", "--include-dashboard=false", f"--temp-dir={workdir}",
        *_ray_ports(), *common,
    ])
    cluster.wait_for(head, "Ray runtime started", timeout)
    node = cluster.start("ray-node2", [
        ray, "start", f"--address=127.0.0.1:{port}", "--num-cpus=1", f"--num-gpus={node2_gpus}",
        *_ray_ports(), *common,
    ])
    cluster.wait_for(node, "Ray runtime started", timeout)
    return cluster


def start_dask(workers: int = 2, gpu_on_last: bool = True, timeout: float = 60.0) -> Cluster:
    """``dask scheduler`` plus ``workers`` single-threaded ``dask worker`` processes (the
    last with a ``gpu=1`` resource), on loopback, no dashboards."""
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="lxd-", dir="/tmp"))
    cluster = Cluster("dask", f"dask://127.0.0.1:{port}", workdir)
    dask = str(BIN / "dask")
    scheduler = cluster.start("dask-scheduler", [
        dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard", "--no-show",
    ])
    cluster.wait_for(scheduler, "Scheduler at:", timeout)
    for n in range(1, workers + 1):
        resources = ["--resources", "gpu=1"] if gpu_on_last and n == workers else []
        worker = cluster.start(f"dask-worker{n}", [
            dask, "worker", f"tcp://127.0.0.1:{port}", "--host", "127.0.0.1", "--nthreads", "1",
            "--nworkers", "1", "--no-dashboard", "--memory-limit", "2GiB", "--death-timeout", "20",
            "--name", f"w{n}", *resources,
        ])
        cluster.wait_for(worker, "Registered to:", timeout)
    return cluster


def parent_of(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def ancestors(pid: int) -> list[int]:
    """``pid``'s parent, grandparent ... up to init."""
    found = []
    while pid > 1:
        pid = parent_of(pid)
        found.append(pid)
    return found


def started_by(pid: int, groups: list[Group]) -> str:
    """The name of the test-started process (node, worker) that ``pid`` descends from."""
    above = set(ancestors(pid))
    return next((g.name for g in groups if g.process.pid in above), "none")
