"""``Client``: the Python SDK. Takes addresses as text or references, returns records.

``Client`` works on an embedded store (``./.loxo`` or a directory you name);
``RemoteClient`` (``loxo.client.remote``) has the same verbs against a server.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Self

from loxo.client import sources as src
from loxo.client.backend import PfsVerbs, PpsVerbs
from loxo.client.pipelines import PipelineVerbs
from loxo.errors import InvalidArgument
from loxo.model.address import (
    is_global_id,
    normalize_path,
    parse_branch,
    parse_commit,
    parse_file,
)
from loxo.model.refs import (
    Branch,
    BranchInfo,
    Commit,
    CommitInfo,
    CommitSetInfo,
    File,
    FileInfo,
    FsckProblem,
    RepoInfo,
)
from loxo.pfs import Pfs, Progress, Source
from loxo.pfs.files import gc_paused
from loxo.pfs.store import StoreLocation
from loxo.pps.api import Pps
from loxo.pps.controller import JobStarted

DEFAULT_HOME = ".loxo"
CommitLike = str | Commit
FileLike = str | File


def _commit(ref: CommitLike) -> Commit:
    return ref if isinstance(ref, Commit) else parse_commit(ref)


def _file(ref: FileLike) -> File:
    return ref if isinstance(ref, File) else parse_file(ref)


class ClientBase(PipelineVerbs):
    """Every verb, written once over a PFS and a PPS backend (see ``loxo.client.backend``).

    ``Client`` (embedded, on a local store) and ``RemoteClient`` (a server over HTTP) are
    the two kinds; code that takes either should annotate ``ClientBase``.
    """

    def __init__(
        self, pfs: PfsVerbs, pps: PpsVerbs, *, auto_run: bool, on_job: JobStarted | None
    ) -> None:
        self.pfs = pfs
        self.pps = pps
        self.auto_run = auto_run
        self.on_job = on_job

    def close(self) -> None:
        self.pps.close()
        self.pfs.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- repos -----------------------------------------------------------------------
    def create_repo(self, name: str, description: str = "") -> RepoInfo:
        return self.pfs.create_repo(name, description)

    def inspect_repo(self, name: str) -> RepoInfo:
        return self.pfs.inspect_repo(name)

    def list_repo(self) -> list[RepoInfo]:
        return self.pfs.list_repo()

    def update_repo(self, name: str, description: str) -> RepoInfo:
        return self.pfs.update_repo(name, description)

    def delete_repo(self, name: str, force: bool = False) -> None:
        self.pfs.delete_repo(name, force)

    # -- branches --------------------------------------------------------------------
    def create_branch(self, branch: str | Branch, head: CommitLike | None = None) -> BranchInfo:
        b = branch if isinstance(branch, Branch) else parse_branch(branch)
        info = self.pfs.create_branch(b, _commit(head) if head is not None else None)
        self._settle()
        return info

    def inspect_branch(self, branch: str | Branch) -> BranchInfo:
        return self.pfs.inspect_branch(branch if isinstance(branch, Branch) else parse_branch(branch))

    def list_branch(self, repo: str) -> list[BranchInfo]:
        return self.pfs.list_branch(repo)

    def delete_branch(self, branch: str | Branch) -> None:
        self.pfs.delete_branch(branch if isinstance(branch, Branch) else parse_branch(branch))

    # -- commits ---------------------------------------------------------------------
    def start_commit(
        self, branch: str | Branch, parent: CommitLike | None = None, description: str = ""
    ) -> CommitInfo:
        b = branch if isinstance(branch, Branch) else parse_branch(branch)
        return self.pfs.start_commit(b, _commit(parent) if parent else None, description)

    def finish_commit(self, ref: CommitLike, description: str | None = None) -> CommitInfo:
        info = self.pfs.finish_commit(_commit(ref), description)
        self._settle()
        return info

    @contextmanager
    def commit(self, branch: str | Branch, description: str = "") -> Iterator[OpenCommit]:
        """Open a commit, yield it for writes, finish it; on an exception it is deleted."""
        info = self.start_commit(branch, description=description)
        ref = Commit(info.repo, info.id)
        try:
            yield OpenCommit(self, ref)
        except BaseException:
            self.pfs.delete_commit(ref)
            raise
        self.finish_commit(ref)

    def inspect_commit(self, ref: CommitLike) -> CommitInfo:
        return self.pfs.inspect_commit(_commit(ref))

    def list_commit(self, ref: str | None = None, limit: int = 0) -> list[CommitInfo]:
        """Commits of ``repo`` or ``repo@branch``, newest first."""
        if ref is None:
            raise InvalidArgument("name a repo (or use list_commit_set for every commit set)")
        commit = parse_commit(ref)
        return self.pfs.list_commit(commit.repo, commit if "@" in ref else None, limit)

    def inspect_commit_set(self, commit_id: str) -> CommitSetInfo:
        return self.pfs.inspect_commit_set(commit_id)

    def list_commit_set(self, limit: int = 50) -> list[CommitSetInfo]:
        return self.pfs.list_commit_set(limit)

    def wait_commit(self, ref: CommitLike, timeout: float | None = None) -> CommitInfo:
        return self.pfs.wait_commit(_commit(ref), timeout)

    def delete_commit(self, ref: CommitLike) -> None:
        """Delete ``repo@commit`` (a branch head), or every commit of a global id."""
        if isinstance(ref, str) and is_global_id(ref):
            self.pfs.delete_commit_set(ref)
        else:
            self.pfs.delete_commit(_commit(ref))

    def squash_commit(self, ref: CommitLike) -> None:
        """Fold ``repo@commit`` (or every commit of a global id) into its children."""
        if isinstance(ref, str) and is_global_id(ref):
            self.pfs.squash_commit_set(ref)
        else:
            self.pfs.squash_commit(_commit(ref))

    # -- files -----------------------------------------------------------------------
    def put_file(
        self,
        ref: FileLike,
        data: bytes | str | os.PathLike[str] | BinaryIO,
        *,
        append: bool = False,
        description: str = "",
    ) -> CommitInfo:
        """Put one file. ``data`` is bytes, a local path (``str``/``Path``) or a binary stream."""
        f = _file(ref)
        if isinstance(data, bytes):
            source = Source(f.path, data=data)
        elif isinstance(data, (str, os.PathLike)):
            source = Source(f.path, local=os.fspath(data))
        else:
            source = Source(f.path, stream=data)
        info = self.pfs.put_files(f.commit, [source], append=append, description=description)
        self._settle()
        return info

    def put_files(
        self,
        ref: CommitLike,
        sources: Sequence[Source],
        *,
        append: bool = False,
        description: str = "",
        progress: Progress | None = None,
        parallelism: int = 8,
    ) -> CommitInfo:
        """Put many files in one commit; local files are read in parallel."""
        info = self.pfs.put_files(
            _commit(ref), sources, append=append, description=description,
            progress=progress, parallelism=parallelism,
        )
        self._settle()
        return info

    def put_path(
        self,
        ref: FileLike,
        local: str | os.PathLike[str],
        *,
        recursive: bool = False,
        untar: bool = False,
        append: bool = False,
        description: str = "",
        progress: Progress | None = None,
        parallelism: int = 8,
    ) -> CommitInfo:
        """Put a local file, directory (``recursive``), URL, or tarball's members (``untar``)."""
        f = _file(ref)
        return self.put_many(
            f.commit, [(f.path, os.fspath(local))], recursive=recursive, untar=untar,
            append=append, description=description, progress=progress, parallelism=parallelism,
        )

    def put_many(
        self,
        ref: CommitLike,
        items: Sequence[tuple[str, str]],
        *,
        recursive: bool = False,
        untar: bool = False,
        append: bool = False,
        description: str = "",
        progress: Progress | None = None,
        parallelism: int = 8,
    ) -> CommitInfo:
        """Put ``(destination, local path or URL)`` pairs, all in one commit."""
        with src.Spool() as spool, gc_paused():
            sources: list[Source] = []
            for dest, where in items:
                whole_dir = recursive and not src.is_url(where) and os.path.isdir(where)
                if dest == "/" and not untar and not whole_dir:  # a file can't be '/': keep its name
                    name = src.url_name(where) if src.is_url(where) else Path(where).name
                    dest = "/" + name
                local = src.download(where, spool) if src.is_url(where) else where
                if untar:
                    sources.extend(src.untar_sources(dest, local, spool))
                else:
                    sources.extend(src.local_sources(dest, local, recursive))
            return self.put_files(
                ref, sources, append=append, description=description,
                progress=progress, parallelism=parallelism,
            )

    def get_file(self, ref: FileLike) -> bytes:
        """The whole content of one file."""
        return b"".join(self.pfs.read_file(_file(ref)))

    def read_file(self, ref: FileLike) -> Iterator[bytes]:
        """The content of one file, streamed in chunks."""
        return self.pfs.read_file(_file(ref))

    def get_files(
        self, ref: FileLike, out_dir: str | os.PathLike[str], progress: Progress | None = None
    ) -> int:
        """Copy a file or directory tree out to ``out_dir``; returns files written."""
        f = _file(ref)
        base = normalize_path(f.path)
        root = Path(out_dir)
        count = 0
        for path, info, chunks in self.pfs.iter_files(f):
            rel = path[len(base):].lstrip("/") if base != "/" else path.lstrip("/")
            target = root / (rel or Path(path).name)
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.with_name(target.name + ".loxo-part")
            with open(tmp, "wb") as out:
                for chunk in chunks:
                    out.write(chunk)
            os.replace(tmp, target)
            count += 1
            if progress is not None:
                progress(info.size_bytes, 1)
        return count

    def inspect_file(self, ref: FileLike) -> FileInfo:
        return self.pfs.inspect_file(_file(ref))

    def list_file(self, ref: FileLike) -> list[FileInfo]:
        return self.pfs.list_file(_file(ref))

    def walk_file(self, ref: FileLike) -> Iterator[FileInfo]:
        return self.pfs.walk_file(_file(ref))

    def glob_file(self, ref: FileLike) -> list[FileInfo]:
        """``repo@branch:<pattern>``: what the glob matches."""
        f = _file(ref)
        return self.pfs.glob_file(f.commit, f.path)

    def diff_file(
        self, new: FileLike, old: FileLike | None = None
    ) -> list[tuple[FileInfo | None, FileInfo | None]]:
        return self.pfs.diff_file(_file(new), _file(old) if old is not None else None)

    def copy_file(self, src_ref: FileLike, dst_ref: FileLike, *, append: bool = False) -> CommitInfo:
        info = self.pfs.copy_file(_file(src_ref), _file(dst_ref), append=append)
        self._settle()
        return info

    def delete_file(self, ref: FileLike) -> CommitInfo:
        f = _file(ref)
        info = self.pfs.delete_file(f.commit, [f.path])
        self._settle()
        return info

    # -- maintenance -----------------------------------------------------------------
    def fsck(self, fix: bool = False) -> list[FsckProblem]:
        return self.pfs.fsck(fix)


