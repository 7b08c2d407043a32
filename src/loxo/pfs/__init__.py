"""PFS: repos, branches, commits and file trees, on a metadata DB and an object store."""

from loxo.pfs.api import Pfs
from loxo.pfs.files import Progress, Source
from loxo.pfs.store import Store

__all__ = ["Pfs", "Progress", "Source", "Store"]
