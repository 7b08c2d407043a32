"""Fixtures shared by every tier: a client on a fresh store, and a repo in it."""

from __future__ import annotations

import inspect
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

import loxo
from tests.support.inprocess import serve_in_process
from tests.support.postgres import PgServer, pg_server, pg_url
from tests.support.s3_fixture import s3_server
from tests.support.seaweed import S3Server

__all__ = ["pg_server", "pg_url", "s3_server"]  # fixtures for every tier


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


@pytest.fixture(params=["embedded", "remote", "remote-pg-s3"])
def client(request: pytest.FixtureRequest, home: Path) -> Iterator[loxo.ClientBase]:
    """Every verb on an empty store, three ways: the embedded ``Client``; a
    ``RemoteClient`` talking to a server (in-process) on that store; and the same on the
    production backends, a real PostgreSQL and a real S3-compatible store."""
    if request.param == "embedded":
        with loxo.Client(home) as c:
            yield c
        return
    if request.node.get_closest_marker("embedded_only"):
        pytest.skip("reaches into the embedded store's internals")
    backends: dict[str, str] = {}
    if request.param == "remote-pg-s3":
        if "home" in inspect.signature(request.node.function).parameters:
            pytest.skip("opens the store's directory itself, so it needs the embedded backends")
        pg: PgServer = request.getfixturevalue("pg_server")
        s3: S3Server = request.getfixturevalue("s3_server")
        backends = {"db": pg.new_database(), "storage": s3.url("store")}
    with serve_in_process(home, **backends) as remote:
        remote.home = home  # type: ignore[attr-defined] - tests look at the store's files
        yield remote
    if "db" in backends:
        pg.drop_database(backends["db"])


@pytest.fixture
def repo(client: loxo.Client) -> str:
    """The name of an empty repo, ``data``."""
    client.create_repo("data")
    return "data"
