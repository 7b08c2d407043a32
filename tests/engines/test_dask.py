"""The Dask executor on a real Dask cluster (``dask scheduler`` and two ``dask worker``
processes, loopback), compared with the local executor."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from loxo.model.jobs import JobState
from tests.engines import cases
from tests.engines.clusters import BIN, ROOT, Cluster, start_dask
from tests.engines.scenarios import (
    Killer,
    Snapshot,
    open_client,
    put_numbers,
    run_spec,
    run_trivial,
    slow_marked_spec,
    snapshot,
    trivial_spec,
)
from tests.support.server import start_server

pytestmark = [pytest.mark.engines, pytest.mark.slow]


@pytest.fixture(scope="module")
def dask_cluster() -> Iterator[Cluster]:
    pytest.importorskip("distributed")
    cluster = start_dask(workers=2, gpu_on_last=True)
    yield cluster
    cluster.stop()


def _dask_worker(cmdline: str) -> bool:
    return "multiprocessing" in cmdline or "dask" in cmdline or "distributed" in cmdline


@pytest.mark.timeout(240)
def test_iris_on_dask_matches_local(
    dask_cluster: Cluster, store: Path, local_iris: dict[str, Snapshot]
) -> None:
    cases.iris_matches_local(dask_cluster.address, store, local_iris)


@pytest.mark.timeout(240)
def test_2000_datums_on_dask_match_local(dask_cluster: Cluster, store: Path, local_trivial: Snapshot) -> None:
    cases.trivial_matches_local(dask_cluster.address, store, local_trivial)


@pytest.mark.timeout(180)
def test_a_killed_dask_worker_is_retried(dask_cluster: Cluster, store: Path) -> None:
    cases.killed_worker_is_retried(dask_cluster.address, store, _dask_worker)


@pytest.mark.timeout(120)
def test_user_failures_on_dask_are_not_infrastructure(dask_cluster: Cluster, store: Path) -> None:
    cases.user_failures_are_not_infrastructure(dask_cluster.address, store)


@pytest.mark.timeout(120)
def test_unsatisfiable_request_fails_fast_on_dask(dask_cluster: Cluster, store: Path) -> None:
    cases.unsatisfiable_request_fails_fast(dask_cluster.address, store, "no worker of the Dask scheduler")


@pytest.mark.timeout(120)
def test_gpu_request_runs_on_the_dask_gpu_worker(dask_cluster: Cluster, store: Path) -> None:
    cases.gpu_request_runs_on_the_gpu_node(dask_cluster, store, "dask-worker2")


@pytest.mark.timeout(120)
def test_dask_workers_keep_their_sandbox_between_sets(dask_cluster: Cluster, store: Path) -> None:
    cases.workers_are_long_lived(dask_cluster.address, store, most=2)


@pytest.mark.timeout(120)
def test_a_local_dask_cluster_started_by_the_executor(store: Path) -> None:
    """``dask``: a scheduler and workers of this machine, started and stopped by loxo."""
    pytest.importorskip("distributed")
    job, output, _ = run_trivial(store, "dask?workers=2", 40)
    assert job.state is JobState.SUCCESS and job.data_processed == 40, job.reason
    assert output[1]["/f00039"] == b"ok 39\n"
    assert not (store.parent / "scratch").exists()  # the stopped workers' scratch is removed


@pytest.mark.timeout(180)
def test_cli_and_server_take_the_executor(dask_cluster: Cluster, tmp_path: Path) -> None:
    """``LOXO_EXECUTOR`` on a CLI command, and ``--executor`` on ``loxo serve``."""
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(trivial_spec()))
    env = {**os.environ, "LOXO_EXECUTOR": dask_cluster.address}
    loxo = str(BIN / "loxo")
    for home, server in ((tmp_path / "cli", None), (tmp_path / "served", True)):
        with open_client(home, "local") as client:
            put_numbers(client, 20)
        prefix = [loxo, "--home", str(home)]
        proc = None
        if server:
            proc = start_server(home, "--executor", dask_cluster.address)
            prefix = [loxo, "--address", proc.url]
        try:
            subprocess.run([*prefix, "create", "pipeline", "-f", str(spec)], env=env, cwd=ROOT,
                           check=True, capture_output=True, timeout=120)
            if proc is not None:
                assert "datums on dask://" in proc.log.read_text()
        finally:
            if proc is not None:
                proc.stop()
        with open_client(home, "local") as client:
            job = client.list_job("trivial")[0]
            assert job.state is JobState.SUCCESS and job.data_processed == 20, job.reason
            assert snapshot(client, "trivial")[1]["/f00007"] == b"ok 7\n"


@pytest.mark.timeout(180)
def test_a_killed_scheduler_fails_the_job_with_the_reason(dask_cluster: Cluster, store: Path) -> None:
    """Last: it kills the scheduler. The job ends failed, saying the scheduler was lost."""
    marks = store.parent / "marks"
    marks.mkdir()
    scheduler = dask_cluster.group("dask-scheduler")

    def kill_scheduler(cmdline: str) -> bool:
        if _dask_worker(cmdline):
            scheduler.kill()
        return False

    started = time.monotonic()
    with open_client(store, f"{dask_cluster.address}?timeout=20", sandbox=False) as client:
        put_numbers(client, 20)
        with Killer(marks, kill_scheduler):
            job = run_spec(client, store.parent, slow_marked_spec(marks, sleep=1.0) | {
                "parallelism_spec": {"constant": 1}})
    assert not scheduler.alive()
    assert job.state is JobState.FAILURE
    assert "could not run datums" in job.reason and "Dask scheduler at tcp://" in job.reason, job.reason
    assert time.monotonic() - started < 120
