"""PFS: repos, branches, commits and file trees, on a metadata DB and an object store.

``Pfs`` and ``Store`` load on first use: a datum worker imports modules of this package
(trees, blobs) without the metadata database's machinery (SQLAlchemy: ~0.35 s of its
start)."""

from typing import TYPE_CHECKING, Any

from loxo.pfs.sources import Progress, Source

if TYPE_CHECKING:
    from loxo.pfs.api import Pfs
    from loxo.pfs.store import Store

__all__ = ["Pfs", "Progress", "Source", "Store"]


def __getattr__(name: str) -> Any:
    if name == "Pfs":
        from loxo.pfs.api import Pfs

        return Pfs
    if name == "Store":
        from loxo.pfs.store import Store

        return Store
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
