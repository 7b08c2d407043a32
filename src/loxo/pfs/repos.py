"""Repos: create, list, inspect, update, delete."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, Row, delete, func, select, update

from loxo.errors import AlreadyExists, InUse
from loxo.meta import schema
from loxo.meta.db import as_utc, utcnow
from loxo.model.address import check_repo_name
from loxo.model.refs import RepoInfo
from loxo.pfs.lookup import repo_row
from loxo.pfs.store import Store


class RepoOps:
    store: Store

    def dependents_of(self, repo: str) -> list[str]:
        """Names of the pipelines that read ``repo``."""
        with self.store.db.read() as conn:
            rows = conn.execute(select(schema.pipelines.c.name, schema.pipelines.c.input_repos))
            return sorted(r.name for r in rows if repo in json.loads(r.input_repos))

    def create_repo(self, name: str, description: str = "") -> RepoInfo:
        check_repo_name(name)
        with self.store.db.write() as conn:
            if conn.execute(select(schema.repos.c.id).where(schema.repos.c.name == name)).first():
                raise AlreadyExists(f"repo {name} already exists")
            conn.execute(
                schema.repos.insert().values(name=name, description=description, created_at=utcnow())
            )
            return _info(conn, repo_row(conn, name))

    def inspect_repo(self, name: str) -> RepoInfo:
        with self.store.db.read() as conn:
            return _info(conn, repo_row(conn, name))

    def list_repo(self) -> list[RepoInfo]:
        with self.store.db.read() as conn:
            query = select(schema.repos).where(schema.repos.c.kind != "spec")
            rows = conn.execute(query.order_by(schema.repos.c.created_at.desc()))
            return [_info(conn, r) for r in rows.all()]

    def update_repo(self, name: str, description: str) -> RepoInfo:
        with self.store.db.write() as conn:
            row = repo_row(conn, name)
            conn.execute(
                update(schema.repos).where(schema.repos.c.id == row.id).values(description=description)
            )
            return _info(conn, repo_row(conn, name))

    def delete_repo(self, name: str, force: bool = False) -> None:
        """Delete a repo and all its commits; refused while a pipeline reads it unless forced."""
        users = self.dependents_of(name)
        if users and not force:
            raise InUse(
                f"repo {name} is an input of pipeline(s) {', '.join(users)}; "
                "delete them first or pass --force"
            )
        with self.store.db.write() as conn:
            row = repo_row(conn, name)
            conn.execute(delete(schema.commits).where(schema.commits.c.repo_id == row.id))
            conn.execute(delete(schema.branches).where(schema.branches.c.repo_id == row.id))
            conn.execute(delete(schema.repos).where(schema.repos.c.id == row.id))


def _info(conn: Connection, row: Row[Any]) -> RepoInfo:
    b, c = schema.branches, schema.commits
    names = tuple(
        r.name for r in conn.execute(select(b.c.name).where(b.c.repo_id == row.id).order_by(b.c.name))
    )
    size = conn.execute(
        select(func.coalesce(func.max(c.c.size_bytes), 0))
        .select_from(b.join(c, (c.c.repo_id == b.c.repo_id) & (c.c.id == b.c.head)))
        .where(b.c.repo_id == row.id, b.c.name == "master")
    ).scalar_one()
    if not size and names:
        size = conn.execute(
            select(func.coalesce(func.max(c.c.size_bytes), 0))
            .select_from(b.join(c, (c.c.repo_id == b.c.repo_id) & (c.c.id == b.c.head)))
            .where(b.c.repo_id == row.id)
        ).scalar_one()
    return RepoInfo(row.name, as_utc(row.created_at), int(size), row.description, names)
