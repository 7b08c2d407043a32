"""The Alembic migrations create exactly the schema the code declares, on SQLite and on
a real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import DateTime, Engine, inspect
from sqlalchemy.types import TypeEngine

import loxo
from loxo.meta import schema
from loxo.meta.db import HEAD_REVISION, Database, sqlite_url
from loxo.pfs.store import DB_FILE

# What the server calls a type it was asked for under another name.
_SAME_TYPE = {"FLOAT": "DOUBLE PRECISION"}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=[pytest.mark.slow,
                                                                     pytest.mark.timeout(120)])])
def fresh(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Database]:
    """A database migrated from nothing by ``Database.migrate()``."""
    if request.param == "sqlite":
        with loxo.Client(tmp_path / "store"):
            pass
        db = Database(sqlite_url(tmp_path / "store" / DB_FILE))
    else:
        db = Database(request.getfixturevalue("pg_server").new_database(migrated=False))
        db.migrate()
    try:
        yield db
    finally:
        db.close()


def _type_name(engine: Engine, type_: TypeEngine[object]) -> str:
    name = type_.compile(dialect=engine.dialect)
    return _SAME_TYPE.get(name, name)


def test_fresh_store_is_at_the_head_revision(fresh: Database) -> None:
    assert fresh.revision() == HEAD_REVISION


def test_migrated_tables_and_columns_match_the_declared_schema(fresh: Database) -> None:
    engine = fresh.engine
    insp = inspect(engine)
    tables = set(insp.get_table_names()) - {"alembic_version"}
    assert tables == set(schema.metadata.tables)
    for name, table in schema.metadata.tables.items():
        reflected = {c["name"]: c for c in insp.get_columns(name)}
        assert list(reflected) == [c.name for c in table.columns], name
        for col in table.columns:
            where = f"{name}.{col.name}"
            assert reflected[col.name]["nullable"] == col.nullable, where
            # Sizes must be 64-bit (files > 2 GiB) and types what was declared.
            assert _type_name(engine, reflected[col.name]["type"]) == _type_name(engine, col.type), where
        pk = insp.get_pk_constraint(name)["constrained_columns"]
        assert sorted(pk) == sorted(c.name for c in table.primary_key.columns), name
        declared_indexes = {i.name for i in table.indexes}
        assert {i["name"] for i in insp.get_indexes(name)} >= declared_indexes, name


@pytest.mark.parametrize("fresh", [pytest.param("postgresql", marks=[pytest.mark.slow])],
                         indirect=True)
def test_times_are_stored_with_their_time_zone(fresh: Database) -> None:
    """SQLite keeps no time zone; PostgreSQL must store ``timestamptz``, or times shift."""
    insp = inspect(fresh.engine)
    for name, table in schema.metadata.tables.items():
        reflected = {c["name"]: c["type"] for c in insp.get_columns(name)}
        for col in table.columns:
            if isinstance(col.type, DateTime):
                assert getattr(reflected[col.name], "timezone", False), f"{name}.{col.name}"


def test_alembic_sees_no_difference(fresh: Database) -> None:
    """Autogenerate against the migrated database proposes nothing: no forgotten migration."""
    with fresh.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), schema.metadata)
    assert diffs == []


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
