"""Workers start on a job's first datums while the rest is still planned (a million
datums take a minute to plan). The thresholds are lowered and the planner slowed so
that a small job streams: real workers, real sandbox."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import loxo
from loxo.model.jobs import JobState
from loxo.pps import runner
from loxo.pps.set_stream import SetStream

N = 24


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[loxo.Client]:
    monkeypatch.setattr(runner, "_ROW_BATCH", 4)
    monkeypatch.setattr(runner, "_STREAM_AT", 4)
    monkeypatch.setattr(runner, "_EARLY_SET", 3)
    with loxo.Client(tmp_path / "store") as c:
        c.create_repo("data")
        c.put_files("data@master", [loxo.Source(f"/f{i:02d}", data=f"{i}\n".encode()) for i in range(N)])
        yield c


@pytest.fixture
def given_before_the_plan_ended(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many datums workers had been handed when the plan was complete."""
    seen: list[int] = []
    finish = SetStream.finish

    def recording(self: SetStream, *args: Any) -> None:
        seen.append(self._given)
        finish(self, *args)

    monkeypatch.setattr(SetStream, "finish", recording)
    return seen


def slow_planner(monkeypatch: pytest.MonkeyPatch, fail_at: int | None = None, pause: float = 0.25) -> None:
    """Each batch of rows takes ``pause`` more to record, so the workers (up in ~0.5 s)
    come while the plan is still going; ``fail_at``: that batch fails instead."""
    insert = runner._insert
    calls = [0]

    def slowly(pfs: Any, rows: list[dict[str, Any]]) -> None:
        calls[0] += 1
        if calls[0] == fail_at:
            raise OSError("no space left on device")
        insert(pfs, rows)
        time.sleep(pause)

    monkeypatch.setattr(runner, "_insert", slowly)


def spec_file(tmp_path: Path, spec: dict[str, Any]) -> Path:
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    return path


def spec(**extra: Any) -> dict[str, Any]:
    return {
        "pipeline": {"name": "copy"},
        "transform": {"cmd": ["sh", "-c", "cp /pfs/in/* /pfs/out/"]},
        "input": {"pfs": {"repo": "data", "glob": "/*", "name": "in"}},
        "parallelism_spec": {"constant": 2},
        **extra,
    }


def test_workers_start_before_the_plan_ends_and_every_datum_runs_once(
    client: loxo.Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    given_before_the_plan_ended: list[int],
) -> None:
    slow_planner(monkeypatch)
    client.create_pipeline(spec_file(tmp_path, spec()))
    assert given_before_the_plan_ended and given_before_the_plan_ended[0] > 0
    job = client.list_job("copy")[0]
    assert job.state is JobState.SUCCESS
    assert (job.data_processed, job.data_skipped, job.data_total) == (N, 0, N)
    assert [client.get_file(f"copy@master:/f{i:02d}") for i in range(N)] == [
        f"{i}\n".encode() for i in range(N)]
    assert len(client.list_datum(f"copy@{job.id}")) == N
    assert client.fsck() == []


def test_a_plan_failing_while_workers_run_fails_the_job_cleanly(
    client: loxo.Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    given_before_the_plan_ended: list[int],
) -> None:
    slow_planner(monkeypatch, fail_at=4)
    client.create_pipeline(spec_file(tmp_path, spec()))
    job = client.list_job("copy")[0]
    assert job.state is JobState.FAILURE
    assert "no space left on device" in job.reason
    assert client.list_commit("copy") == []  # nothing landed
    client.put_file("data@master:/f99", b"99\n")  # the next job runs (and plans) fine
    job = client.list_job("copy")[0]
    assert job.state is JobState.SUCCESS and job.data_processed == N + 1


def test_a_job_timing_out_while_planned_stops_the_planner_too(
    client: loxo.Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    slow_planner(monkeypatch, pause=0.6)  # 3.6 s to plan
    slow = spec(job_timeout="1s")
    slow["transform"]["cmd"] = ["sh", "-c", "sleep 0.3; cp /pfs/in/* /pfs/out/"]
    started = time.monotonic()
    client.create_pipeline(spec_file(tmp_path, slow))
    job = client.list_job("copy")[0]
    assert job.state is JobState.KILLED and "timed out" in job.reason
    assert time.monotonic() - started < 10  # neither planner nor workers kept it going
    assert job.data_total < N  # the planner stopped before planning everything
    # the workers stopped mid-set are not replaced (they were, and outlived the job)
    assert _my_workers() == []


def _my_workers() -> list[int]:
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes()
            parent = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except OSError:  # it ended meanwhile
            continue
        if b"loxo.worker.serve" in cmdline and parent == os.getpid():
            found.append(int(proc.name))
    return found
