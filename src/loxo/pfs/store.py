"""Where a PFS keeps things: a metadata database and an object store.

The database's modules (SQLAlchemy) load only when a store opens its database: a datum
worker's store (``StoreLocation.open_for_worker``) reads blobs without it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from loxo.pfs.tree import TreeReader
from loxo.storage.blobs import BlobIndex, BlobReader, BlobWriter
from loxo.storage.objects import LocalObjectStore, ObjectStore, open_object_store

if TYPE_CHECKING:
    from loxo.meta.db import Database

DB_FILE = "loxo.db"
OBJECTS_DIR = "objects"


@dataclass(frozen=True)
class StoreLocation:
    """Where a store lives, as plain text: what another process needs to open it."""

    db_url: str
    objects_url: str

    @classmethod
    def embedded(cls, home: str | os.PathLike[str]) -> StoreLocation:
        from loxo.meta.db import sqlite_url

        root = Path(home).resolve()
        return cls(sqlite_url(root / DB_FILE), str(root / OBJECTS_DIR))

    def open(self) -> Store:
        store = Store.open(self.db_url, open_object_store(self.objects_url))
        store.location = self
        return store

    def open_for_worker(self) -> Store:
        """A store for a datum worker, which reads blobs and writes objects but records
        nothing in the database: on SQLite it looks blobs up through ``sqlite3`` alone
        (no SQLAlchemy to import); other databases open as ``open`` does."""
        from loxo.meta.sqlite_index import SqliteBlobIndex, sqlite_path

        path = sqlite_path(self.db_url)
        if path is None:
            return self.open()
        return Store(None, open_object_store(self.objects_url), SqliteBlobIndex(path), self)


@dataclass
class Store:
    database: Database | None  # None in a datum worker's store (see ``open_for_worker``)
    objects: ObjectStore
    index: BlobIndex
    location: StoreLocation | None = None
    blobs: BlobReader = field(init=False)
    trees: TreeReader = field(init=False)

    def __post_init__(self) -> None:
        self.blobs = BlobReader(self.objects, self.index)
        self.trees = TreeReader(self.blobs)

    @property
    def db(self) -> Database:
        if self.database is None:
            raise RuntimeError("a datum worker's store has no metadata database")
        return self.database

    def writer(self) -> BlobWriter:
        return BlobWriter(self.objects, self.index)

    @classmethod
    def open(cls, db_url: str, objects: ObjectStore) -> Store:
        from loxo.meta.blob_index import SqlBlobIndex
        from loxo.meta.db import Database

        db = Database(db_url)
        db.migrate()
        return cls(db, objects, SqlBlobIndex(db))

    @classmethod
    def open_embedded(cls, home: str | os.PathLike[str]) -> Store:
        """The embedded layout: ``<home>/loxo.db`` and ``<home>/objects/``."""
        root = Path(home)
        root.mkdir(parents=True, exist_ok=True)
        location = StoreLocation.embedded(root)
        store = cls.open(location.db_url, LocalObjectStore(root / OBJECTS_DIR))
        store.location = location
        return store

    def close(self) -> None:
        if self.database is not None:
            self.database.close()
        close_index = getattr(self.index, "close", None)  # a worker's holds a connection
        if close_index is not None:
            close_index()
