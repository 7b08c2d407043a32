"""A server killed with SIGKILL in the middle of a job, again and again, resumes that job
when restarted and ends with exactly the output an uninterrupted run gives."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import loxo
from loxo.model.jobs import JobState
from loxo.pps.spec import spec_from_dict
from tests.support.server import start_server

DATUMS = 16
SPEC = {
    "pipeline": {"name": "slow"},
    "transform": {"cmd": ["sh", "-c", "sleep 0.3; tr a-z A-Z < $in > /pfs/out/$(basename $in)"]},
    "input": {"pfs": {"repo": "data", "glob": "/*", "name": "in"}},
}
EXPECTED = {f"/f{i:02d}": f"DATUM {i}".encode() for i in range(DATUMS)}


def _processed(client: loxo.RemoteClient) -> int:
    jobs = client.list_job("slow")
    return jobs[0].data_processed if jobs else 0


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_killed_server_resumes_the_job_with_the_same_output(tmp_path: Path) -> None:
    home = tmp_path / "store"
    server = start_server(home)
    client = loxo.RemoteClient(server.url, auto_run=False)
    client.create_repo("data")
    client.put_files("data@master", [loxo.Source(p, data=d.lower()) for p, d in EXPECTED.items()])
    client.create_pipeline(spec_from_dict(SPEC))
    kills = 0
    seen = 0
    deadline = time.monotonic() + 200
    while time.monotonic() < deadline:
        processed = _processed(client)
        if processed >= DATUMS:
            break
        if processed > seen and kills < 3:  # progress since the last restart: kill now
            server.kill()
            kills += 1
            server = start_server(home)
            client = loxo.RemoteClient(server.url, auto_run=False)
            seen = _processed(client)
        time.sleep(0.1)
    job = client.wait_job(f"slow@{client.list_job('slow')[0].id}", timeout=120)
    try:
        assert kills == 3
        assert job.state is JobState.SUCCESS, server.log_tail()
        assert job.restart >= 1
        assert job.data_processed + job.data_skipped == DATUMS
        got = {f.path: client.get_file(f"slow@master:{f.path}") for f in client.list_file("slow@master")}
        assert got == EXPECTED
        assert len(client.list_job("slow")) == 1  # resumed, not started over as a new job
    finally:
        server.stop()
