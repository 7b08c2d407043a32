"""``/v1`` routes of the PFS verbs: repos, branches, commits, commit sets and files.

Commits are addressed as in the CLI after the ``@``: ``master``, ``master^2``,
``master.1`` or an id. File paths travel as the ``path`` query parameter, never in the
URL path, so they reach the core exactly as the caller wrote them (HTTP clients
normalise ``..`` in URL paths; the core must see it to refuse it).
"""

from __future__ import annotations

import tarfile
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from loxo.client.remote_pfs import WAIT_CAP  # one number both ends agree on
from loxo.client.tarstream import read_tar, write_tar
from loxo.errors import CommitOpen, InvalidArgument
from loxo.model.address import parse_commit, parse_file
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
from loxo.pfs import Source
from loxo.pfs.files import gc_paused
from loxo.server.auth import Role, authorize, need, repo_created
from loxo.server.errors import ERROR_SCHEMA
from loxo.server.spool import spooled_sources
from loxo.server.state import ServerState, server_state
from loxo.server.streams import body_file

router = APIRouter(prefix="/v1", responses=ERROR_SCHEMA)
S = Annotated[ServerState, Depends(server_state)]
Path_ = Annotated[str, Query(description="a path inside the commit, e.g. /dir/file.csv")]
Count = Annotated[int, Query(ge=0, le=2**63 - 1)]  # what the metadata DB holds
Seconds = Annotated[float, Query(ge=0)]
READ, WRITE, OWN, ADMIN = (need(Role.READER), need(Role.WRITER), need(Role.OWNER),
                           need(Role.ADMIN, None))
ANYONE = need(Role.READER, None)


def raw_body(media_type: str) -> dict[str, Any]:
    """The document's word for a body read as a byte stream, not parsed."""
    binary = {"schema": {"type": "string", "format": "binary"}}
    return {"requestBody": {"content": {media_type: binary}}}


def commit_ref(repo: str, commit: str) -> Commit:
    return parse_commit(f"{repo}@{commit}")


def file_ref(repo: str, commit: str, path: str) -> File:
    return File(commit_ref(repo, commit), path)


# -- repos ---------------------------------------------------------------------------
class RepoCreate(BaseModel):
    name: str
    description: str = ""


class RepoUpdate(BaseModel):
    description: str


@router.post("/repos", status_code=201, dependencies=[ANYONE], tags=["repos"])
def create_repo(request: Request, body: RepoCreate, s: S) -> RepoInfo:
    info = s.client.create_repo(body.name, body.description)
    repo_created(request, info.name)
    return info


@router.get("/repos", dependencies=[ANYONE], tags=["repos"])
def list_repo(s: S) -> list[RepoInfo]:
    return s.client.list_repo()


@router.get("/repos/{repo}", dependencies=[READ], tags=["repos"])
def inspect_repo(repo: str, s: S) -> RepoInfo:
    return s.client.inspect_repo(repo)


@router.patch("/repos/{repo}", dependencies=[WRITE], tags=["repos"])
def update_repo(repo: str, body: RepoUpdate, s: S) -> RepoInfo:
    return s.client.update_repo(repo, body.description)


@router.delete("/repos/{repo}", status_code=204, dependencies=[OWN], tags=["repos"])
def delete_repo(repo: str, s: S, force: bool = False) -> None:
    s.client.delete_repo(repo, force)


# -- branches ------------------------------------------------------------------------
class BranchCreate(BaseModel):
    head: str | None = None  # a commit of this repo, as after the @


@router.put("/repos/{repo}/branches/{branch}", dependencies=[WRITE], tags=["branches"])
def create_branch(repo: str, branch: str, body: BranchCreate, s: S) -> BranchInfo:
    head = commit_ref(repo, body.head) if body.head else None
    info = s.client.pfs.create_branch(Branch(repo, branch), head)
    s.changed()
    return info


@router.get("/repos/{repo}/branches", dependencies=[READ], tags=["branches"])
def list_branch(repo: str, s: S) -> list[BranchInfo]:
    return s.client.list_branch(repo)


@router.get("/repos/{repo}/branches/{branch}", dependencies=[READ], tags=["branches"])
def inspect_branch(repo: str, branch: str, s: S) -> BranchInfo:
    return s.client.inspect_branch(Branch(repo, branch))


@router.delete("/repos/{repo}/branches/{branch}", status_code=204, dependencies=[WRITE],
               tags=["branches"])
