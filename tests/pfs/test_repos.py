"""Repos through ``loxo.Client``: create, list, inspect, update, delete."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import loxo
from loxo.errors import AlreadyExists, CommitNotFound, InvalidName, RepoNotFound


def test_create_and_inspect(client: loxo.Client) -> None:
    before = datetime.now(UTC)
    info = client.create_repo("images", "raw camera images")
    assert info.name == "images"
    assert info.description == "raw camera images"
    assert info.size_bytes == 0
    assert info.branches == ()  # no branch until the first commit
    assert before - timedelta(seconds=5) <= info.created <= datetime.now(UTC) + timedelta(seconds=5)
    assert client.inspect_repo("images") == info


def test_duplicate_name_is_refused(client: loxo.Client) -> None:
    client.create_repo("images")
    with pytest.raises(AlreadyExists):
        client.create_repo("images")
    assert [r.name for r in client.list_repo()] == ["images"]


@pytest.mark.parametrize("name", ["", "has space", "a/b", "x" * 64, "dot.ted"])
def test_invalid_names_are_refused(client: loxo.Client, name: str) -> None:
    with pytest.raises(InvalidName):
        client.create_repo(name)
    assert client.list_repo() == []


def test_names_are_case_sensitive(client: loxo.Client) -> None:
    client.create_repo("Data")
    client.create_repo("data")
    assert {r.name for r in client.list_repo()} == {"Data", "data"}


def test_list_repo_newest_first(client: loxo.Client) -> None:
    for name in ["first", "second", "third"]:
        client.create_repo(name)
    assert [r.name for r in client.list_repo()] == ["third", "second", "first"]


def test_unknown_repo(client: loxo.Client) -> None:
    with pytest.raises(RepoNotFound):
        client.inspect_repo("ghost")
    with pytest.raises(RepoNotFound):
        client.update_repo("ghost", "x")
    with pytest.raises(RepoNotFound):
        client.delete_repo("ghost")
    with pytest.raises(RepoNotFound):
        client.put_file("ghost@master:/a", b"x")
    with pytest.raises(RepoNotFound):
        client.list_branch("ghost")
    with pytest.raises(RepoNotFound):
        client.list_commit("ghost")
    with pytest.raises(RepoNotFound):
        client.get_file("ghost@master:/a")


def test_update_description(client: loxo.Client) -> None:
    client.create_repo("images", "old")
    assert client.update_repo("images", "new").description == "new"
    assert client.inspect_repo("images").description == "new"


def test_size_and_branches_follow_master(client: loxo.Client, repo: str) -> None:
    client.put_file(f"{repo}@master:/a", b"12345")
    client.put_file(f"{repo}@master:/b", b"678")
    info = client.inspect_repo(repo)
    assert info.size_bytes == 8
    assert info.branches == ("master",)
    client.put_file(f"{repo}@master:/a", b"1")  # overwrite shrinks it
    assert client.inspect_repo(repo).size_bytes == 4
    client.create_branch(f"{repo}@dev", head=f"{repo}@master")
    assert client.inspect_repo(repo).branches == ("dev", "master")


def test_delete_removes_commits_and_branches(client: loxo.Client, repo: str) -> None:
    info = client.put_file(f"{repo}@master:/a", b"x")
    client.create_repo("other")
    client.put_file("other@master:/kept", b"kept")
    client.delete_repo(repo)
    with pytest.raises(RepoNotFound):
        client.inspect_repo(repo)
    assert [r.name for r in client.list_repo()] == ["other"]
    assert client.get_file("other@master:/kept") == b"kept"

    client.create_repo(repo)  # a new repo of the same name starts empty
    assert client.list_commit(repo) == []
    assert client.list_branch(repo) == []
    with pytest.raises((CommitNotFound, loxo.LoxoError)):
        client.inspect_commit(f"{repo}@{info.id}")
    assert [p for p in client.fsck() if p.severity == "error"] == []


def test_repos_persist_across_clients(home: Path) -> None:
    with loxo.Client(home) as c:
        c.create_repo("kept", "desc")
        c.put_file("kept@master:/f", b"data")
    with loxo.Client(home) as c:
        assert c.inspect_repo("kept").description == "desc"
        assert c.get_file("kept@master:/f") == b"data"


def test_default_home_is_dot_loxo_in_the_working_directory(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with loxo.Client() as c:
        c.create_repo("here")
    assert (tmp_path / ".loxo").is_dir()
    with loxo.Client(tmp_path / ".loxo") as c:
        assert [r.name for r in c.list_repo()] == ["here"]
