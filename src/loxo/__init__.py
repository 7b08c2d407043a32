"""loxo: version-controlled data and reproducible pipelines, with no cluster required.

>>> import loxo
>>> with loxo.Client("/tmp/store") as c:  # doctest: +SKIP
...     c.create_repo("images")
...     c.put_file("images@master:/a.txt", b"hello")
"""

from loxo.client import Client, OpenCommit
from loxo.errors import LoxoError
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

__version__ = "0.1.0"

__all__ = [
    "Branch",
    "BranchInfo",
    "Client",
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
    "Repo",
    "RepoInfo",
    "Source",
    "__version__",
]
