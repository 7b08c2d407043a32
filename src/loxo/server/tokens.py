"""Auth state in the metadata database: activation, tokens (hashed), role bindings.

A token is ``loxo_`` + 32 random bytes (URL-safe base64); the prefix lets secret
scanners spot a leaked one. Only its SHA-256 is stored: a token has 256 bits of
entropy, so nobody can guess it from the hash, and a slow password hash (bcrypt, argon2)
would only add milliseconds to every request without making it any safer.

Lookups of the activation flag and of token -> subject are cached for ``CACHE_SECONDS``
(they change rarely and sit on every request). This process drops its cache at once
when it changes them; another server process on the same database sees a change within
``CACHE_SECONDS``. Roles are never cached, so a grant or a removal counts at once.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, bindparam, delete, select

from loxo.errors import AlreadyExists, Conflict, RepoNotFound
from loxo.meta import schema
from loxo.meta.db import Database, as_utc, utcnow
from loxo.model.auth import ROOT, Role, RoleBinding

CACHE_SECONDS = 2.0
TOKEN_PREFIX = "loxo_"
T, R, C = schema.auth_tokens, schema.auth_roles, schema.auth_cluster_roles
P = schema.pipelines
PIPELINE_TOKEN_TTL = timedelta(days=1)


# Built once: building a select costs more than running it (~0.3 ms a request here).
_CLUSTER_ROLE = select(C.c.role).where(C.c.subject == bindparam("subject"))
_ACCESS = (
    select(_CLUSTER_ROLE.scalar_subquery().label("cluster"), R.c.role)
    .select_from(schema.repos.outerjoin(
        R, (R.c.repo_id == schema.repos.c.id) & (R.c.subject == bindparam("subject"))))
    .where(schema.repos.c.name == bindparam("repo"))
)


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Access:
    """What a subject holds where a request points: the cluster role, whether the repo
    exists, and the subject's role on it."""

    cluster: Role | None
    repo_exists: bool
    repo_role: Role | None


