"""Auth through the API, in-process: off until activated, creators own what they
create, checks on repos named in bodies and queries, pipelines' own identities,
revocation and deactivation."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

import loxo
from loxo.errors import AlreadyExists, InvalidArgument, PermissionDenied, RepoNotFound, Unauthenticated
from loxo.meta.db import Database, sqlite_url
from loxo.model.auth import Role, RoleBinding, Whoami
from loxo.pfs.store import DB_FILE
from loxo.pps.spec import spec_from_dict
from loxo.server.tokens import AuthStore
from tests.server.auth_world import copy_spec
from tests.support.inprocess import serve_in_process


@pytest.fixture
def remote(home: Path) -> Iterator[loxo.RemoteClient]:
    """A server with repos ``data`` (a file) and ``other`` (a secret), auth not yet on."""
    with serve_in_process(home) as r:
        r.create_repo("data")
        r.put_file("data@master:/a.txt", b"A")
        r.create_repo("other")
        r.put_file("other@master:/s.txt", b"S")
        yield r


def activate_with_users(r: loxo.RemoteClient, **roles: str) -> dict[str, str]:
    """Activate; one token per user, holding the given role on data."""
    tokens = {"root": r.activate_auth()}
    for user, role in roles.items():
        tokens[user] = r.get_token(user)
        r.set_repo_role("data", user, role)
    return tokens


def test_auth_is_off_until_activated_and_activation_happens_once(remote: loxo.RemoteClient) -> None:
    assert remote.whoami() == Whoami(active=False)
    assert remote.list_repo()  # no token needed yet
    root = remote.activate_auth()
    assert remote.whoami().subject == "user:root" and remote.whoami().cluster_admin
    remote.use_token(None)
    with pytest.raises(Unauthenticated, match="carries no token: log in with loxo auth login"):
        remote.list_repo()
    with pytest.raises(AlreadyExists, match="already active"):
        remote.activate_auth()
    remote.use_token(root)
    assert [r.name for r in remote.list_repo()] == ["other", "data"]


def test_the_creator_of_a_repo_owns_it_and_grants_roles(remote: loxo.RemoteClient) -> None:
    tokens = activate_with_users(remote, bob="repoReader")
    tokens["ann"] = remote.get_token("ann")
    remote.use_token(tokens["ann"])
    remote.create_repo("anns")
    assert remote.get_repo_roles("anns") == [RoleBinding("user:ann", Role.OWNER)]
    remote.set_repo_role("anns", "bob", "reader")
    remote.use_token(tokens["bob"])
    assert remote.list_commit("anns") == []
    with pytest.raises(PermissionDenied, match=r"user:bob may not PUT .* needs repoOwner on repo anns"):
        remote.set_repo_role("anns", "bob", "repoOwner")
    with pytest.raises(PermissionDenied, match="needs repoWriter on repo anns and holds repoReader"):
        remote.put_file("anns@master:/x", b"x")
    remote.use_token(tokens["ann"])
    remote.set_repo_role("anns", "bob", None)
    assert remote.get_repo_roles("anns") == [RoleBinding("user:ann", Role.OWNER)]
    with pytest.raises(InvalidArgument, match="clusterAdmin is a cluster role"):
        remote.set_repo_role("anns", "bob", "clusterAdmin")


def test_repos_named_in_bodies_and_queries_are_checked_too(remote: loxo.RemoteClient) -> None:
    """A writer on data cannot pull another repo's data in through a copy, a diff, a
    provenance query or a pipeline spec."""
    tokens = activate_with_users(remote, wendy="repoWriter")
    before = remote.list_commit("data")
    remote.use_token(tokens["wendy"])
    with pytest.raises(PermissionDenied, match="needs repoReader on repo other"):
        remote.copy_file("other@master:/s.txt", "data@master:/s.txt")
    with pytest.raises(PermissionDenied, match="repo other"):
        remote.diff_file("data@master:/", "other@master:/")
    with pytest.raises(PermissionDenied, match="repo other"):
        remote.provenance("other@master")
    with pytest.raises(PermissionDenied, match="repo other"):
        remote.create_pipeline(spec_from_dict(copy_spec("steal", "other")))
    with pytest.raises(PermissionDenied, match="repo other"):
        remote.preview_datums(spec_from_dict(copy_spec("steal", "other")))
    remote.use_token(tokens["root"])
    assert remote.list_commit("data") == before
    assert "steal" not in [p.name for p in remote.list_pipeline()]


def test_a_missing_repo_is_not_found_rather_than_denied(remote: loxo.RemoteClient) -> None:
    tokens = activate_with_users(remote)
    tokens["nobody"] = remote.get_token("nobody")
    remote.use_token(tokens["nobody"])
    with pytest.raises(RepoNotFound):
        remote.put_file("ghost@master:/x", b"x")
    with pytest.raises(PermissionDenied):
        remote.put_file("other@master:/x", b"x")


@pytest.mark.timeout(120)
def test_a_pipeline_reads_its_inputs_and_writes_only_its_output(
    remote: loxo.RemoteClient, home: Path
) -> None:
    tokens = activate_with_users(remote, rita="repoReader")
    remote.use_token(tokens["rita"])
    remote.create_pipeline(spec_from_dict(copy_spec("copy")))  # reading data is enough
    assert remote.get_file("copy@master:/a.txt") == b"A"
    assert remote.get_repo_roles("copy") == [RoleBinding("pipeline:copy", Role.WRITER),
                                              RoleBinding("user:rita", Role.OWNER)]
    assert RoleBinding("pipeline:copy", Role.READER) in remote.get_repo_roles("data")
    spec_repo = remote.http.call("GET", "/repos/copy.spec", dict[str, object])  # goes with copy
    assert spec_repo["name"] == "copy.spec"
    db = Database(sqlite_url(home / DB_FILE))
    try:
        remote.use_token(AuthStore(db).pipeline_token("copy"))  # what a remote worker gets
        assert remote.whoami().subject == "pipeline:copy"
        assert remote.get_file("data@master:/a.txt") == b"A"
        remote.put_file("copy@master:/extra", b"e")
        with pytest.raises(PermissionDenied, match=r"pipeline:copy may not .* repoWriter on repo data"):
            remote.put_file("data@master:/b.txt", b"B")
        with pytest.raises(PermissionDenied, match="repo other"):
            remote.get_file("other@master:/s.txt")
        remote.use_token(tokens["rita"])
        remote.delete_pipeline("copy")
        remote.use_token(tokens["root"])
        assert "pipeline:copy" not in [b.subject for b in remote.get_repo_roles("data")]
        assert AuthStore(db).revoke("pipeline:copy") == 0  # its tokens went with it
    finally:
        db.close()


@pytest.mark.timeout(120)
def test_updating_a_pipeline_as_a_writer_grants_nothing(remote: loxo.RemoteClient) -> None:
    tokens = activate_with_users(remote, wes="repoReader")
    remote.create_pipeline(spec_from_dict(copy_spec("copy")))  # as root
    remote.set_repo_role("copy", "wes", "repoWriter")
    remote.use_token(tokens["wes"])
    remote.update_pipeline(spec_from_dict(copy_spec("copy")))
    assert RoleBinding("user:wes", Role.WRITER) in remote.get_repo_roles("copy")
    with pytest.raises(PermissionDenied, match="needs repoOwner"):
        remote.delete_pipeline("copy")


def test_ticking_every_cron_at_a_chosen_time_needs_an_admin(remote: loxo.RemoteClient) -> None:
    tokens = activate_with_users(remote, rita="repoReader")
    remote.use_token(tokens["rita"])
    remote.run_pending()  # waiting is anyone's
    with pytest.raises(PermissionDenied, match="needs clusterAdmin"):
        remote.run_pending(now=datetime(2030, 1, 1, tzinfo=UTC))


def test_revoked_tokens_stop_working_and_deactivation_opens_everything(remote: loxo.RemoteClient) -> None:
    tokens = activate_with_users(remote, rita="repoReader")
    assert remote.revoke_tokens("rita") == 1
    remote.use_token(tokens["rita"])
    with pytest.raises(Unauthenticated, match="not valid"):
        remote.list_repo()
    remote.use_token(tokens["root"])
    remote.deactivate_auth()
    remote.use_token(None)
    remote.put_file("other@master:/open", b"o")
    assert remote.whoami().active is False
    root = remote.activate_auth()  # a fresh start: no roles survive
    assert remote.get_repo_roles("data") == []
    assert remote.whoami().subject == "user:root" and root != tokens["root"]
