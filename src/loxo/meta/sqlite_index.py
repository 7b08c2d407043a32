"""``BlobIndex`` lookups straight through ``sqlite3``, for datum workers.

A worker only looks blobs up (it never records any: whoever records its trees indexes
their parts), and importing SQLAlchemy was ~0.35 s of each worker's start, on the path
of every job's first datums. Same table and query as ``SqlBlobIndex``.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence

from loxo.errors import DatabaseError
from loxo.storage.blobs import Part

_BATCH = 500  # SQLite allows 999 parameters
_PREFIX = "sqlite:///"


def sqlite_path(db_url: str) -> str | None:
    """The file of a plain SQLite URL (``sqlite:///<path>``); None for anything else
    (other databases, in-memory ones, URLs with options)."""
    if not db_url.startswith(_PREFIX) or "?" in db_url:
        return None
    path = db_url[len(_PREFIX):]
    return path if path and path != ":memory:" else None


class SqliteBlobIndex:
    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            # autocommit reads; a writer holding the lock makes a reader wait, not fail
            self._conn = sqlite3.connect(self.path, timeout=60, isolation_level=None,
                                         check_same_thread=False)
        return self._conn

    def lookup(self, ids: Sequence[str]) -> dict[str, Part]:
        found: dict[str, Part] = {}
        with self._lock:
            try:
                conn = self._connection()
                for start in range(0, len(ids), _BATCH):
                    batch = tuple(ids[start : start + _BATCH])
                    sql = ('SELECT id, "key", "offset", length, size, codec FROM blobs '
                           f"WHERE id IN ({', '.join('?' * len(batch))})")
                    found.update((r[0], Part(*r)) for r in conn.execute(sql, batch))
            except sqlite3.Error as exc:
                raise DatabaseError(f"metadata database {self.path}: {exc}") from exc
        return found

    def add(self, parts: Sequence[Part]) -> None:
        if parts:  # a bug, not a user's error: workers leave indexing to their caller
            raise RuntimeError("a datum worker's store does not record blobs")

    def all_parts(self) -> Iterator[Part]:
        raise RuntimeError("a datum worker's store does not list blobs")

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
