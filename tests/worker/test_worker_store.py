"""A datum worker's store: blobs looked up through ``sqlite3`` alone, so a worker starts
without importing SQLAlchemy (~0.35 s of its start, on the path of every job)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import loxo
from loxo.meta.sqlite_index import SqliteBlobIndex, sqlite_path
from loxo.pfs.store import StoreLocation


def test_a_worker_store_reads_what_the_full_store_wrote(home: Path) -> None:
    with loxo.Client(home) as client:
        client.create_repo("data")
        client.put_file("data@master:/a.txt", b"hello\n")
    location = StoreLocation.embedded(home)
    full, worker = location.open(), location.open_for_worker()
    try:
        with full.db.read() as conn:
            tree = conn.exec_driver_sql("SELECT tree FROM commits WHERE tree IS NOT NULL").scalar()
        assert isinstance(worker.index, SqliteBlobIndex)
        assert tree is not None
        ids = [tree, "blake3:" + "0" * 64]
        assert worker.index.lookup(ids) == full.index.lookup(ids) != {}
        entry = worker.trees.lookup(tree, ["a.txt"])
        assert entry is not None and b"".join(worker.blobs.read_parts(entry.parts)) == b"hello\n"
        with pytest.raises(RuntimeError, match="no metadata database"):
            worker.db  # noqa: B018
        with pytest.raises(RuntimeError, match="does not record blobs"):
            worker.index.add(list(full.index.lookup([tree]).values()))
    finally:
        full.close()
        worker.close()


def test_only_plain_sqlite_files_skip_sqlalchemy() -> None:
    assert sqlite_path("sqlite:////srv/loxo/loxo.db") == "/srv/loxo/loxo.db"
    assert sqlite_path("sqlite:///:memory:") is None
    assert sqlite_path("sqlite:////srv/loxo.db?mode=ro") is None
    assert sqlite_path("postgresql+psycopg://u@h/db") is None


def test_a_worker_process_does_not_import_sqlalchemy() -> None:
    code = ("import sys, loxo.worker.serve, loxo.worker.datum_worker\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('sqlalchemy', 'pydantic')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
