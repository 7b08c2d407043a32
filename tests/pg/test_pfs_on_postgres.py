"""Real scenarios with the metadata in PostgreSQL (objects on local disk): repos,
branches, commits and files; concurrent writers; a pipeline chain; a job resumed after
its runner was killed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import loxo
from loxo.errors import CommitOpen
from loxo.model import FileKind
from loxo.model.jobs import JobState
from loxo.pps import leases

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


@pytest.fixture
def pg(tmp_path: Path, pg_url: str) -> Iterator[loxo.Client]:
    """A client whose metadata lives in a fresh PostgreSQL database."""
    with loxo.Client(tmp_path / "store", db=pg_url) as c:
        yield c


def _spec(tmp_path: Path, name: str, repo: str, script: str) -> Path:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({
        "pipeline": {"name": name},
        "transform": {"cmd": ["sh", "-c", script]},
        "input": {"pfs": {"repo": repo, "glob": "/*", "name": "in"}},
    }))
    return path


def test_repos_branches_commits_and_files(pg: loxo.Client) -> None:
    pg.create_repo("data", description="on postgres")
    first = pg.put_file("data@master:/a.txt", b"A")
    pg.put_file("data@master:/dir/b.txt", b"B" * 100_000)
    pg.start_commit("data@master")
    with pytest.raises(CommitOpen):
        pg.start_commit("data@master")
    pg.put_file("data@master:/c.txt", b"C")
    assert [f.path for f in pg.list_file("data@master")] == ["/a.txt", "/dir"]  # open: invisible
    finished = pg.finish_commit("data@master", description="third")
    assert [f.path for f in pg.list_file("data@master")] == ["/a.txt", "/c.txt", "/dir"]
    history = pg.list_commit("data@master")
    assert history[0].id == finished.id and history[-1].id == first.id
    assert finished.size_bytes == 100_002 and finished.description == "third"
    pg.create_branch("data@dev", head=f"data@{first.id}")
    assert pg.get_file("data@dev:/a.txt") == b"A"
    assert [b.name for b in pg.list_branch("data")] == ["dev", "master"]
    pg.delete_commit("data@master")
    assert pg.inspect_commit("data@master").id == history[1].id
    assert pg.inspect_repo("data").description == "on postgres"
    assert [p for p in pg.fsck() if p.severity == "error"] == []


WRITER = """
import sys, loxo
home, url, tag, n = sys.argv[1:]
with loxo.Client(home, db=url) as c:
    for i in range(int(n)):
        c.put_file(f"data@master:/{tag}/{i}", f"{tag}-{i}".encode())
"""


def test_two_processes_putting_to_one_branch_lose_nothing(pg: loxo.Client, pg_url: str) -> None:
    """Each put is its own commit on top of the other's: the branch compare-and-swap
    holds across processes, so no commit is lost and history stays one chain."""
    pg.create_repo("data")
    n = 15
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(pg.home), pg_url, tag, str(n)])
               for tag in ("x", "y")]
    assert [w.wait(120) for w in writers] == [0, 0]
    history = pg.list_commit("data@master")
    assert len(history) == 2 * n
    assert [c.parent for c in history[:-1]] == [c.id for c in history[1:]]  # one chain
    files = [f.path for f in pg.walk_file("data@master:/") if f.kind is FileKind.FILE]
    assert len(files) == 2 * n
    assert pg.get_file("data@master:/y/14") == b"y-14"


def test_only_one_of_two_simultaneous_start_commits_wins(pg: loxo.Client, pg_url: str) -> None:
    pg.create_repo("data")
    go = threading.Barrier(2)
    outcomes: list[str] = []

    def start() -> None:
        with loxo.Client(pg.home, db=pg_url) as c:
            go.wait()
            try:
                c.start_commit("data@master")
                outcomes.append("started")
            except CommitOpen:
                outcomes.append("refused")

    threads = [threading.Thread(target=start) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["refused", "started"]


def test_a_pipeline_chain_runs_skips_and_records_provenance(pg: loxo.Client, tmp_path: Path) -> None:
    pg.create_repo("data")
    pg.put_file("data@master:/a.txt", b"hello")
    pg.put_file("data@master:/b.txt", b"world")
    pg.create_pipeline(_spec(tmp_path, "upper", "data",
                             "tr a-z A-Z < $in > /pfs/out/$(basename $in)"))
    pg.create_pipeline(_spec(tmp_path, "count", "upper",
                             "wc -c < $in | tr -d ' ' > /pfs/out/$(basename $in)"))
    assert pg.get_file("upper@master:/a.txt") == b"HELLO"
    assert pg.get_file("count@master:/b.txt").strip() == b"5"

    commit = pg.put_file("data@master:/b.txt", b"worlds")
    [job] = [j for j in pg.list_job("upper") if j.id == commit.id]
    assert job.state is JobState.SUCCESS
    assert (job.data_processed, job.data_skipped, job.data_total) == (1, 1, 2)
    assert pg.get_file("count@master:/b.txt").strip() == b"6"
    assert ("data", commit.id) in pg.provenance("count@master")
    assert {j.pipeline for j in pg.list_job(job_id=commit.id)} == {"upper", "count"}


DATUMS = 10
RUNNER = """
import sys, loxo
home, url, spec = sys.argv[1:]
loxo.Client(home, db=url).create_pipeline(spec)
"""


def test_a_killed_job_is_resumed_by_the_next_controller(
    pg: loxo.Client, pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pg.auto_run = False
    pg.create_repo("data")
    pg.put_files("data@master", [loxo.Source(f"/f{i:02d}", data=f"datum {i}".encode())
                                 for i in range(DATUMS)])
    spec = _spec(tmp_path, "slow", "data", "sleep 0.25; tr a-z A-Z < $in > /pfs/out/$(basename $in)")
    runner = subprocess.Popen([sys.executable, "-c", RUNNER, str(pg.home), pg_url, str(spec)],
                              start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # kill it part way through the job
        jobs = pg.list_job("slow") if pg.list_pipeline() else []
        if jobs and 2 <= jobs[0].data_processed < DATUMS - 2:
            break
        time.sleep(0.05)
    os.killpg(runner.pid, signal.SIGKILL)
    runner.wait()
    interrupted = pg.list_job("slow")[0]
    assert interrupted.state is JobState.RUNNING and 0 < interrupted.data_processed < DATUMS

    monkeypatch.setattr(leases, "LEASE", 0.5)
    time.sleep(0.6)
    pg.run_pending()
    job = pg.inspect_job(f"slow@{interrupted.id}")
    assert job.state is JobState.SUCCESS, job.reason
    assert job.restart == 1 and job.data_processed == DATUMS
    assert {f.path: pg.get_file(f"slow@master:{f.path}") for f in pg.list_file("slow@master")} == {
        f"/f{i:02d}": f"DATUM {i}".encode() for i in range(DATUMS)}
