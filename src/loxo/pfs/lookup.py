"""Finding rows: repos by name, commits by address. Shared by the per-noun modules."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Connection, Row, select

from loxo.errors import BranchNotFound, CommitNotFound, RepoNotFound
from loxo.meta import schema
from loxo.meta.db import as_utc
from loxo.model.refs import Commit, CommitInfo, Origin

_HEX_ID = re.compile(r"^[0-9a-f]{32}$")
C = schema.commits


def repo_row(conn: Connection, name: str) -> Row[Any]:
    row = conn.execute(select(schema.repos).where(schema.repos.c.name == name)).first()
    if row is None:
        raise RepoNotFound(f"repo {name} not found; create it with: loxo create repo {name}")
    return row


def branch_row(conn: Connection, repo_id: int, name: str) -> Row[Any] | None:
    b = schema.branches
    return conn.execute(
        select(b).where(b.c.repo_id == repo_id, b.c.name == name)
    ).first()


def commit_by_id(conn: Connection, repo_id: int, commit_id: str) -> Row[Any] | None:
    return conn.execute(select(C).where(C.c.repo_id == repo_id, C.c.id == commit_id)).first()


def open_commit(conn: Connection, repo_id: int, branch: str) -> Row[Any] | None:
    return conn.execute(
        select(C).where(C.c.repo_id == repo_id, C.c.branch == branch, C.c.finished_at.is_(None))
    ).first()


def resolve(conn: Connection, ref: Commit) -> tuple[Row[Any], Row[Any]]:
    """``(repo row, commit row)`` for an address; branches resolve to their finished head."""
    repo = repo_row(conn, ref.repo)
    branch = branch_row(conn, repo.id, ref.ref)
    if branch is not None:
        if branch.head is None:
            raise CommitNotFound(f"branch {ref.repo}@{ref.ref} has no finished commit yet")
        row = commit_by_id(conn, repo.id, branch.head)
    else:
        row = commit_by_id(conn, repo.id, ref.ref)
        if row is None:
            if _HEX_ID.match(ref.ref):
                raise CommitNotFound(f"commit {ref.ref} not found in repo {ref.repo}")
            raise BranchNotFound(
                f"branch {ref.ref} not found in repo {ref.repo}; "
                f"see branches with: loxo list branch {ref.repo}"
            )
    if row is None:
        raise CommitNotFound(f"commit {ref} not found")
    if ref.nth is not None:
        chain = ancestry(conn, repo.id, row)
        if ref.nth > len(chain):
            raise CommitNotFound(f"{ref} not found: {ref.ref} has only {len(chain)} commits")
        return repo, chain[-ref.nth]
    for _ in range(ref.ancestors):
        if row.parent is None:
            raise CommitNotFound(f"{ref} not found: history is shorter than that")
        parent = commit_by_id(conn, repo.id, row.parent)
        if parent is None:
            raise CommitNotFound(f"{ref} not found: parent {row.parent} is gone")
        row = parent
    return repo, row


def ancestry(conn: Connection, repo_id: int, row: Row[Any]) -> list[Row[Any]]:
    """``row`` and its ancestors, newest first."""
    chain = [row]
    while chain[-1].parent is not None:
        parent = commit_by_id(conn, repo_id, chain[-1].parent)
        if parent is None:
            break
        chain.append(parent)
    return chain


def children_of(conn: Connection, repo_id: int, commit_id: str) -> tuple[str, ...]:
    rows = conn.execute(
        select(C.c.id).where(C.c.repo_id == repo_id, C.c.parent == commit_id).order_by(C.c.pk)
    )
    return tuple(r.id for r in rows)


def commit_info(conn: Connection, repo_name: str, row: Row[Any]) -> CommitInfo:
    return CommitInfo(
        repo=repo_name,
        id=row.id,
        branch=row.branch,
        parent=row.parent,
        origin=Origin(row.origin),
        description=row.description,
        started=as_utc(row.started_at),
        finished=as_utc(row.finished_at) if row.finished_at is not None else None,
        size_bytes=row.size_bytes,
        children=children_of(conn, row.repo_id, row.id),
        provenance=direct_provenance(conn, row.repo_id, row.id),
    )


def direct_provenance(conn: Connection, repo_id: int, commit_id: str) -> tuple[str, ...]:
    """``repo@id`` of every commit this one was computed from directly."""
    P, R = schema.commit_provenance, schema.repos
    rows = conn.execute(
        select(R.c.name, P.c.from_commit_id).join(R, R.c.id == P.c.from_repo_id)
        .where(P.c.repo_id == repo_id, P.c.commit_id == commit_id).order_by(R.c.name)
    )
    return tuple(f"{r.name}@{r.from_commit_id}" for r in rows)
