"""Branches: create (from a commit or empty), list, inspect, delete."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, delete, select

from loxo.errors import AlreadyExists, BranchNotFound, CommitOpen, InvalidArgument
from loxo.meta import schema
from loxo.meta.db import as_utc, utcnow
from loxo.model.address import check_branch_name
from loxo.model.refs import Branch, BranchInfo, Commit
from loxo.pfs.lookup import branch_row, open_commit, repo_row, resolve
from loxo.pfs.store import Store

B = schema.branches


class BranchOps:
    store: Store

    def create_branch(self, branch: Branch, head: Commit | None = None) -> BranchInfo:
        """A new branch pointing at ``head`` (a finished commit of the same repo), or empty."""
        check_branch_name(branch.name)
        with self.store.db.write() as conn:
            repo = repo_row(conn, branch.repo)
            head_id = None
            if head is not None:
                if head.repo != branch.repo:
                    raise InvalidArgument(f"head {head} is in another repo than {branch}")
                _, row = resolve(conn, head)
                if row.finished_at is None:
                    raise CommitOpen(f"commit {row.id} is still open; finish it first")
                head_id = row.id
            existing = branch_row(conn, repo.id, branch.name)
            if existing is not None:
                if head is None:
                    raise AlreadyExists(f"branch {branch} already exists")
                conn.execute(
                    B.update()
                    .where(B.c.repo_id == repo.id, B.c.name == branch.name)
                    .values(head=head_id)
                )
            else:
                conn.execute(
                    B.insert().values(
                        repo_id=repo.id, name=branch.name, head=head_id, created_at=utcnow()
                    )
                )
            return _info(conn, branch.repo, repo.id, branch_row(conn, repo.id, branch.name))

    def inspect_branch(self, branch: Branch) -> BranchInfo:
        with self.store.db.read() as conn:
            repo = repo_row(conn, branch.repo)
            row = branch_row(conn, repo.id, branch.name)
            if row is None:
                raise BranchNotFound(f"branch {branch} not found")
            return _info(conn, branch.repo, repo.id, row)

    def list_branch(self, repo: str) -> list[BranchInfo]:
        with self.store.db.read() as conn:
            r = repo_row(conn, repo)
            rows = conn.execute(select(B).where(B.c.repo_id == r.id).order_by(B.c.name)).all()
            return [_info(conn, repo, r.id, row) for row in rows]

    def delete_branch(self, branch: Branch) -> None:
        """Delete the branch; its commits stay reachable by id."""
        with self.store.db.write() as conn:
            repo = repo_row(conn, branch.repo)
            if branch_row(conn, repo.id, branch.name) is None:
                raise BranchNotFound(f"branch {branch} not found")
            pending = open_commit(conn, repo.id, branch.name)
            if pending is not None:
                raise CommitOpen(
                    f"branch {branch} has open commit {pending.id}; finish or delete it first"
                )
            conn.execute(delete(B).where(B.c.repo_id == repo.id, B.c.name == branch.name))


def _info(conn: Connection, repo: str, repo_id: int, row: Row[Any] | None) -> BranchInfo:
    assert row is not None
    pending = open_commit(conn, repo_id, row.name)
    return BranchInfo(
        repo, row.name, row.head, as_utc(row.created_at), pending.id if pending else None
    )
