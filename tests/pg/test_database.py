"""``Database`` on a real PostgreSQL: URLs, errors, one writer at a time, snapshot
reads, 64-bit sizes, UTC times, the bulk-insert path."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Connection, select, update

import loxo
from loxo.errors import DatabaseError
from loxo.meta import schema
from loxo.meta.blob_index import SqlBlobIndex
from loxo.meta.db import HEAD_REVISION, Database, bulk_insert, utcnow
from loxo.storage.blobs import Part
from tests.support.postgres import PgServer

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]
R = schema.repos
GiB = 1 << 30


@pytest.fixture
def db(pg_url: str) -> Iterator[Database]:
    database = Database(pg_url)
    yield database
    database.close()


def _add_repo(db: Database, name: str, description: str = "") -> int:
    with db.write() as conn:
        row = conn.execute(R.insert().values(name=name, description=description, created_at=utcnow())
                           .returning(R.c.id)).one()
        return int(row.id)


@pytest.mark.parametrize("scheme", ["postgres://", "postgresql://", "postgresql+psycopg://"])
def test_every_spelling_of_a_postgres_url_opens_with_psycopg(pg_url: str, scheme: str) -> None:
    url = scheme + pg_url.split("://", 1)[1]
    db = Database(url)
    try:
        assert db.engine.dialect.driver == "psycopg"
        assert db.revision() is not None
    finally:
        db.close()


def test_an_unreachable_server_is_one_database_error_line_without_the_password(tmp_path: Path) -> None:
    url = "postgresql://loxo:s3cret-pw@127.0.0.1:9/meta"  # port 9 (discard): nobody listens
    with pytest.raises(DatabaseError) as caught:
        loxo.Client(tmp_path / "store", db=url)
    message = caught.value.message
    assert "\n" not in message and "s3cret-pw" not in message
    assert message.startswith("metadata database postgresql+psycopg://loxo:***@127.0.0.1:9/meta: ")
    assert "refused" in message.lower()


def test_an_unknown_database_is_a_database_error(pg_url: str) -> None:
    db = Database(pg_url.replace("/loxo_", "/missing_"))
    try:
        with pytest.raises(DatabaseError, match="does not exist"):
            db.migrate()
    finally:
        db.close()


def test_read_then_write_transactions_never_lose_an_update(db: Database) -> None:
    """What pfs's branch compare-and-swap and the job leases rely on: inside ``write()``
    nothing else writes between a read and the write that follows it."""
    repo_id = _add_repo(db, "counter", "0")

    def bump(times: int) -> None:
        for _ in range(times):
            with db.write() as conn:
                value = conn.execute(select(R.c.description).where(R.c.id == repo_id)).scalar_one()
                time.sleep(0.001)  # widen the window a lost update would need
                conn.execute(update(R).where(R.c.id == repo_id).values(description=str(int(value) + 1)))

    threads = [threading.Thread(target=bump, args=(25,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with db.read() as conn:
        assert conn.execute(select(R.c.description).where(R.c.id == repo_id)).scalar_one() == "100"


def test_a_reader_sees_one_snapshot_and_does_not_wait_for_the_writer(db: Database) -> None:
    repo_id = _add_repo(db, "snap", "before")
    writing, release = threading.Event(), threading.Event()

    def writer() -> None:
        with db.write() as conn:
            conn.execute(update(R).where(R.c.id == repo_id).values(description="during"))
            writing.set()
            release.wait(10)

    def description(conn: Connection) -> str:
        return str(conn.execute(select(R.c.description).where(R.c.id == repo_id)).scalar_one())

    with db.read() as snapshot:
        assert description(snapshot) == "before"
        thread = threading.Thread(target=writer)
        thread.start()
        assert writing.wait(10)
        started = time.monotonic()
        with db.read() as other:  # the open write blocks no reader
            assert description(other) == "before"
        assert time.monotonic() - started < 1.0
        release.set()
        thread.join()
        assert description(snapshot) == "before"  # the snapshot holds after the commit
    with db.read() as conn:
        assert description(conn) == "during"


def test_sizes_past_2_gib_and_reserved_column_names(db: Database) -> None:
    index = SqlBlobIndex(db)
    part = Part("blake3:" + "ab" * 32, "packs/p1", 3 * GiB, 5 * GiB, 5 * GiB, 1)
    index.add([part])
    index.add([part])  # ON CONFLICT DO NOTHING: adding twice is harmless
    assert index.lookup([part.id]) == {part.id: part}
    with db.write() as conn:  # the driver's executemany path, `offset` quoted
        bulk_insert(conn, schema.blobs, [
            {"id": f"b{i}", "key": "k", "offset": 4 * GiB + i, "length": i, "size": i, "codec": 0}
            for i in range(3)
        ])
    with db.read() as conn:
        offsets = conn.execute(select(schema.blobs.c.offset).where(schema.blobs.c.key == "k")
                               .order_by(schema.blobs.c.id)).scalars().all()
    assert offsets == [4 * GiB, 4 * GiB + 1, 4 * GiB + 2]


def test_times_come_back_aware_and_in_utc(db: Database) -> None:
    before = utcnow()
    repo_id = _add_repo(db, "timed")
    with db.read() as conn:
        created = conn.execute(select(R.c.created_at).where(R.c.id == repo_id)).scalar_one()
    assert created.utcoffset() == timedelta(0)
    assert abs(created - before) < timedelta(seconds=5)
    assert created.astimezone(UTC) == created


def test_two_processes_migrating_one_new_database_at_once(pg_server: PgServer) -> None:
    """The second waits on the writers' lock, then finds nothing left to do. (Processes:
    Alembic's context is process-global, so threads of one process cannot migrate at once.)"""
    url = pg_server.new_database(migrated=False)
    code = "import sys; from loxo.meta.db import Database; Database(sys.argv[1]).migrate()"
    procs = [subprocess.Popen([sys.executable, "-c", code, url], stderr=subprocess.PIPE) for _ in range(2)]
    results = [(p.wait(60), p.stderr.read().decode() if p.stderr else "") for p in procs]
    assert results == [(0, ""), (0, "")]
    db = Database(url)
    try:
        assert db.revision() == HEAD_REVISION
    finally:
        db.close()
    pg_server.drop_database(url)
