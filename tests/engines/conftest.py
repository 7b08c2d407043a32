"""Fixtures of the engine tests: what the local executor makes (the reference every
engine's output must equal), and the environment Ray wants in tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.engines.clusters import ENGINE_ENV
from tests.engines.scenarios import Snapshot, run_iris, run_trivial

TRIVIAL_COUNT = 2000


@pytest.fixture(scope="session", autouse=True)
def _engine_env() -> Iterator[None]:
    """Ray's token auth and usage stats off for this process too (the clusters run
    with them off); restored afterwards."""
    saved = {k: os.environ.get(k) for k in ENGINE_ENV}
    os.environ.update(ENGINE_ENV)
    yield
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def local_iris(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Snapshot]:
    """The iris outputs as the local executor makes them."""
    return run_iris(tmp_path_factory.mktemp("local-iris") / "store", "local")


@pytest.fixture(scope="session")
def local_trivial(tmp_path_factory: pytest.TempPathFactory) -> Snapshot:
    """The 2,000-datum trivial pipeline's output as the local executor makes it."""
    job, output, _ = run_trivial(tmp_path_factory.mktemp("local-trivial") / "store", "local", TRIVIAL_COUNT)
    assert job.data_processed == TRIVIAL_COUNT, job.reason
    return output


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "store"
