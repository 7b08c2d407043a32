"""Where a PFS keeps things: a metadata database and an object store."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from loxo.meta.blob_index import SqlBlobIndex
from loxo.meta.db import Database, sqlite_url
from loxo.pfs.tree import TreeReader
from loxo.storage.blobs import BlobIndex, BlobReader, BlobWriter
from loxo.storage.objects import LocalObjectStore, ObjectStore, open_object_store

DB_FILE = "loxo.db"
OBJECTS_DIR = "objects"


@dataclass(frozen=True)
class StoreLocation:
    """Where a store lives, as plain text: what another process needs to open it."""

    db_url: str
    objects_url: str

    @classmethod
    def embedded(cls, home: str | os.PathLike[str]) -> StoreLocation:
        root = Path(home).resolve()
        return cls(sqlite_url(root / DB_FILE), str(root / OBJECTS_DIR))

    def open(self) -> Store:
        store = Store.open(self.db_url, open_object_store(self.objects_url))
        store.location = self
        return store


@dataclass
class Store:
    db: Database
    objects: ObjectStore
    index: BlobIndex
    location: StoreLocation | None = None
    blobs: BlobReader = field(init=False)
    trees: TreeReader = field(init=False)

    def __post_init__(self) -> None:
        self.blobs = BlobReader(self.objects, self.index)
        self.trees = TreeReader(self.blobs)

    def writer(self) -> BlobWriter:
        return BlobWriter(self.objects, self.index)

    @classmethod
    def open(cls, db_url: str, objects: ObjectStore) -> Store:
        db = Database(db_url)
        db.migrate()
        return cls(db, objects, SqlBlobIndex(db))

    @classmethod
    def open_embedded(cls, home: str | os.PathLike[str]) -> Store:
        """The embedded layout: ``<home>/loxo.db`` and ``<home>/objects/``."""
        root = Path(home)
        root.mkdir(parents=True, exist_ok=True)
        store = cls.open(sqlite_url(root / DB_FILE), LocalObjectStore(root / OBJECTS_DIR))
        store.location = StoreLocation.embedded(root)
        return store

    def close(self) -> None:
        self.db.close()
