"""Commits: start, finish, inspect, list, wait, delete, squash; commit sets by global id."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Connection, Row, delete, func, select, update

from loxo.errors import (
    CommitFinished,
    CommitNotFound,
    CommitOpen,
    InUse,
    InvalidArgument,
)
from loxo.meta import schema
from loxo.meta.db import utcnow
from loxo.model.address import check_branch_name
from loxo.model.refs import Branch, Commit, CommitInfo, CommitSetInfo, Origin
from loxo.pfs.lookup import (
    ancestry,
    branch_row,
    children_of,
    commit_by_id,
    commit_info,
    open_commit,
    repo_row,
    resolve,
)
from loxo.pfs.store import Store
from loxo.pfs.writes import find_target, new_commit_id, set_branch_head

C = schema.commits
B = schema.branches


class CommitOps:
    store: Store

    def start_commit(
        self, branch: Branch, parent: Commit | None = None, description: str = ""
    ) -> CommitInfo:
        """Open a commit on ``branch``; it is invisible to branch readers until finished."""
        check_branch_name(branch.name)
        with self.store.db.write() as conn:
            repo = repo_row(conn, branch.repo)
            pending = open_commit(conn, repo.id, branch.name)
            if pending is not None:
                raise CommitOpen(
                    f"branch {branch} already has open commit {pending.id}; finish it first"
                )
            head = branch_row(conn, repo.id, branch.name)
            base = commit_by_id(conn, repo.id, head.head) if head and head.head else None
            if parent is not None:
                _, base = resolve(conn, parent)
            if head is None:
                set_branch_head(conn, repo.id, branch.name, None)
            commit_id = new_commit_id()
            conn.execute(
                C.insert().values(
                    repo_id=repo.id, id=commit_id, branch=branch.name,
                    parent=base.id if base is not None else None, origin=Origin.USER.value,
                    description=description, started_at=utcnow(), finished_at=None,
                    tree=base.tree if base is not None else None,
                    size_bytes=base.size_bytes if base is not None else 0,
                )
            )
            return commit_info(conn, branch.repo, commit_by_id(conn, repo.id, commit_id))  # type: ignore[arg-type]

    def finish_commit(self, ref: Commit, description: str | None = None) -> CommitInfo:
        """Finish an open commit (by id, or the open commit of a branch); moves the branch."""
        with self.store.db.write() as conn:
            target = find_target(conn, ref)
            if target.commit_pk is None:
                raise CommitFinished(f"{ref} has no open commit; start one with: loxo start commit")
            row = conn.execute(C.select().where(C.c.pk == target.commit_pk)).one()
            values: dict[str, Any] = {"finished_at": utcnow()}
            if description is not None:
                values["description"] = description
            conn.execute(update(C).where(C.c.pk == row.pk).values(**values))
            if row.branch is not None:
                set_branch_head(conn, row.repo_id, row.branch, row.id)
            return commit_info(conn, ref.repo, conn.execute(C.select().where(C.c.pk == row.pk)).one())

    def inspect_commit(self, ref: Commit) -> CommitInfo:
        with self.store.db.read() as conn:
            _, row = resolve(conn, ref)
            return commit_info(conn, ref.repo, row)

    def list_commit(self, repo: str, ref: Commit | None = None, limit: int = 0) -> list[CommitInfo]:
        """Newest first: every commit in ``repo``, or the history of ``ref`` (a branch's
        open commit comes first)."""
        with self.store.db.read() as conn:
            r = repo_row(conn, repo)
            rows: list[Row[Any]]
            if ref is None:
                query = select(C).where(C.c.repo_id == r.id).order_by(C.c.pk.desc())
                rows = list(conn.execute(query.limit(limit) if limit else query))
                return [commit_info(conn, repo, row) for row in rows]
            rows = []
            branch = branch_row(conn, r.id, ref.ref)
            plain_branch = branch is not None and not ref.ancestors and ref.nth is None
            if plain_branch:
                pending = open_commit(conn, r.id, ref.ref)
                if pending is not None:
                    rows.append(pending)
            if branch is None or branch.head is not None or not plain_branch:
                rows.extend(ancestry(conn, r.id, resolve(conn, ref)[1]))
            rows = rows[:limit] if limit else rows
            return [commit_info(conn, repo, row) for row in rows]

    def wait_commit(self, ref: Commit, timeout: float | None = None) -> CommitInfo:
        """Block until the commit is finished (``timeout`` seconds at most)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 0.02
        while True:
            with self.store.db.read() as conn:
                row = _named_row(conn, ref)
                if row.finished_at is not None:
                    return commit_info(conn, ref.repo, row)
            if deadline is not None and time.monotonic() > deadline:
                raise CommitOpen(f"commit {row.id} is still open after {timeout} s")
            time.sleep(delay)
            delay = min(delay * 2, 0.5)

    def delete_commit(self, ref: Commit) -> None:
        """Delete a branch head (or an open commit) with no children; the branch moves back."""
        with self.store.db.write() as conn:
            _delete_one(conn, ref.repo, _named_row(conn, ref))

    def squash_commit(self, ref: Commit) -> None:
        """Remove a finished, non-head commit; its children keep their full content."""
        with self.store.db.write() as conn:
            _, row = resolve(conn, ref)
            _squash_one(conn, ref.repo, row)

    # -- commit sets (global ids) ------------------------------------------------------
    def inspect_commit_set(self, commit_id: str) -> CommitSetInfo:
        with self.store.db.read() as conn:
            return _commit_set(conn, commit_id)

    def list_commit_set(self, limit: int = 50) -> list[CommitSetInfo]:
        with self.store.db.read() as conn:
            ids = conn.execute(
                select(C.c.id).group_by(C.c.id).order_by(func.max(C.c.pk).desc()).limit(limit)
            ).scalars()
            return [_commit_set(conn, i) for i in ids]

    def delete_commit_set(self, commit_id: str) -> None:
        with self.store.db.write() as conn:
            for repo, row in _set_rows(conn, commit_id):
                _delete_one(conn, repo, row)

    def squash_commit_set(self, commit_id: str) -> None:
        with self.store.db.write() as conn:
            for repo, row in _set_rows(conn, commit_id):
                _squash_one(conn, repo, row)


