"""``Pfs``: every PFS verb on one store, assembled from one module per noun."""

from __future__ import annotations

import os

from loxo.pfs.branches import BranchOps
from loxo.pfs.commits import CommitOps
from loxo.pfs.files import FileOps
from loxo.pfs.fsck import FsckOps
from loxo.pfs.repos import RepoOps
from loxo.pfs.store import Store, StoreLocation


class Pfs(RepoOps, BranchOps, CommitOps, FileOps, FsckOps):
    """Repos, branches, commits and files on one ``Store``."""

    def __init__(self, store: Store) -> None:
        self.store = store

    @classmethod
    def open_embedded(cls, home: str | os.PathLike[str]) -> Pfs:
        return cls(Store.open_embedded(home))

    @classmethod
    def open(cls, location: StoreLocation) -> Pfs:
        """A store anywhere: ``location`` names its database and object store URLs."""
        return cls(location.open())

    def close(self) -> None:
        self.store.close()
