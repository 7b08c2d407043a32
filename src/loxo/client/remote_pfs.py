"""``RemotePfs``: the PFS verbs over HTTP, with the signatures of ``loxo.pfs.Pfs``.

Uploads stream: one file as the raw body of a PUT, many files as one tar stream; reads
stream the other way. Waits longer than the server holds a request are asked again.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack
from typing import IO, cast

from loxo.client.backend import FileStream
from loxo.client.http import Http
from loxo.client.tarstream import Member, read_tar, write_tar
from loxo.errors import CommitOpen, InvalidArgument
from loxo.model.address import format_commit
from loxo.model.refs import (
    Branch,
    BranchInfo,
    Commit,
    CommitInfo,
    CommitSetInfo,
    File,
    FileInfo,
    FileKind,
    FsckProblem,
    RepoInfo,
)
from loxo.pfs.files import dest_parts
from loxo.pfs.sources import Progress, Source, check_source

CHUNK = 1 << 20
WAIT_CAP = 20.0  # seconds the server holds a wait request; longer waits ask again


def ref_text(ref: Commit) -> str:
    """A commit as the API's path segment: what follows the ``@``."""
    return format_commit(ref).split("@", 1)[1]


def commit_path(ref: Commit) -> str:
    return f"/repos/{ref.repo}/commits/{ref_text(ref)}"


def _read_chunks(f: IO[bytes]) -> Iterator[bytes]:
    while chunk := f.read(CHUNK):
        yield chunk


def _counted(chunks: Iterable[bytes], progress: Progress | None) -> Iterator[bytes]:
    for chunk in chunks:
        if progress is not None:
            progress(len(chunk), 0)
        yield chunk
    if progress is not None:
        progress(0, 1)