def _named_row(conn: Connection, ref: Commit) -> Row[Any]:
    """The commit ``ref`` names: a branch's open commit if it has one, else as resolved."""
    if ref.ancestors == 0 and ref.nth is None:
        try:
            target = find_target(conn, ref)
        except CommitFinished:  # a finished commit named by its id
            target = None
        if target is not None and target.commit_pk is not None:
            return conn.execute(C.select().where(C.c.pk == target.commit_pk)).one()
    return resolve(conn, ref)[1]


def _set_rows(conn: Connection, commit_id: str) -> list[tuple[str, Row[Any]]]:
    R = schema.repos
    rows = conn.execute(
        select(C, R.c.name.label("repo_name")).join(R, R.c.id == C.c.repo_id).where(C.c.id == commit_id)
    ).all()
    if not rows:
        raise CommitNotFound(f"no commit has global id {commit_id}")
    return [(r.repo_name, r) for r in rows]


def _commit_set(conn: Connection, commit_id: str) -> CommitSetInfo:
    infos = tuple(commit_info(conn, repo, row) for repo, row in _set_rows(conn, commit_id))
    created = min(i.started for i in infos)
    modified = max((i.finished or i.started) for i in infos)
    return CommitSetInfo(commit_id, infos, created, modified)


def _delete_one(conn: Connection, repo: str, row: Row[Any]) -> None:
    kids = children_of(conn, row.repo_id, row.id)
    if kids:
        raise InUse(
            f"commit {row.id} in {repo} has child commits ({', '.join(kids)}); "
            "only a branch head can be deleted (use squash for older commits)"
        )
    if row.finished_at is not None:
        heads = conn.execute(
            select(B.c.name).where(B.c.repo_id == row.repo_id, B.c.head == row.id)
        ).scalars().all()
        if not heads:
            raise InvalidArgument(f"commit {row.id} in {repo} is not a branch head")
        for name in heads:
            set_branch_head(conn, row.repo_id, name, row.parent)
    conn.execute(delete(C).where(C.c.pk == row.pk))


def _squash_one(conn: Connection, repo: str, row: Row[Any]) -> None:
    if row.finished_at is None:
        raise CommitOpen(f"commit {row.id} in {repo} is open; finish it before squashing")
    heads = conn.execute(
        select(B.c.name).where(B.c.repo_id == row.repo_id, B.c.head == row.id)
    ).scalars().all()
    if heads:
        raise InvalidArgument(
            f"commit {row.id} is the head of {repo}@{heads[0]}; squash applies to older commits, "
            "use delete commit for a head"
        )
    conn.execute(
        update(C).where(C.c.repo_id == row.repo_id, C.c.parent == row.id).values(parent=row.parent)
    )
    conn.execute(delete(C).where(C.c.pk == row.pk))