def delete_branch(repo: str, branch: str, s: S) -> None:
    s.client.delete_branch(Branch(repo, branch))


# -- commits -------------------------------------------------------------------------
class CommitStart(BaseModel):
    branch: str
    parent: str | None = None
    description: str = ""


class CommitFinish(BaseModel):
    description: str | None = None


@router.post("/repos/{repo}/commits", status_code=201, dependencies=[WRITE], tags=["commits"])
def start_commit(repo: str, body: CommitStart, s: S) -> CommitInfo:
    parent = commit_ref(repo, body.parent) if body.parent else None
    return s.client.pfs.start_commit(Branch(repo, body.branch), parent, body.description)


@router.post("/repos/{repo}/commits/{commit}/finish", dependencies=[WRITE], tags=["commits"])
def finish_commit(repo: str, commit: str, body: CommitFinish, s: S) -> CommitInfo:
    info = s.client.pfs.finish_commit(commit_ref(repo, commit), body.description)
    s.changed()
    return info


@router.get("/repos/{repo}/commits", dependencies=[READ], tags=["commits"])
def list_commit(repo: str, s: S, branch: str | None = None, limit: Count = 0
                ) -> list[CommitInfo]:
    return s.client.pfs.list_commit(repo, commit_ref(repo, branch) if branch else None, limit)


@router.get("/repos/{repo}/commits/{commit}", dependencies=[READ], tags=["commits"])
def inspect_commit(repo: str, commit: str, s: S) -> CommitInfo:
    return s.client.pfs.inspect_commit(commit_ref(repo, commit))


@router.get("/repos/{repo}/commits/{commit}/wait", dependencies=[READ], tags=["commits"])
def wait_commit(repo: str, commit: str, s: S, timeout: Seconds = WAIT_CAP
                ) -> CommitInfo:
    """Held at most 20 s: asked to wait longer, a still-open commit comes back open and
    the caller asks again; within ``timeout`` it is ``commit_open`` (409)."""
    ref = commit_ref(repo, commit)
    if timeout <= WAIT_CAP:
        return s.client.pfs.wait_commit(ref, timeout)
    try:
        return s.client.pfs.wait_commit(ref, WAIT_CAP)
    except CommitOpen:
        return s.client.pfs.inspect_commit(ref)


@router.delete("/repos/{repo}/commits/{commit}", status_code=204, dependencies=[WRITE],
               tags=["commits"])
def delete_commit(repo: str, commit: str, s: S) -> None:
    s.client.pfs.delete_commit(commit_ref(repo, commit))


@router.post("/repos/{repo}/commits/{commit}/squash", status_code=204, dependencies=[WRITE],
             tags=["commits"])
def squash_commit(repo: str, commit: str, s: S) -> None:
    s.client.pfs.squash_commit(commit_ref(repo, commit))


@router.get("/commit-sets", dependencies=[ANYONE], tags=["commits"])
def list_commit_set(s: S, limit: Count = 50) -> list[CommitSetInfo]:
    return s.client.list_commit_set(limit)


@router.get("/commit-sets/{commit_id}", dependencies=[ANYONE], tags=["commits"])
def inspect_commit_set(commit_id: str, s: S) -> CommitSetInfo:
    return s.client.inspect_commit_set(commit_id)


@router.delete("/commit-sets/{commit_id}", status_code=204, dependencies=[ADMIN], tags=["commits"])
def delete_commit_set(commit_id: str, s: S) -> None:
    s.client.pfs.delete_commit_set(commit_id)


@router.post("/commit-sets/{commit_id}/squash", status_code=204, dependencies=[ADMIN],
             tags=["commits"])
def squash_commit_set(commit_id: str, s: S) -> None:
    s.client.pfs.squash_commit_set(commit_id)


# -- files ---------------------------------------------------------------------------
@router.put("/repos/{repo}/commits/{commit}/content", dependencies=[WRITE], tags=["files"],
            openapi_extra=raw_body("application/octet-stream"))
async def put_file(request: Request, repo: str, commit: str, path: Path_, s: S,
                   append: bool = False, description: str = "") -> CommitInfo:
    """One file, streamed from the request body: any size, flat memory."""
    ref = commit_ref(repo, commit)
    body = body_file(request)

    def put() -> CommitInfo:
        return s.client.pfs.put_files(ref, [Source(path, stream=body)], append=append,
                                      description=description)

    info = await anyio.to_thread.run_sync(put)
    s.changed()
    return info


