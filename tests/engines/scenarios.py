"""The pipelines the engine tests run on every executor, and how their outputs compare.

An output is compared as its commit's tree hash (a Merkle root over every path and
content hash: equal hashes mean byte-identical commits) plus every file's bytes.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import loxo
from loxo.model.jobs import JobInfo, JobState
from loxo.model.refs import Commit, FileKind
from loxo.pfs.lookup import resolve

ROOT = Path(__file__).resolve().parents[2]
IRIS = ROOT / "examples" / "iris"
IRIS_OUTPUTS = ("pre_process", "train", "inference")
Snapshot = tuple[str | None, dict[str, bytes]]


def snapshot(client: loxo.Client, repo: str) -> Snapshot:
    """The output commit of ``repo@master``: (tree hash, {path: bytes})."""
    with client.pfs.store.db.read() as conn:
        _, commit = resolve(conn, Commit(repo, "master"))
    files = {f.path: client.get_file(f"{repo}@master:{f.path}")
             for f in client.walk_file(f"{repo}@master:/") if f.kind is FileKind.FILE}
    return commit.tree, files


def open_client(home: Path, executor: str, sandbox: bool = True) -> loxo.Client:
    return loxo.Client(home, executor=executor, sandbox=sandbox, scratch=home.parent / "scratch")


def run_iris(home: Path, executor: str) -> dict[str, Snapshot]:
    """The iris workshop's three pipelines (run from the repository root, as their specs
    name ``examples/iris/code/...``); every job must succeed."""
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        with open_client(home, executor) as client:
            client.create_repo("training")
            client.create_repo("attributes")
            client.put_file("training@master:/iris.csv", str(IRIS / "data" / "iris.csv"))
            for name in ("test1.csv", "test2.csv"):
                client.put_file(f"attributes@master:/{name}", str(IRIS / "data" / name))
            for spec in ("pre_process", "train", "infer"):
                client.create_pipeline(IRIS / f"{spec}.json")
            for job in client.list_job():
                assert job.state is JobState.SUCCESS, (job.pipeline, job.reason)
            return {repo: snapshot(client, repo) for repo in IRIS_OUTPUTS}
    finally:
        os.chdir(cwd)


TRIVIAL = 'n=$(basename "$in"); echo "ok $(cat "$in")" > "/pfs/out/$n"; echo "did $n"'


def trivial_spec(name: str = "trivial", cmd: str = TRIVIAL, parallelism: int = 2,
                 **extra: Any) -> dict[str, Any]:
    return {"pipeline": {"name": name}, "transform": {"cmd": ["sh", "-c", cmd], **extra.pop("transform", {})},
            "parallelism_spec": {"constant": parallelism},
            "input": {"pfs": {"repo": "data", "glob": "/*", "name": "in"}}, **extra}


def put_numbers(client: loxo.Client, count: int) -> None:
    client.create_repo("data")
    client.put_files("data@master", [loxo.Source(f"/f{i:05d}", data=f"{i}\n".encode())
                                     for i in range(count)])


def run_spec(client: loxo.Client, tmp: Path, spec: dict[str, Any]) -> JobInfo:
    """Create the pipeline (its job runs now) and return the job."""
    path = tmp / f"{spec['pipeline']['name']}.json"
    path.write_text(json.dumps(spec))
    client.create_pipeline(path)
    return client.list_job(spec["pipeline"]["name"])[0]


def run_trivial(home: Path, executor: str, count: int) -> tuple[JobInfo, Snapshot, list[str]]:
    """``count`` datums of a shell one-liner: (job, output, log lines of user code)."""
    with open_client(home, executor) as client:
        put_numbers(client, count)
        job = run_spec(client, home.parent, trivial_spec())
        lines = [entry.line for entry in client.logs("trivial")]
        return job, snapshot(client, "trivial"), lines


class Killer:
    """Watches ``marks`` (user code writes its parent's pid there: the sandbox runner) and
    SIGKILLs the engine worker process above that runner once, mid-job."""

    def __init__(self, marks: Path, is_worker: Callable[[str], bool]) -> None:
        self.marks = marks
        self.is_worker = is_worker
        self.killed: list[tuple[int, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> Killer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _watch(self) -> None:
        from tests.engines.clusters import parent_of

        while not self._stop.is_set() and not self.killed:
            for mark in sorted(self.marks.glob("*.pid")):
                try:
                    runner = int(mark.read_text().strip() or 0)
                    worker = parent_of(runner)
                    cmdline = Path(f"/proc/{worker}/cmdline").read_bytes().replace(b"\0", b" ").decode()
                except (OSError, ValueError):
                    continue
                if self.is_worker(cmdline):
                    os.kill(worker, 9)
                    self.killed.append((worker, cmdline))
                    return
            time.sleep(0.05)


def slow_marked_spec(marks: Path, name: str = "slow", sleep: float = 0.3) -> dict[str, Any]:
    """A trivial pipeline whose user code leaves its runner's pid in ``marks`` and sleeps,
    so a test can kill the engine worker running it."""
    cmd = (f'echo $PPID > "$MARKS/$(basename "$in").pid"; sleep {sleep}; '
           'n=$(basename "$in"); echo "ok $(cat "$in")" > "/pfs/out/$n"')
    return trivial_spec(name, cmd, transform={"env": {"MARKS": str(marks)}})
