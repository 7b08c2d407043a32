"""The tests every engine passes, written once; ``test_ray`` and ``test_dask`` run them
against a real cluster of their engine (``address``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from loxo.executors.engine import INFRASTRUCTURE
from loxo.model.jobs import DatumState, JobState
from tests.engines.clusters import Cluster, started_by
from tests.engines.conftest import TRIVIAL_COUNT
from tests.engines.scenarios import (
    Killer,
    Snapshot,
    open_client,
    put_numbers,
    run_iris,
    run_spec,
    run_trivial,
    slow_marked_spec,
    snapshot,
    trivial_spec,
)


def iris_matches_local(address: str, store: Path, local_iris: dict[str, Snapshot]) -> None:
    assert run_iris(store, address) == local_iris


def trivial_matches_local(address: str, store: Path, local_trivial: Snapshot) -> None:
    job, output, lines = run_trivial(store, address, TRIVIAL_COUNT)
    assert job.state is JobState.SUCCESS, job.reason
    assert (job.data_processed, job.data_failed) == (TRIVIAL_COUNT, 0)
    assert output == local_trivial
    # user code's output reached loxo's log store, line by line, as with the local executor
    assert sorted(lines) == sorted(f"did f{i:05d}" for i in range(TRIVIAL_COUNT))


def killed_worker_is_retried(address: str, store: Path, is_worker: Callable[[str], bool]) -> None:
    """SIGKILL the engine worker process that runs a datum, mid-job: its set runs again on
    another worker and the output equals the local executor's, byte for byte."""
    marks = store.parent / "marks"
    marks.mkdir()
    spec = slow_marked_spec(marks, sleep=0.4)
    with open_client(store.parent / "local", "local", sandbox=False) as client:
        put_numbers(client, 16)
        run_spec(client, store.parent, spec)
        expected = snapshot(client, "slow")
    for mark in marks.iterdir():
        mark.unlink()
    with open_client(store, address, sandbox=False) as client, Killer(marks, is_worker) as killer:
        put_numbers(client, 16)
        job = run_spec(client, store.parent, spec)
        assert killer.killed, "no engine worker was found to kill"
        assert job.state is JobState.SUCCESS, job.reason
        assert job.data_processed == 16
        assert snapshot(client, "slow") == expected


def user_failures_are_not_infrastructure(address: str, store: Path) -> None:
    with open_client(store, address) as client:
        put_numbers(client, 4)
        spec = trivial_spec("fails", 'echo "bad $in" >&2; exit 3', parallelism=2, datum_tries=1)
        job = run_spec(client, store.parent, spec)
        assert job.state is JobState.FAILURE
        datums = client.list_datum(f"fails@{job.id}")
        assert {d.state for d in datums} == {DatumState.FAILED}
        assert all("exited with code 3" in d.error and INFRASTRUCTURE not in d.error for d in datums)
        assert any(e.line.startswith("bad ") for e in client.logs("fails"))


def unsatisfiable_request_fails_fast(address: str, store: Path, words: str) -> None:
    with open_client(store, address) as client:
        put_numbers(client, 3)
        started = time.monotonic()
        job = run_spec(client, store.parent, trivial_spec("huge", resource_requests={"cpu": 64}))
        assert time.monotonic() - started < 60
        assert job.state is JobState.FAILURE
        assert "can satisfy the resource requests (cpu=64)" in job.reason, job.reason
        assert words in job.reason, job.reason


def gpu_request_runs_on_the_gpu_node(cluster: Cluster, store: Path, gpu_node: str) -> None:
    """A set asking for a GPU runs only where one is declared (the last node/worker)."""
    marks = store.parent / "marks"
    marks.mkdir()
    spec = slow_marked_spec(marks, name="gpu", sleep=0.0)
    spec["resource_requests"] = {"gpu": {"number": 1}}
    with open_client(store, cluster.address, sandbox=False) as client:
        put_numbers(client, 6)
        job = run_spec(client, store.parent, spec)
        assert job.state is JobState.SUCCESS, job.reason
        # the runners (user code's parents) live on in the engine's long-lived workers
        nodes = {started_by(int(m.read_text()), cluster.groups) for m in marks.glob("*.pid")}
    assert nodes == {gpu_node}


def workers_are_long_lived(address: str, store: Path, most: int) -> None:
    """Eight sets on two engine workers: each worker keeps its sandbox (the runner that
    starts user code) for every set it runs, so there are at most ``most`` runners."""
    marks = store.parent / "marks"
    marks.mkdir()
    with open_client(store, address, sandbox=False) as client:
        put_numbers(client, 16)
        job = run_spec(client, store.parent, slow_marked_spec(marks, name="reuse", sleep=0.0))
        assert job.state is JobState.SUCCESS, job.reason
    runners = {m.read_text().strip() for m in marks.glob("*.pid")}
    assert 1 <= len(runners) <= most, runners
