"""Where a PFS keeps things: a metadata database and an object store."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from loxo.meta.blob_index import SqlBlobIndex
from loxo.meta.db import Database, sqlite_url
from loxo.pfs.tree import TreeReader
from loxo.storage.blobs import BlobIndex, BlobReader, BlobWriter
from loxo.storage.objects import LocalObjectStore, ObjectStore

DB_FILE = "loxo.db"
OBJECTS_DIR = "objects"


@dataclass
class Store:
    db: Database
    objects: ObjectStore
    index: BlobIndex
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
        objects = LocalObjectStore(root / OBJECTS_DIR)
        return cls.open(sqlite_url(root / DB_FILE), objects)

    def close(self) -> None:
        self.db.close()
