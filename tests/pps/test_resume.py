"""A job whose runner is killed (SIGKILL) is resumed by the next controller and ends
with exactly the output an uninterrupted run gives."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import loxo
from loxo.model.jobs import JobState
from loxo.pps import leases

DATUMS = 12
SPEC = {
    "pipeline": {"name": "slow"},
    "transform": {"cmd": ["sh", "-c", "sleep 0.25; tr a-z A-Z < $in > /pfs/out/$(basename $in)"]},
    "input": {"pfs": {"repo": "data", "glob": "/*", "name": "in"}},
}


def _fill(home: Path, spec_path: Path) -> None:
    c = loxo.Client(home, auto_run=False)
    c.create_repo("data")
    c.put_files("data@master", [loxo.Source(f"/f{i:02d}", data=f"datum {i}".encode())
                                for i in range(DATUMS)])
    spec_path.write_text(json.dumps(SPEC))
    c.close()


def _output(c: loxo.Client) -> dict[str, bytes]:
    return {f.path: c.get_file(f"slow@master:{f.path}") for f in c.list_file("slow@master")}


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_killed_job_resumes_with_the_same_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home, spec = tmp_path / "store", tmp_path / "spec.json"
    _fill(home, spec)
    runner = subprocess.Popen(
        [sys.executable, "-c",
         f"import loxo; loxo.Client({str(home)!r}).create_pipeline({str(spec)!r})"],
        start_new_session=True,
    )
    c = loxo.Client(home, auto_run=False)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # kill it part way through the job
        jobs = c.list_job("slow") if c.list_pipeline() else []
        if jobs and 2 <= jobs[0].data_processed < DATUMS - 2:
            break
        time.sleep(0.05)
    os.killpg(runner.pid, signal.SIGKILL)
    runner.wait()
    interrupted = c.list_job("slow")[0]
    assert interrupted.state is JobState.RUNNING
    assert 0 < interrupted.data_processed < DATUMS

    monkeypatch.setattr(leases, "LEASE", 0.5)
    c.run_pending()  # the lease is still fresh: the job is left alone
    time.sleep(0.6)
    c.run_pending()
    job = c.inspect_job(f"slow@{interrupted.id}")
    assert job.state is JobState.SUCCESS, job.reason
    assert job.restart == 1 and job.data_processed == DATUMS
    resumed = _output(c)
    assert resumed == {f"/f{i:02d}": f"DATUM {i}".encode() for i in range(DATUMS)}
    assert c.fsck() == [] or all(p.severity == "warning" for p in c.fsck())

    # The same data through an uninterrupted run gives the same tree, to the hash.
    other, other_spec = tmp_path / "other", tmp_path / "other.json"
    _fill(other, other_spec)
    fresh = loxo.Client(other)
    fresh.create_pipeline(other_spec)
    assert _output(fresh) == resumed
    assert fresh.inspect_file("slow@master:/").hash == c.inspect_file("slow@master:/").hash


def test_a_live_runner_keeps_its_job(tmp_path: Path) -> None:
    home, spec = tmp_path / "store", tmp_path / "spec.json"
    _fill(home, spec)
    c = loxo.Client(home, auto_run=False)
    c.create_pipeline(spec)
    pipeline_jobs = c.pps.pfs.store.db
    from loxo.pps.controller import reconcile

    [pk] = reconcile(c.pfs)
    assert leases.claim(c.pfs, pk)  # this process now holds it ...
    with pipeline_jobs.write() as conn:  # ... and says it is running
        from sqlalchemy import update

        from loxo.meta import schema

        conn.execute(update(schema.jobs).where(schema.jobs.c.pk == pk).values(state="running"))
    assert not leases.claim(c.pfs, pk)
    assert leases.abandoned(c.pfs) == []
