"""The Ray executor on a real two-node Ray cluster (``ray start --head`` and a second
node, loopback, joined with Ray Client), compared with the local executor."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from loxo.model.jobs import JobState
from tests.engines import cases
from tests.engines.clusters import Cluster, start_ray
from tests.engines.scenarios import Killer, Snapshot, open_client, put_numbers, run_spec, slow_marked_spec

pytestmark = [pytest.mark.engines, pytest.mark.slow]


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[Cluster]:
    pytest.importorskip("ray")
    cluster = start_ray(node2_gpus=1)
    yield cluster
    cluster.stop()


def _ray_worker(cmdline: str) -> bool:
    return cmdline.startswith("ray::") or "default_worker.py" in cmdline


@pytest.mark.timeout(240)
def test_iris_on_ray_matches_local(
    ray_cluster: Cluster, store: Path, local_iris: dict[str, Snapshot]
) -> None:
    cases.iris_matches_local(ray_cluster.address, store, local_iris)


@pytest.mark.timeout(240)
def test_2000_datums_on_ray_match_local(ray_cluster: Cluster, store: Path, local_trivial: Snapshot) -> None:
    cases.trivial_matches_local(ray_cluster.address, store, local_trivial)


@pytest.mark.timeout(180)
def test_a_killed_ray_worker_is_retried(ray_cluster: Cluster, store: Path) -> None:
    cases.killed_worker_is_retried(ray_cluster.address, store, _ray_worker)


@pytest.mark.timeout(120)
def test_user_failures_on_ray_are_not_infrastructure(ray_cluster: Cluster, store: Path) -> None:
    cases.user_failures_are_not_infrastructure(ray_cluster.address, store)


@pytest.mark.timeout(120)
def test_unsatisfiable_request_fails_fast_on_ray(ray_cluster: Cluster, store: Path) -> None:
    cases.unsatisfiable_request_fails_fast(ray_cluster.address, store, "no node of the Ray cluster")


@pytest.mark.timeout(120)
def test_gpu_request_runs_on_the_ray_gpu_node(ray_cluster: Cluster, store: Path) -> None:
    cases.gpu_request_runs_on_the_gpu_node(ray_cluster, store, "ray-node2")


@pytest.mark.timeout(120)
def test_ray_workers_keep_their_sandbox_between_sets(ray_cluster: Cluster, store: Path) -> None:
    cases.workers_are_long_lived(ray_cluster.address, store, most=4)  # Ray may start a spare


@pytest.mark.timeout(180)
def test_a_killed_head_fails_the_job_with_the_reason(ray_cluster: Cluster, store: Path) -> None:
    """Last: it kills the cluster. The job ends failed, saying the cluster was lost."""
    marks = store.parent / "marks"
    marks.mkdir()
    head = ray_cluster.group("ray-head")

    def kill_head(cmdline: str) -> bool:
        if _ray_worker(cmdline):  # a datum runs: kill the head (GCS, client server) only
            head.kill()
        return False  # and no worker

    started = time.monotonic()
    with open_client(store, f"{ray_cluster.address}?timeout=20", sandbox=False) as client:
        put_numbers(client, 20)
        with Killer(marks, kill_head):
            job = run_spec(client, store.parent, slow_marked_spec(marks, sleep=1.0) | {
                "parallelism_spec": {"constant": 1}})
    assert not head.alive()
    assert job.state is JobState.FAILURE
    assert "could not run datums" in job.reason and "Ray cluster at ray://" in job.reason, job.reason
    assert time.monotonic() - started < 150