class RemotePfs:
    def __init__(self, http: Http) -> None:
        self.http = http

    def close(self) -> None:
        self.http.close()

    # -- repos -----------------------------------------------------------------------
    def create_repo(self, name: str, description: str = "") -> RepoInfo:
        body = {"name": name, "description": description}
        return self.http.call("POST", "/repos", RepoInfo, json=body)

    def inspect_repo(self, name: str) -> RepoInfo:
        return self.http.call("GET", f"/repos/{name}", RepoInfo)

    def list_repo(self) -> list[RepoInfo]:
        return self.http.call("GET", "/repos", list[RepoInfo])

    def update_repo(self, name: str, description: str) -> RepoInfo:
        return self.http.call("PATCH", f"/repos/{name}", RepoInfo,
                              json={"description": description})

    def delete_repo(self, name: str, force: bool = False) -> None:
        self.http.send("DELETE", f"/repos/{name}", params={"force": force})

    # -- branches --------------------------------------------------------------------
    def create_branch(self, branch: Branch, head: Commit | None = None) -> BranchInfo:
        body = {"head": ref_text(head) if head is not None else None}
        if head is not None and head.repo != branch.repo:
            body["head"] = format_commit(head)  # the server names the mismatch
        return self.http.call("PUT", f"/repos/{branch.repo}/branches/{branch.name}", BranchInfo,
                              json=body)

    def inspect_branch(self, branch: Branch) -> BranchInfo:
        return self.http.call("GET", f"/repos/{branch.repo}/branches/{branch.name}", BranchInfo)

    def list_branch(self, repo: str) -> list[BranchInfo]:
        return self.http.call("GET", f"/repos/{repo}/branches", list[BranchInfo])

    def delete_branch(self, branch: Branch) -> None:
        self.http.send("DELETE", f"/repos/{branch.repo}/branches/{branch.name}")

    # -- commits ---------------------------------------------------------------------
    def start_commit(
        self, branch: Branch, parent: Commit | None = None, description: str = ""
    ) -> CommitInfo:
        body = {"branch": branch.name, "parent": ref_text(parent) if parent else None,
                "description": description}
        return self.http.call("POST", f"/repos/{branch.repo}/commits", CommitInfo, json=body)

    def finish_commit(self, ref: Commit, description: str | None = None) -> CommitInfo:
        return self.http.call("POST", f"{commit_path(ref)}/finish", CommitInfo,
                              json={"description": description})

    def inspect_commit(self, ref: Commit) -> CommitInfo:
        return self.http.call("GET", commit_path(ref), CommitInfo)

    def list_commit(self, repo: str, ref: Commit | None = None, limit: int = 0) -> list[CommitInfo]:
        params = {"branch": ref_text(ref) if ref else None, "limit": limit}
        return self.http.call("GET", f"/repos/{repo}/commits", list[CommitInfo], params=params)

    def wait_commit(self, ref: Commit, timeout: float | None = None) -> CommitInfo:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            left = WAIT_CAP + 1 if deadline is None else max(0.0, deadline - time.monotonic())
            info = self.http.call("GET", f"{commit_path(ref)}/wait", CommitInfo,
                                  params={"timeout": left})
            if not info.is_open:
                return info
            if deadline is not None and time.monotonic() > deadline:
                raise CommitOpen(f"commit {info.id} is still open after {timeout} s")

    def delete_commit(self, ref: Commit) -> None:
        self.http.send("DELETE", commit_path(ref))

    def squash_commit(self, ref: Commit) -> None:
        self.http.send("POST", f"{commit_path(ref)}/squash")

    def inspect_commit_set(self, commit_id: str) -> CommitSetInfo:
        return self.http.call("GET", f"/commit-sets/{commit_id}", CommitSetInfo)

    def list_commit_set(self, limit: int = 50) -> list[CommitSetInfo]:
        return self.http.call("GET", "/commit-sets", list[CommitSetInfo], params={"limit": limit})

    def delete_commit_set(self, commit_id: str) -> None:
        self.http.send("DELETE", f"/commit-sets/{commit_id}")

    def squash_commit_set(self, commit_id: str) -> None:
        self.http.send("POST", f"/commit-sets/{commit_id}/squash")

    # -- files -----------------------------------------------------------------------
    def put_files(
        self,
        ref: Commit,
        sources: Sequence[Source],
        *,
        append: bool = False,
        description: str = "",
        progress: Progress | None = None,
        parallelism: int = 8,
    ) -> CommitInfo:
        """One source goes as a raw body, several as a tar stream; both stream. Sources
        are checked here first, so a bad one fails before any byte is sent."""
        if not sources:
            raise InvalidArgument("nothing to put: no files given")
        for s in sources:
            dest_parts(s.path)
            check_source(s)
        params = {"append": append, "description": description}
        with ExitStack() as stack:
            if len(sources) == 1:
                one = sources[0]
                body: Iterable[bytes] = _counted(_content(one, stack), progress)
                return self.http.call("PUT", f"{commit_path(ref)}/content", CommitInfo,
                                      params={**params, "path": one.path}, content=body)
            members = (_member(s, stack, progress) for s in sources)
            return self.http.call("POST", f"{commit_path(ref)}/tar", CommitInfo, params=params,
                                  content=write_tar(members))

    def read_file(self, ref: File) -> Iterator[bytes]:
        with self.http.stream(f"{commit_path(ref.commit)}/content", {"path": ref.path}) as resp:
            yield from resp.iter_bytes()  # as received: re-cutting to a size copies every byte

    def iter_files(self, ref: File) -> Iterator[FileStream]:
        with self.http.stream(f"{commit_path(ref.commit)}/tar", {"path": ref.path}) as resp:
            reader = cast(IO[bytes], _IterReader(resp.iter_bytes(CHUNK)))
            for path, size, content in read_tar(reader):
                info = FileInfo(ref.commit.repo, "", path, FileKind.FILE, size, "")
                yield path, info, _read_chunks(content)

    def inspect_file(self, ref: File) -> FileInfo:
        return self.http.call("GET", f"{commit_path(ref.commit)}/file", FileInfo,
                              params={"path": ref.path})

    def list_file(self, ref: File) -> list[FileInfo]:
        return self.http.call("GET", f"{commit_path(ref.commit)}/files", list[FileInfo],
                              params={"path": ref.path})

    def walk_file(self, ref: File) -> Iterator[FileInfo]:
        return iter(self.http.call("GET", f"{commit_path(ref.commit)}/files", list[FileInfo],
                                   params={"path": ref.path, "recursive": True}))

    def glob_file(self, ref: Commit, pattern: str) -> list[FileInfo]:
        return self.http.call("GET", f"{commit_path(ref)}/glob", list[FileInfo],
                              params={"pattern": pattern})

    def diff_file(
        self, new: File, old: File | None = None
    ) -> list[tuple[FileInfo | None, FileInfo | None]]:
        params = {"path": new.path, "old": str(old) if old is not None else None}
        pairs: list[tuple[FileInfo | None, FileInfo | None]] = self.http.call(
            "GET", f"{commit_path(new.commit)}/diff",
            list[tuple[FileInfo | None, FileInfo | None]],
            params=params)
        return pairs

    def copy_file(self, src: File, dst: File, *, append: bool = False) -> CommitInfo:
        body = {"src": str(src), "path": dst.path, "append": append}
        return self.http.call("POST", f"{commit_path(dst.commit)}/copy", CommitInfo, json=body)

    def delete_file(self, ref: Commit, paths: Sequence[str]) -> CommitInfo:
        return self.http.call("DELETE", f"{commit_path(ref)}/files", CommitInfo,
                              params={"path": list(paths)})

    def fsck(self, fix: bool = False) -> list[FsckProblem]:
        return self.http.call("POST", "/fsck", list[FsckProblem], params={"fix": fix})


def _content(source: Source, stack: ExitStack) -> Iterable[bytes]:
    if source.data is not None:
        return [source.data]
    if source.stream is not None:
        return _read_chunks(source.stream)
    assert source.local is not None
    return _read_chunks(stack.enter_context(open(source.local, "rb")))


def _member(source: Source, stack: ExitStack, progress: Progress | None) -> Member:
    """A source with its exact size, as a tar member needs (streams are spooled first)."""
    if source.data is not None:
        return source.path, len(source.data), _counted([source.data], progress)
    if source.stream is not None:
        spooled = stack.enter_context(tempfile.TemporaryFile())  # noqa: SIM115 - the stack closes it
        shutil.copyfileobj(source.stream, spooled, CHUNK)
        size = spooled.tell()
        spooled.seek(0)
        return source.path, size, _counted(_read_chunks(spooled), progress)
    assert source.local is not None
    f = stack.enter_context(open(source.local, "rb"))  # noqa: SIM115 - the stack closes it
    return source.path, os.fstat(f.fileno()).st_size, _counted(_read_chunks(f), progress)


class _IterReader:
    """A file-like ``read`` over an iterator of byte chunks (for ``tarfile``'s stream mode)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buf = bytearray()

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buf) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buf += chunk
        n = len(self._buf) if size < 0 else min(size, len(self._buf))
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out
