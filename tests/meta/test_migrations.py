"""The Alembic migrations create exactly the schema the code declares."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

import loxo
from loxo.meta import schema
from loxo.meta.db import HEAD_REVISION, Database, sqlite_url
from loxo.pfs.store import DB_FILE


def _fresh(tmp_path: Path) -> Database:
    with loxo.Client(tmp_path / "store"):
        pass
    return Database(sqlite_url(tmp_path / "store" / DB_FILE))


def test_fresh_store_is_at_the_head_revision(tmp_path: Path) -> None:
    db = _fresh(tmp_path)
    try:
        assert db.revision() == HEAD_REVISION
    finally:
        db.close()


def test_migrated_tables_and_columns_match_the_declared_schema(tmp_path: Path) -> None:
    db = _fresh(tmp_path)
    try:
        insp = inspect(db.engine)
        tables = set(insp.get_table_names()) - {"alembic_version"}
        assert tables == set(schema.metadata.tables)
        for name, table in schema.metadata.tables.items():
            reflected = {c["name"]: c for c in insp.get_columns(name)}
            assert list(reflected) == [c.name for c in table.columns], name
            for col in table.columns:
                assert reflected[col.name]["nullable"] == col.nullable, f"{name}.{col.name}"
            pk = insp.get_pk_constraint(name)["constrained_columns"]
            assert sorted(pk) == sorted(c.name for c in table.primary_key.columns), name
            declared_indexes = {i.name for i in table.indexes}
            assert {i["name"] for i in insp.get_indexes(name)} >= declared_indexes, name
    finally:
        db.close()


def test_alembic_sees_no_difference(tmp_path: Path) -> None:
    """Autogenerate against the migrated database proposes nothing: no forgotten migration."""
    db = _fresh(tmp_path)
    try:
        with db.engine.connect() as conn:
            diffs = compare_metadata(MigrationContext.configure(conn), schema.metadata)
        assert diffs == []
    finally:
        db.close()


def test_migrate_is_idempotent_and_keeps_data(tmp_path: Path) -> None:
    home = tmp_path / "store"
    with loxo.Client(home) as c:
        c.create_repo("kept")
        c.put_file("kept@master:/a", b"a")
    db = Database(sqlite_url(home / DB_FILE))
    try:
        db.migrate()
        db.migrate()
        assert db.revision() == HEAD_REVISION
    finally:
        db.close()
    with loxo.Client(home) as c:
        assert c.get_file("kept@master:/a") == b"a"
