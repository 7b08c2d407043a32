"""``BlobIndex`` kept in the metadata database (table ``blobs``)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import select

from loxo.meta import schema
from loxo.meta.db import Database, driver_mark
from loxo.storage.blobs import Part

_BATCH = 500


class SqlBlobIndex:
    def __init__(self, db: Database) -> None:
        self.db = db

    def lookup(self, ids: Sequence[str]) -> dict[str, Part]:
        if not ids:
            return {}
        with self.db.read() as conn:
            # through the driver: SQLAlchemy's IN expansion and typed rows cost ~20 us a
            # blob, and a worker looks up every directory blob of its datums' outputs
            quote, mark = conn.dialect.identifier_preparer.quote, driver_mark(conn)
            found: dict[str, Part] = {}
            for start in range(0, len(ids), _BATCH):  # SQLite allows 999 parameters
                batch = tuple(ids[start : start + _BATCH])
                sql = (f"SELECT id, {quote('key')}, {quote('offset')}, length, size, codec "
                       f"FROM blobs WHERE id IN ({', '.join([mark] * len(batch))})")
                found.update((r[0], Part(*r)) for r in conn.exec_driver_sql(sql, batch).fetchall())
        return found

    def add(self, parts: Sequence[Part]) -> None:
        if not parts:
            return
        rows = [
            {"id": p.id, "key": p.key, "offset": p.offset, "length": p.length,
             "size": p.size, "codec": p.codec}
            for p in parts
        ]
        stmt: Any
        if self.db.is_sqlite:
            from sqlalchemy.dialects import sqlite

            stmt = sqlite.insert(schema.blobs).on_conflict_do_nothing(index_elements=["id"])
        else:  # imported only when used: the PostgreSQL dialect costs 0.2 s to import
            from sqlalchemy.dialects import postgresql

            stmt = postgresql.insert(schema.blobs).on_conflict_do_nothing(index_elements=["id"])
        with self.db.write() as conn:
            conn.execute(stmt, rows)

    def all_parts(self) -> Iterator[Part]:
        with self.db.read() as conn:
            for r in conn.execute(select(schema.blobs)):
                yield Part(r.id, r.key, r.offset, r.length, r.size, r.codec)