class Client(ClientBase):
    """Every verb on an embedded store. ``Client()`` opens ``./.loxo``; ``Client(home)``
    another.

    Writes that trigger pipelines run their jobs before they return (``auto_run``);
    ``on_job`` is told when each job starts and may return a progress callback for it.
    ``sandbox=False`` runs user code without bubblewrap; ``scratch`` is where datums'
    files live while they run (default: RAM, see ``loxo.pps.api.default_scratch``).
    ``db`` (an SQLAlchemy URL such as ``postgresql+psycopg://...``) and ``storage`` (an
    object-store URL such as ``s3://bucket/prefix``) put the metadata or the objects
    elsewhere than ``home``. ``executor`` runs the datums: ``local`` (default), ``ray``,
    ``dask``, ``ray://host:port`` or ``dask://host:port`` (``loxo.executors.choose``).
    """

    pfs: Pfs
    pps: Pps

    def __init__(
        self,
        home: str | os.PathLike[str] | None = None,
        *,
        auto_run: bool = True,
        on_job: JobStarted | None = None,
        sandbox: bool = True,
        scratch: str | os.PathLike[str] | None = None,
        db: str | None = None,
        storage: str | None = None,
        executor: str | None = None,
    ) -> None:
        self.home = Path(home if home is not None else DEFAULT_HOME)
        if db is None and storage is None:
            pfs = Pfs.open_embedded(self.home)
        else:  # a server's backends: e.g. postgresql://... and s3://bucket/prefix
            self.home.mkdir(parents=True, exist_ok=True)  # the default database may live here
            embedded = StoreLocation.embedded(self.home)
            pfs = Pfs.open(StoreLocation(db or embedded.db_url, storage or embedded.objects_url))
        try:
            pps = Pps(pfs, executor, use_sandbox=sandbox,
                      scratch=Path(scratch) if scratch is not None else None)
        except BaseException:
            pfs.close()
            raise
        super().__init__(pfs, pps, auto_run=auto_run, on_job=on_job)


class OpenCommit:
    """Writes into one open commit (from ``Client.commit``)."""

    def __init__(self, client: ClientBase, ref: Commit) -> None:
        self.client = client
        self.ref = ref

    @property
    def id(self) -> str:
        return self.ref.ref

    def put_file(
        self, path: str, data: bytes | str | os.PathLike[str] | BinaryIO, *, append: bool = False
    ) -> None:
        self.client.put_file(File(self.ref, normalize_path(path)), data, append=append)

    def put_path(self, path: str, local: str | os.PathLike[str], *, recursive: bool = False) -> None:
        self.client.put_path(File(self.ref, normalize_path(path)), local, recursive=recursive)

    def delete_file(self, path: str) -> None:
        self.client.delete_file(File(self.ref, normalize_path(path)))

    def copy_file(self, src_ref: FileLike, path: str) -> None:
        self.client.copy_file(src_ref, File(self.ref, normalize_path(path)))
