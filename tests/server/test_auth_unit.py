"""Roles, subjects and tokens as pure functions; the auth tables through ``AuthStore``
on a real (SQLite) store, with no server."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

import loxo
from loxo.errors import AlreadyExists, Conflict, InvalidArgument, RepoNotFound
from loxo.meta.db import Database, sqlite_url
from loxo.model.auth import Role, RoleBinding, parse_role, parse_subject, satisfies
from loxo.pfs.store import DB_FILE
from loxo.server import tokens
from loxo.server.tokens import AuthStore, new_token, token_hash


@pytest.mark.parametrize(("held", "needed", "ok"), [
    (None, Role.READER, False),
    (Role.READER, Role.READER, True),
    (Role.READER, Role.WRITER, False),
    (Role.WRITER, Role.READER, True),
    (Role.WRITER, Role.OWNER, False),
    (Role.OWNER, Role.WRITER, True),
    (Role.OWNER, Role.ADMIN, False),
    (Role.ADMIN, Role.OWNER, True),
])
def test_a_higher_role_grants_the_lower_ones(held: Role | None, needed: Role, ok: bool) -> None:
    assert satisfies(held, needed) is ok


def test_roles_parse_in_pachyderms_words_and_short_ones() -> None:
    assert parse_role("repoWriter") is Role.WRITER
    assert parse_role("OWNER") is Role.OWNER
    assert parse_role("clusterAdmin") is Role.ADMIN
    assert parse_role("none") is None
    with pytest.raises(InvalidArgument, match=r"unknown role 'boss'.*repoReader"):
        parse_role("boss")


def test_subjects_are_kind_colon_name_and_a_bare_name_is_a_user() -> None:
    assert parse_subject("alice") == "user:alice"
    assert parse_subject("robot:ci-1") == "robot:ci-1"
    assert parse_subject("pipeline:edges") == "pipeline:edges"
    for bad in ("group:x", "user:", "user:a b", ""):
        with pytest.raises(InvalidArgument, match="user:NAME"):
            parse_subject(bad)


def test_tokens_are_random_prefixed_and_hashed_with_sha256() -> None:
    a, b = new_token(), new_token()
    assert a != b and a.startswith("loxo_") and len(a) >= 5 + 43  # 32 bytes of base64
    assert token_hash(a) == hashlib.sha256(a.encode()).hexdigest()


@pytest.fixture
def store(home: Path) -> Iterator[AuthStore]:
    with loxo.Client(home) as c:
        c.create_repo("data")
    db = Database(sqlite_url(home / DB_FILE))
    try:
        yield AuthStore(db)
    finally:
        db.close()


def test_activation_happens_once_and_gives_root_a_token(store: AuthStore) -> None:
    assert not store.is_active()
    root = store.activate()
    assert store.is_active()
    assert store.subject_of(root) == "user:root"
    assert store.access("user:root", None).cluster is Role.ADMIN
    with pytest.raises(AlreadyExists, match="already active"):
        store.activate()


def test_only_the_hash_of_a_token_is_stored(store: AuthStore, home: Path) -> None:
    root = store.activate()
    robot = store.issue("robot:ci")
    raw = (home / DB_FILE).read_bytes() + b"".join(p.read_bytes() for p in home.glob(f"{DB_FILE}-*"))
    for token in (root, robot):
        assert token.encode() not in raw
        assert token_hash(token).encode() in raw


def test_unknown_expired_and_revoked_tokens_name_nobody(store: AuthStore) -> None:
    store.activate()
    assert store.subject_of("loxo_nonsense") is None
    assert store.subject_of(store.issue("robot:old", timedelta(seconds=-1))) is None
    token = store.issue("robot:ci", timedelta(hours=1))
    assert store.subject_of(token) == "robot:ci"
    assert store.revoke("robot:ci") == 1
    assert store.subject_of(token) is None


def test_another_process_sees_a_revocation_once_its_cache_expires(
    store: AuthStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.activate()
    token = store.issue("robot:ci")
    other = AuthStore(store.db)  # another server process on the same database
    assert other.subject_of(token) == "robot:ci"
    store.revoke("robot:ci")
    assert other.subject_of(token) == "robot:ci"  # cached for up to CACHE_SECONDS
    monkeypatch.setattr(tokens, "CACHE_SECONDS", 0.0)
    assert other.subject_of(token) is None


def test_repo_roles_are_set_replaced_removed_and_go_with_the_repo(store: AuthStore, home: Path) -> None:
    store.activate()
    store.set_repo_role("data", "user:a", Role.READER)
    store.set_repo_role("data", "user:b", Role.OWNER)
    store.set_repo_role("data", "user:a", Role.WRITER)
    assert store.repo_roles("data") == [RoleBinding("user:a", Role.WRITER), RoleBinding("user:b", Role.OWNER)]
    assert store.access("user:a", "data").repo_role is Role.WRITER
    store.set_repo_role("data", "user:a", None)
    assert store.access("user:a", "data").repo_role is None
    with pytest.raises(RepoNotFound):
        store.set_repo_role("nope", "user:a", Role.READER)
    with loxo.Client(home) as c:  # a new repo of the same name starts with no roles
        c.delete_repo("data")
        c.create_repo("data")
    assert store.repo_roles("data") == []


def test_the_last_cluster_admin_stays(store: AuthStore) -> None:
    store.activate()
    with pytest.raises(Conflict, match="last clusterAdmin"):
        store.set_cluster_role("user:root", None)
    store.set_cluster_role("user:ann", Role.ADMIN)
    store.set_cluster_role("user:root", None)
    assert store.cluster_roles() == [RoleBinding("user:ann", Role.ADMIN)]


def test_deactivation_forgets_every_token_and_role(store: AuthStore) -> None:
    root = store.activate()
    store.set_repo_role("data", "user:a", Role.READER)
    store.deactivate()
    assert not store.is_active()
    assert store.subject_of(root) is None
    assert store.repo_roles("data") == [] and store.cluster_roles() == []
    assert store.subject_of(store.activate()) == "user:root"  # and it can start over