class AuthStore:
    """Auth state of one store; safe to share between threads."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._lock = threading.Lock()
        self._active: tuple[float, bool] | None = None  # (fetched at, active)
        self._subjects: dict[str, tuple[float, str | None]] = {}  # hash -> (fetched at, subject)

    def forget(self) -> None:
        """Drop the caches (after this process changed tokens or activation)."""
        with self._lock:
            self._active = None
            self._subjects.clear()

    # -- activation ----------------------------------------------------------------
    def is_active(self) -> bool:
        now = time.monotonic()
        with self._lock:
            if self._active is not None and now - self._active[0] < CACHE_SECONDS:
                return self._active[1]
        with self.db.read() as conn:
            active = conn.execute(select(schema.auth_activation.c.id)).first() is not None
        with self._lock:
            self._active = (now, active)
        return active

    def activate(self) -> str:
        """Turn auth on; returns the root token (``user:root``, clusterAdmin), once."""
        token = new_token()
        with self.db.write() as conn:
            if conn.execute(select(schema.auth_activation.c.id)).first() is not None:
                raise AlreadyExists("auth is already active; an admin can deactivate it: "
                                    "loxo auth deactivate")
            conn.execute(schema.auth_activation.insert().values(id=1, activated_at=utcnow()))
            conn.execute(C.insert().values(subject=ROOT, role=Role.ADMIN.value))
            _insert_token(conn, token, ROOT, None)
            for row in conn.execute(select(P.c.name, P.c.input_repos)).all():
                _pipeline_roles(conn, row.name, json.loads(row.input_repos))
        self.forget()
        return token

    def deactivate(self) -> None:
        """Turn auth off and forget every token and role, as Pachyderm does."""
        with self.db.write() as conn:
            for table in (schema.auth_activation, T, R, C):
                conn.execute(delete(table))
        self.forget()

    # -- tokens ----------------------------------------------------------------------
    def issue(self, subject: str, ttl: timedelta | None = None) -> str:
        """A new token for ``subject`` (expiring after ``ttl``, if given)."""
        token = new_token()
        with self.db.write() as conn:
            _insert_token(conn, token, subject, utcnow() + ttl if ttl else None)
        return token

    def subject_of(self, token: str) -> str | None:
        """Whose token this is; None for an unknown, revoked or expired one."""
        key, now = token_hash(token), time.monotonic()
        with self._lock:
            hit = self._subjects.get(key)
        if hit is not None and now - hit[0] < CACHE_SECONDS:
            return hit[1]
        with self.db.read() as conn:
            row = conn.execute(select(T.c.subject, T.c.expires_at).where(T.c.hash == key)).first()
        subject = row.subject if row and (row.expires_at is None or
                                          as_utc(row.expires_at) > utcnow()) else None
        with self._lock:
            if len(self._subjects) > 10_000:  # junk tokens must not grow memory forever
                self._subjects.clear()
            self._subjects[key] = (now, subject)
        return subject

    def revoke(self, subject: str) -> int:
        """Delete every token of ``subject``; returns how many there were."""
        with self.db.write() as conn:
            count = conn.execute(delete(T).where(T.c.subject == subject)).rowcount
        self.forget()
        return int(count or 0)

    # -- roles -----------------------------------------------------------------------
    def access(self, subject: str, repo: str | None) -> Access:
        """One query: it runs on almost every request. A missing repo comes back as
        not existing, with no roles looked up (every check lets it through)."""
        with self.db.read() as conn:
            if repo is None:
                cluster = conn.execute(_CLUSTER_ROLE, {"subject": subject}).scalar()
                return Access(_role(cluster), False, None)
            found = conn.execute(_ACCESS, {"subject": subject, "repo": repo}).first()
        if found is None:
            return Access(None, False, None)
        return Access(_role(found.cluster), True, _role(found.role))

    def repo_roles(self, repo: str) -> list[RoleBinding]:
        with self.db.read() as conn:
            return _bindings(conn.execute(
                select(R.c.subject, R.c.role).where(R.c.repo_id == _repo_id(conn, repo))))

    def set_repo_role(self, repo: str, subject: str, role: Role | None) -> None:
        """``subject``'s role on ``repo`` becomes ``role``; None removes it."""
        with self.db.write() as conn:
            repo_id = _repo_id(conn, repo)
            conn.execute(delete(R).where(R.c.repo_id == repo_id, R.c.subject == subject))
            if role is not None:
                conn.execute(R.insert().values(repo_id=repo_id, subject=subject, role=role.value))

    def cluster_roles(self) -> list[RoleBinding]:
        with self.db.read() as conn:
            return _bindings(conn.execute(select(C.c.subject, C.c.role)))

    def set_cluster_role(self, subject: str, role: Role | None) -> None:
        with self.db.write() as conn:
            conn.execute(delete(C).where(C.c.subject == subject))
            if role is not None:
                conn.execute(C.insert().values(subject=subject, role=role.value))
            elif conn.execute(select(C.c.subject).where(C.c.role == Role.ADMIN.value)).first() is None:
                raise Conflict(f"{subject} is the last clusterAdmin; make someone else one first")

    # -- pipelines -------------------------------------------------------------------
    def pipeline_created(self, name: str, creator: str | None) -> None:
        """Roles after a pipeline was created or updated: its own subject reads its
        inputs and writes its output repo (and nothing else); ``creator`` owns the
        output repo, and the repos its cron inputs created, when nobody held a role on
        them yet (so an update by a writer grants nothing)."""
        with self.db.write() as conn:
            inputs = json.loads(conn.execute(
                select(P.c.input_repos).where(P.c.name == name)).scalar_one())
            for repo in [name, *inputs] if creator else []:
                repo_id = _repo_id(conn, repo)
                if conn.execute(select(R.c.subject).where(R.c.repo_id == repo_id)).first() is None:
                    conn.execute(R.insert().values(repo_id=repo_id, subject=creator,
                                                   role=Role.OWNER.value))
            _pipeline_roles(conn, name, inputs)

    def pipeline_token(self, name: str, ttl: timedelta = PIPELINE_TOKEN_TTL) -> str:
        """A token for ``pipeline:NAME``, minted when its work is handed to a worker that
        reaches the store over HTTP (only the hash is kept, so each hand-off mints one)."""
        return self.issue(pipeline_subject(name), ttl)

    def forget_subject(self, subject: str) -> None:
        """Every role and token of ``subject`` (a deleted pipeline's own identity)."""
        with self.db.write() as conn:
            for table in (R, C, T):
                conn.execute(delete(table).where(table.c.subject == subject))
        self.forget()


def _insert_token(conn: Connection, token: str, subject: str, expires: datetime | None) -> None:
    conn.execute(T.insert().values(hash=token_hash(token), subject=subject, created_at=utcnow(),
                                   expires_at=expires))


def pipeline_subject(name: str) -> str:
    return f"pipeline:{name}"


def _pipeline_roles(conn: Connection, name: str, inputs: list[str]) -> None:
    """``pipeline:NAME`` reads exactly ``inputs`` and writes exactly its output repo."""
    subject = pipeline_subject(name)
    conn.execute(delete(R).where(R.c.subject == subject))
    grants = [(repo, Role.READER) for repo in inputs if repo != name] + [(name, Role.WRITER)]
    for repo, role in grants:
        conn.execute(R.insert().values(repo_id=_repo_id(conn, repo), subject=subject,
                                       role=role.value))


def _role(value: str | None) -> Role | None:
    return Role(value) if value else None


def _repo_id(conn: Connection, repo: str) -> int:
    found = conn.execute(select(schema.repos.c.id).where(schema.repos.c.name == repo)).scalar()
    if found is None:
        raise RepoNotFound(f"repo {repo} not found")
    return int(found)


def _bindings(rows: Iterable[object]) -> list[RoleBinding]:
    return sorted((RoleBinding(r.subject, Role(r.role)) for r in rows),  # type: ignore[attr-defined]
                  key=lambda b: b.subject)
