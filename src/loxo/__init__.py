"""loxo: version-controlled data and reproducible pipelines, with no cluster required.

>>> import loxo
>>> with loxo.Client("/tmp/store") as c:  # doctest: +SKIP
...     c.create_repo("images")
...     c.put_file("images@master:/a.txt", b"hello")
"""

from __future__ import annotations

import importlib

from loxo.errors import LoxoError

TYPE_CHECKING = False  # not typing's: importing typing costs user code 15 ms per process
if TYPE_CHECKING:
    from typing import Any

    from loxo.client import Client, ClientBase, OpenCommit, RemoteClient
    from loxo.model import (
        Branch,
        BranchInfo,
        Commit,
        CommitInfo,
        CommitSetInfo,
        File,
        FileInfo,
        FileKind,
        FsckProblem,
        Origin,
        Repo,
        RepoInfo,
    )
    from loxo.pfs import Source

# The SDK pulls in SQLAlchemy and friends (half a second), the model 50 ms; load them on
# first use, so that ``import loxo.batch`` in user code (once per batch process) and ``loxo
# version`` stay instant. Every other name of ``__all__`` comes from ``loxo.model``.
_LAZY = {"Client": "loxo.client", "ClientBase": "loxo.client", "OpenCommit": "loxo.client",
         "RemoteClient": "loxo.client", "Source": "loxo.pfs"}


def __getattr__(name: str) -> Any:
    if name in _LAZY or name in __all__:
        return getattr(importlib.import_module(_LAZY.get(name, "loxo.model")), name)
    raise AttributeError(f"module 'loxo' has no attribute {name!r}")


__version__ = "0.1.0"

__all__ = [
    "Branch",
    "BranchInfo",
    "Client",
    "ClientBase",
    "Commit",
    "CommitInfo",
    "CommitSetInfo",
    "File",
    "FileInfo",
    "FileKind",
    "FsckProblem",
    "LoxoError",
    "OpenCommit",
    "Origin",
    "RemoteClient",
    "Repo",
    "RepoInfo",
    "Source",
    "__version__",
]
