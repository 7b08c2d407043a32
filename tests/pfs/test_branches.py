"""Branches through ``loxo.Client``: create (empty or at a commit), list, inspect, delete."""

from __future__ import annotations

import pytest

import loxo
from loxo.errors import (
    AlreadyExists,
    BranchNotFound,
    CommitNotFound,
    CommitOpen,
    InvalidArgument,
    InvalidName,
    RepoNotFound,
)


def test_first_put_creates_master(client: loxo.Client, repo: str) -> None:
    info = client.put_file(f"{repo}@master:/a", b"x")
    (branch,) = client.list_branch(repo)
    assert (branch.repo, branch.name, branch.head, branch.open_commit) == (repo, "master", info.id, None)


def test_create_empty_branch(client: loxo.Client, repo: str) -> None:
    info = client.create_branch(f"{repo}@dev")
    assert (info.repo, info.name, info.head, info.open_commit) == (repo, "dev", None, None)
    assert client.inspect_branch(f"{repo}@dev") == info
    with pytest.raises(CommitNotFound):
        client.inspect_commit(f"{repo}@dev")
    first = client.put_file(f"{repo}@dev:/a", b"x")
    assert first.parent is None
    assert client.inspect_branch(f"{repo}@dev").head == first.id


def test_create_branch_at_a_commit(client: loxo.Client, repo: str) -> None:
    one = client.put_file(f"{repo}@master:/a", b"1")
    client.put_file(f"{repo}@master:/b", b"2")
    info = client.create_branch(f"{repo}@dev", head=f"{repo}@master^")
    assert info.head == one.id
    assert [f.path for f in client.list_file(f"{repo}@dev")] == ["/a"]
    by_id = client.create_branch(f"{repo}@fix", head=f"{repo}@{one.id}")
    assert by_id.head == one.id
    # writes to the new branch build on its head and leave master alone
    child = client.put_file(f"{repo}@dev:/c", b"3")
    assert child.parent == one.id
    assert [f.path for f in client.list_file(f"{repo}@dev")] == ["/a", "/c"]
    assert [f.path for f in client.list_file(f"{repo}@master")] == ["/a", "/b"]


def test_create_existing_branch_with_head_moves_it(client: loxo.Client, repo: str) -> None:
    one = client.put_file(f"{repo}@master:/a", b"1")
    two = client.put_file(f"{repo}@master:/b", b"2")
    client.create_branch(f"{repo}@dev", head=f"{repo}@{two.id}")
    assert client.create_branch(f"{repo}@dev", head=f"{repo}@{one.id}").head == one.id
    with pytest.raises(AlreadyExists):
        client.create_branch(f"{repo}@dev")


def test_create_branch_refusals(client: loxo.Client, repo: str) -> None:
    client.put_file(f"{repo}@master:/a", b"1")
    client.create_repo("other")
    client.put_file("other@master:/a", b"1")
    with pytest.raises(InvalidArgument):
        client.create_branch(f"{repo}@dev", head="other@master")
    with pytest.raises(InvalidName):
        client.create_branch(f"{repo}@bad.name")
    with pytest.raises(RepoNotFound):
        client.create_branch("ghost@dev")
    with pytest.raises(CommitNotFound):
        client.create_branch(f"{repo}@dev", head=f"{repo}@master^5")
    with pytest.raises(BranchNotFound):
        client.create_branch(f"{repo}@dev", head=f"{repo}@nosuchbranch")
    assert [b.name for b in client.list_branch(repo)] == ["master"]


def test_branch_cannot_point_at_an_open_commit(client: loxo.Client, repo: str) -> None:
    client.put_file(f"{repo}@master:/a", b"1")
    pending = client.start_commit(f"{repo}@master")
    with pytest.raises(CommitOpen):
        client.create_branch(f"{repo}@dev", head=f"{repo}@{pending.id}")


def test_list_branch_is_sorted_by_name(client: loxo.Client, repo: str) -> None:
    client.put_file(f"{repo}@master:/a", b"1")
    for name in ["zeta", "alpha", "mid"]:
        client.create_branch(f"{repo}@{name}", head=f"{repo}@master")
    assert [b.name for b in client.list_branch(repo)] == ["alpha", "master", "mid", "zeta"]


def test_inspect_branch_shows_the_open_commit(client: loxo.Client, repo: str) -> None:
    head = client.put_file(f"{repo}@master:/a", b"1")
    pending = client.start_commit(f"{repo}@master")
    info = client.inspect_branch(f"{repo}@master")
    assert (info.head, info.open_commit) == (head.id, pending.id)


def test_unknown_branch(client: loxo.Client, repo: str) -> None:
    with pytest.raises(BranchNotFound):
        client.inspect_branch(f"{repo}@ghost")
    with pytest.raises(BranchNotFound):
        client.delete_branch(f"{repo}@ghost")
    with pytest.raises(BranchNotFound):
        client.inspect_commit(f"{repo}@ghost")


def test_delete_branch_keeps_its_commits(client: loxo.Client, repo: str) -> None:
    client.put_file(f"{repo}@master:/a", b"1")
    client.create_branch(f"{repo}@dev", head=f"{repo}@master")
    one = client.put_file(f"{repo}@dev:/b", b"2")
    two = client.put_file(f"{repo}@dev:/c", b"3")
    client.delete_branch(f"{repo}@dev")
    assert [b.name for b in client.list_branch(repo)] == ["master"]
    with pytest.raises(BranchNotFound):
        client.inspect_branch(f"{repo}@dev")
    assert client.inspect_commit(f"{repo}@{two.id}").parent == one.id
    assert client.get_file(f"{repo}@{two.id}:/c") == b"3"
    assert client.get_file(f"{repo}@{two.id}^:/b") == b"2"
    assert {c.id for c in client.list_commit(repo)} >= {one.id, two.id}
    assert [p for p in client.fsck() if p.severity == "error"] == []
    # the name can be used again, from scratch
    assert client.create_branch(f"{repo}@dev").head is None


def test_delete_branch_with_an_open_commit_is_refused(client: loxo.Client, repo: str) -> None:
    client.put_file(f"{repo}@master:/a", b"1")
    client.start_commit(f"{repo}@master")
    with pytest.raises(CommitOpen):
        client.delete_branch(f"{repo}@master")
    client.finish_commit(f"{repo}@master")
    client.delete_branch(f"{repo}@master")
    assert client.list_branch(repo) == []


def test_branches_are_per_repo(client: loxo.Client, repo: str) -> None:
    client.create_repo("other")
    client.put_file(f"{repo}@master:/a", b"mine")
    client.put_file("other@master:/a", b"theirs")
    assert client.get_file(f"{repo}@master:/a") == b"mine"
    assert client.get_file("other@master:/a") == b"theirs"
    client.delete_branch("other@master")
    assert client.get_file(f"{repo}@master:/a") == b"mine"