@router.post("/repos/{repo}/commits/{commit}/tar", dependencies=[WRITE], tags=["files"],
             openapi_extra=raw_body("application/x-tar"))
async def put_tar(request: Request, repo: str, commit: str, s: S, append: bool = False,
                  description: str = "") -> CommitInfo:
    """Many files in one commit: the body is a tar stream, members named by path."""
    ref = commit_ref(repo, commit)
    body = body_file(request)

    def put() -> CommitInfo:
        try:
            with spooled_sources(read_tar(body)) as sources, gc_paused():
                return s.client.pfs.put_files(ref, sources, append=append,
                                              description=description)
        except tarfile.TarError as exc:
            raise InvalidArgument(f"the body is not a tar stream: {exc}") from None

    info = await anyio.to_thread.run_sync(put)
    s.changed()
    return info


@router.get("/repos/{repo}/commits/{commit}/content", dependencies=[READ], tags=["files"],
            response_class=StreamingResponse)
def get_file(repo: str, commit: str, path: Path_, s: S) -> StreamingResponse:
    ref = file_ref(repo, commit, path)
    s.client.pfs.inspect_file(ref)  # errors before the first byte, not mid-stream
    return StreamingResponse(s.client.pfs.read_file(ref), media_type="application/octet-stream")


@router.get("/repos/{repo}/commits/{commit}/tar", dependencies=[READ], tags=["files"],
            response_class=StreamingResponse)
def get_tar(repo: str, commit: str, path: Path_, s: S) -> StreamingResponse:
    """A file or a whole directory as a tar stream, members named by their full path."""
    ref = file_ref(repo, commit, path)
    s.client.pfs.inspect_file(ref)
    members = ((p, info.size_bytes, chunks) for p, info, chunks in s.client.pfs.iter_files(ref))
    return StreamingResponse(write_tar(members), media_type="application/x-tar")


@router.get("/repos/{repo}/commits/{commit}/file", dependencies=[READ], tags=["files"])
def inspect_file(repo: str, commit: str, path: Path_, s: S) -> FileInfo:
    return s.client.pfs.inspect_file(file_ref(repo, commit, path))


@router.get("/repos/{repo}/commits/{commit}/files", dependencies=[READ], tags=["files"])
def list_file(repo: str, commit: str, s: S, path: Path_ = "/", recursive: bool = False
              ) -> list[FileInfo]:
    """The children of ``path``; with ``recursive``, everything below it (walk)."""
    ref = file_ref(repo, commit, path)
    return list(s.client.pfs.walk_file(ref)) if recursive else s.client.pfs.list_file(ref)


@router.get("/repos/{repo}/commits/{commit}/glob", dependencies=[READ], tags=["files"])
def glob_file(repo: str, commit: str, pattern: str, s: S) -> list[FileInfo]:
    return s.client.pfs.glob_file(commit_ref(repo, commit), pattern)


@router.get("/repos/{repo}/commits/{commit}/diff", dependencies=[READ], tags=["files"])
def diff_file(request: Request, repo: str, commit: str, s: S, path: Path_ = "/",
              old: str | None = None) -> list[tuple[FileInfo | None, FileInfo | None]]:
    """``old`` is a full address, ``repo@commit:/path`` (default: the parent)."""
    old_ref = parse_file(old) if old else None
    if old_ref is not None:
        authorize(request, Role.READER, old_ref.commit.repo)
    return s.client.pfs.diff_file(file_ref(repo, commit, path), old_ref)


class FileCopy(BaseModel):
    src: str  # repo@commit:/path
    path: str
    append: bool = False


@router.post("/repos/{repo}/commits/{commit}/copy", dependencies=[WRITE], tags=["files"])
def copy_file(request: Request, repo: str, commit: str, body: FileCopy, s: S) -> CommitInfo:
    src = parse_file(body.src)
    authorize(request, Role.READER, src.commit.repo)
    info = s.client.pfs.copy_file(src, file_ref(repo, commit, body.path), append=body.append)
    s.changed()
    return info


@router.delete("/repos/{repo}/commits/{commit}/files", dependencies=[WRITE], tags=["files"])
def delete_file(repo: str, commit: str, s: S, path: Annotated[list[str], Query(min_length=1)]
                ) -> CommitInfo:
    info = s.client.pfs.delete_file(commit_ref(repo, commit), path)
    s.changed()
    return info


@router.post("/fsck", dependencies=[ADMIN], tags=["admin"])
def fsck(s: S, fix: bool = False) -> list[FsckProblem]:
    return s.client.fsck(fix)
