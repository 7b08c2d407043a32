"""Fixtures shared by every tier: a client on a fresh store, and a repo in it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

import loxo
from tests.support.inprocess import serve_in_process


@pytest.fixture(scope="session")
def empty_store_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A freshly created (migrated) store, copied by ``home`` so tests skip the migration."""
    path = tmp_path_factory.mktemp("template") / "store"
    loxo.Client(path).close()
    return path


@pytest.fixture
def home(tmp_path: Path, empty_store_template: Path) -> Path:
    """Where a test's store lives: an empty store of its own."""
    target = tmp_path / "store"
    shutil.copytree(empty_store_template, target)
    return target


@pytest.fixture(params=["embedded", "remote"])
def client(request: pytest.FixtureRequest, home: Path) -> Iterator[loxo.ClientBase]:
    """Every verb on an empty store: through the embedded ``Client``, and through a
    ``RemoteClient`` talking to a server (in-process) on that store."""
    if request.param == "embedded":
        with loxo.Client(home) as c:
            yield c
        return
    if request.node.get_closest_marker("embedded_only"):
        pytest.skip("reaches into the embedded store's internals")
    with serve_in_process(home) as remote:
        remote.home = home  # type: ignore[attr-defined] - tests look at the store's files
        yield remote


@pytest.fixture
def repo(client: loxo.Client) -> str:
    """The name of an empty repo, ``data``."""
    client.create_repo("data")
    return "data"
