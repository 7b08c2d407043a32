"""References (identity only) and full records (everything loxo knows about a thing).

References say *which* thing (``Commit("images", "master", ancestors=1)``); records say
*what it is* (``CommitInfo``). Both are frozen so they can be shared freely.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Origin(StrEnum):
    """Who made a commit: a user, or a pipeline (``auto``), as Pachyderm's OriginKind."""

    USER = "user"
    AUTO = "auto"


class FileKind(StrEnum):
    FILE = "file"
    DIR = "dir"


@dataclass(frozen=True)
class Repo:
    name: str

    def __str__(self) -> str:
        return self.name


@dataclass(frozen=True)
class Branch:
    repo: str
    name: str

    def __str__(self) -> str:
        return f"{self.repo}@{self.name}"


@dataclass(frozen=True)
class Commit:
    """A commit by branch name or id, optionally walked back.

    ``ref`` is a branch name or a commit id. ``ancestors`` walks that many parents back
    (``master^2``); ``nth`` instead picks the n-th commit from the oldest (``master.1``).
    """

    repo: str
    ref: str = "master"
    ancestors: int = 0
    nth: int | None = None

    def __str__(self) -> str:
        from loxo.model.address import format_commit

        return format_commit(self)


@dataclass(frozen=True)
class File:
    commit: Commit
    path: str = "/"

    def __str__(self) -> str:
        return f"{self.commit}:{self.path}"


@dataclass(frozen=True)
class RepoInfo:
    name: str
    created: datetime
    size_bytes: int
    description: str
    branches: tuple[str, ...] = ()


@dataclass(frozen=True)
class BranchInfo:
    repo: str
    name: str
    head: str | None
    created: datetime
    open_commit: str | None = None


@dataclass(frozen=True)
class CommitInfo:
    """A commit. ``finished`` is None while the commit is open."""

    repo: str
    id: str
    branch: str | None
    parent: str | None
    origin: Origin
    description: str
    started: datetime
    finished: datetime | None
    size_bytes: int
    children: tuple[str, ...] = ()
    provenance: tuple[str, ...] = field(default=())

    @property
    def is_open(self) -> bool:
        return self.finished is None


@dataclass(frozen=True)
class CommitSetInfo:
    """All commits that share one global id (Pachyderm's commit set)."""

    id: str
    commits: tuple[CommitInfo, ...]
    created: datetime
    modified: datetime

    @property
    def finished(self) -> int:
        return sum(1 for c in self.commits if not c.is_open)


@dataclass(frozen=True)
class FileInfo:
    """A file or directory inside a commit. ``hash`` is its content id."""

    repo: str
    commit: str
    path: str
    kind: FileKind
    size_bytes: int
    hash: str


@dataclass(frozen=True)
class FsckProblem:
    """One thing ``fsck`` found wrong: where, and what."""

    where: str
    problem: str
    severity: str = "error"
