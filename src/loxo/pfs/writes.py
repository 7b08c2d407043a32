"""Landing edits in a commit: into an open commit, or as a new commit of their own.

Every write outside an explicit commit becomes its own commit, created finished in one
transaction with the branch move, so no reader ever sees it half done. Content is
stored first, then directory blobs, then the metadata points at them; a writer killed
at any step leaves the store as it was (plus unreferenced objects).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, update

from loxo.errors import CommitFinished, InvalidArgument
from loxo.meta import schema
from loxo.meta.db import utcnow
from loxo.model.address import check_branch_name
from loxo.model.refs import Commit, CommitInfo, Origin
from loxo.pfs.lookup import branch_row, commit_by_id, commit_info, open_commit, repo_row
from loxo.pfs.store import Store
from loxo.pfs.tree import Change, apply_changes
from loxo.storage.blobs import BlobWriter

_HEX_ID = re.compile(r"^[0-9a-f]{32}$")
_MAX_RETRIES = 50
C = schema.commits
B = schema.branches


def new_commit_id() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True)
class Target:
    """Where a write lands: an open commit (``commit_pk``) or a new commit on ``branch``."""

    repo: str
    repo_id: int
    branch: str | None
    commit_pk: int | None
    base_tree: str | None
    base_head: str | None


def find_target(conn: Connection, ref: Commit) -> Target:
    if ref.ancestors or ref.nth is not None:
        raise InvalidArgument(f"cannot write to {ref}: only a branch or an open commit")
    repo = repo_row(conn, ref.repo)
    branch = branch_row(conn, repo.id, ref.ref)
    if branch is None:
        row = commit_by_id(conn, repo.id, ref.ref) if _HEX_ID.match(ref.ref) else None
        if row is not None:
            if row.finished_at is not None:
                raise CommitFinished(
                    f"commit {row.id} in {ref.repo} is finished; write to a branch or start a commit"
                )
            return Target(ref.repo, repo.id, row.branch, row.pk, row.tree, None)
        check_branch_name(ref.ref)
        return Target(ref.repo, repo.id, ref.ref, None, None, None)
    pending = open_commit(conn, repo.id, ref.ref)
    if pending is not None:
        return Target(ref.repo, repo.id, ref.ref, pending.pk, pending.tree, None)
    head = commit_by_id(conn, repo.id, branch.head) if branch.head else None
    return Target(ref.repo, repo.id, ref.ref, None, head.tree if head else None, branch.head)


def write_changes(
    store: Store,
    ref: Commit,
    plan: Sequence[Change],
    produce: Callable[[BlobWriter, str | None], Sequence[Change]],
    description: str = "",
) -> CommitInfo:
    """Check ``plan`` for path conflicts, store content via ``produce``, then land it.

    ``produce`` gets the writer and the tree the edits start from (to skip content that
    is already there)."""
    with store.db.read() as conn:
        target = find_target(conn, ref)
    apply_changes(store.trees, target.base_tree, plan, None)  # fail before storing anything
    writer = store.writer()
    changes = produce(writer, target.base_tree)
    for _ in range(_MAX_RETRIES):
        tree, size = apply_changes(store.trees, target.base_tree, changes, writer)
        writer.flush()
        with store.db.write() as conn:
            landed = _land(conn, ref, target, tree, size, description)
            if landed is not None:
                return commit_info(conn, ref.repo, landed)
            target = find_target(conn, ref)
    raise CommitFinished(f"could not write to {ref}: it kept changing under us; try again")


def _land(
    conn: Connection, ref: Commit, target: Target, tree: str | None, size: int, description: str
) -> Row[Any] | None:
    """Apply inside a write transaction, or None if the base moved meanwhile (retry)."""
    current = find_target(conn, ref)
    if current != target:
        return None
    if target.commit_pk is not None:
        conn.execute(update(C).where(C.c.pk == target.commit_pk).values(tree=tree, size_bytes=size))
        return conn.execute(C.select().where(C.c.pk == target.commit_pk)).first()
    assert target.branch is not None
    now = utcnow()
    commit_id = new_commit_id()
    conn.execute(
        C.insert().values(
            repo_id=target.repo_id, id=commit_id, branch=target.branch, parent=target.base_head,
            origin=Origin.USER.value, description=description, started_at=now, finished_at=now,
            tree=tree, size_bytes=size,
        )
    )
    set_branch_head(conn, target.repo_id, target.branch, commit_id)
    return commit_by_id(conn, target.repo_id, commit_id)


def set_branch_head(conn: Connection, repo_id: int, branch: str, head: str | None) -> None:
    if branch_row(conn, repo_id, branch) is None:
        conn.execute(B.insert().values(repo_id=repo_id, name=branch, head=head, created_at=utcnow()))
    else:
        conn.execute(update(B).where(B.c.repo_id == repo_id, B.c.name == branch).values(head=head))
