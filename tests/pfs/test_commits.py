"""Commits through ``loxo.Client``: the parent chain, open commits, ancestry, delete, squash,
the ``commit()`` context manager and commit sets (global ids)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

import loxo
from loxo.errors import (
    BranchNotFound,
    CommitFinished,
    CommitNotFound,
    CommitOpen,
    FileNotFound,
    InUse,
    InvalidArgument,
)


def _paths(client: loxo.Client, ref: str) -> list[str]:
    return [f.path for f in client.walk_file(ref) if f.kind is loxo.FileKind.FILE]


@pytest.fixture
def history(client: loxo.Client, repo: str) -> list[loxo.CommitInfo]:
    """Four commits on master, each adding ``/f<i>`` (oldest first)."""
    return [client.put_file(f"{repo}@master:/f{i}", f"v{i}".encode()) for i in range(1, 5)]


# -- the chain of commits ---------------------------------------------------------------
def test_every_put_is_its_own_finished_commit(client: loxo.Client, repo: str,
                                              history: list[loxo.CommitInfo]) -> None:
    ids = [c.id for c in history]
    assert len(set(ids)) == 4
    assert [c.parent for c in history] == [None, *ids[:-1]]
    assert all(not c.is_open and c.finished is not None for c in history)
    assert all(c.branch == "master" and c.origin is loxo.Origin.USER for c in history)
    assert [c.id for c in client.list_commit(f"{repo}@master")] == ids[::-1]
    assert [c.id for c in client.list_commit(repo)] == ids[::-1]
    assert client.inspect_branch(f"{repo}@master").head == ids[-1]
    for i, c in enumerate(history, start=1):  # each commit is a snapshot of the whole tree
        assert _paths(client, f"{repo}@{c.id}") == [f"/f{j}" for j in range(1, i + 1)]
        assert c.size_bytes == 2 * i


def test_commit_ids_are_32_hex(history: list[loxo.CommitInfo]) -> None:
    for c in history:
        assert len(c.id) == 32
        assert all(ch in "0123456789abcdef" for ch in c.id)


def test_children_are_recorded(client: loxo.Client, repo: str, history: list[loxo.CommitInfo]) -> None:
    assert client.inspect_commit(f"{repo}@{history[0].id}").children == (history[1].id,)
    assert client.inspect_commit(f"{repo}@master").children == ()


def test_list_commit_limit(client: loxo.Client, repo: str, history: list[loxo.CommitInfo]) -> None:
    assert [c.id for c in client.list_commit(f"{repo}@master", limit=2)] == [
        history[3].id, history[2].id,
    ]
    assert len(client.list_commit(repo, limit=3)) == 3
    with pytest.raises(InvalidArgument):
        client.list_commit()


def test_list_commit_of_a_branch_follows_its_own_history(client: loxo.Client, repo: str,
                                                         history: list[loxo.CommitInfo]) -> None:
    client.create_branch(f"{repo}@dev", head=f"{repo}@{history[1].id}")
    dev = client.put_file(f"{repo}@dev:/d", b"d")
    assert [c.id for c in client.list_commit(f"{repo}@dev")] == [dev.id, history[1].id, history[0].id]
    assert len(client.list_commit(repo)) == 5
    with pytest.raises((BranchNotFound, CommitNotFound)):
        client.list_commit(f"{repo}@ghost")


# -- ancestry ---------------------------------------------------------------------------
ANCESTRY = [("", 3), ("^", 2), ("^^", 1), ("^2", 1), ("^3", 0), ("~2", 1), ("~1^1", 1),
            (".1", 0), (".2", 1), (".4", 3)]


def test_ancestry(client: loxo.Client, repo: str, history: list[loxo.CommitInfo]) -> None:
    for suffix, index in ANCESTRY:
        assert client.inspect_commit(f"{repo}@master{suffix}").id == history[index].id, suffix


def test_ancestry_from_a_commit_id(client: loxo.Client, repo: str, history: list[loxo.CommitInfo]) -> None:
    assert client.inspect_commit(f"{repo}@{history[2].id}^").id == history[1].id
    assert client.inspect_commit(f"{repo}@{history[2].id}.1").id == history[0].id
    assert client.inspect_commit(f"{repo}@master={history[2].id}").id == history[2].id
    assert client.get_file(f"{repo}@master^3:/f1") == b"v1"
    with pytest.raises(FileNotFound):
        client.get_file(f"{repo}@master^3:/f2")


def test_ancestry_past_the_history(client: loxo.Client, repo: str,
                                   history: list[loxo.CommitInfo]) -> None:
    for suffix in ["^4", "^10", "~4", ".5", ".100"]:
        with pytest.raises(CommitNotFound):
            client.inspect_commit(f"{repo}@master{suffix}")


def test_unknown_commit_id(client: loxo.Client, repo: str, history: list[loxo.CommitInfo]) -> None:
    with pytest.raises(CommitNotFound):
        client.inspect_commit(f"{repo}@{'0' * 32}")


def test_writes_need_a_branch_or_an_open_commit(client: loxo.Client, repo: str,
                                                history: list[loxo.CommitInfo]) -> None:
    with pytest.raises(InvalidArgument):
        client.put_file(f"{repo}@master^:/x", b"x")
    with pytest.raises(InvalidArgument):
        client.put_file(f"{repo}@master.1:/x", b"x")
    with pytest.raises(CommitFinished):
        client.put_file(f"{repo}@{history[3].id}:/x", b"x")
    with pytest.raises(CommitFinished):
        client.delete_file(f"{repo}@{history[3].id}:/f1")
    with pytest.raises(CommitFinished):
        client.copy_file(f"{repo}@master:/f1", f"{repo}@{history[3].id}:/x")
    assert len(client.list_commit(repo)) == 4


# -- open commits -----------------------------------------------------------------------
def test_open_commit_is_invisible_to_branch_readers_until_finished(
    client: loxo.Client, repo: str, history: list[loxo.CommitInfo]
) -> None:
    pending = client.start_commit(f"{repo}@master", description="batch")
    assert pending.is_open
    assert pending.parent == history[-1].id
    assert pending.description == "batch"
    client.put_file(f"{repo}@master:/new", b"new")  # lands in the open commit
    client.put_file(f"{repo}@{pending.id}:/other", b"other")  # so does a write by id
    client.delete_file(f"{repo}@master:/f1")

    assert client.inspect_commit(f"{repo}@master").id == history[-1].id
    assert _paths(client, f"{repo}@master") == ["/f1", "/f2", "/f3", "/f4"]
    with pytest.raises(FileNotFound):
        client.get_file(f"{repo}@master:/new")
    assert client.get_file(f"{repo}@{pending.id}:/new") == b"new"
    assert _paths(client, f"{repo}@{pending.id}") == ["/f2", "/f3", "/f4", "/new", "/other"]
    assert client.inspect_commit(f"{repo}@{pending.id}").is_open
    assert client.list_commit(f"{repo}@master")[0].id == pending.id
    assert len(client.list_commit(repo)) == 5  # three writes, one commit

    done = client.finish_commit(f"{repo}@master")
    assert done.id == pending.id
    assert not done.is_open
    assert done.description == "batch"
    assert client.inspect_commit(f"{repo}@master").id == pending.id
    assert _paths(client, f"{repo}@master") == ["/f2", "/f3", "/f4", "/new", "/other"]
    assert done.size_bytes == 2 * 3 + len(b"new") + len(b"other")


def test_finish_by_id_with_a_description(client: loxo.Client, repo: str) -> None:
    pending = client.start_commit(f"{repo}@master", description="first")
    client.put_file(f"{repo}@master:/a", b"a")
    done = client.finish_commit(f"{repo}@{pending.id}", description="changed")
    assert done.description == "changed"
    assert client.inspect_commit(f"{repo}@master").description == "changed"


def test_second_start_on_a_branch_is_refused(client: loxo.Client, repo: str) -> None:
    pending = client.start_commit(f"{repo}@master")
    with pytest.raises(CommitOpen):
        client.start_commit(f"{repo}@master")
    assert client.inspect_branch(f"{repo}@master").open_commit == pending.id
    other = client.start_commit(f"{repo}@dev")  # other branches are independent
    assert other.id != pending.id


def test_finish_without_an_open_commit(client: loxo.Client, repo: str,
                                       history: list[loxo.CommitInfo]) -> None:
    with pytest.raises(CommitFinished):
        client.finish_commit(f"{repo}@master")
    with pytest.raises(CommitFinished):
        client.finish_commit(f"{repo}@{history[0].id}")


def test_empty_commit_keeps_the_parent_tree(client: loxo.Client, repo: str,
                                            history: list[loxo.CommitInfo]) -> None:
    client.start_commit(f"{repo}@master")
    done = client.finish_commit(f"{repo}@master")
    assert done.parent == history[-1].id
    assert done.size_bytes == history[-1].size_bytes
    assert client.inspect_file(f"{repo}@master:/").hash == client.inspect_file(f"{repo}@master^:/").hash


def test_start_commit_with_an_explicit_parent(client: loxo.Client, repo: str,
                                              history: list[loxo.CommitInfo]) -> None:
    pending = client.start_commit(f"{repo}@master", parent=f"{repo}@{history[0].id}")
    assert pending.parent == history[0].id
    client.put_file(f"{repo}@master:/x", b"x")
    client.finish_commit(f"{repo}@master")
    assert _paths(client, f"{repo}@master") == ["/f1", "/x"]


def test_start_commit_on_a_new_branch(client: loxo.Client, repo: str) -> None:
    pending = client.start_commit(f"{repo}@feature")
    assert pending.parent is None
    branch = client.inspect_branch(f"{repo}@feature")
    assert (branch.head, branch.open_commit) == (None, pending.id)
    client.put_file(f"{repo}@feature:/a", b"a")
    client.finish_commit(f"{repo}@feature")
    assert client.get_file(f"{repo}@feature:/a") == b"a"


def test_wait_commit(client: loxo.Client, repo: str, home: Path) -> None:
    done = client.put_file(f"{repo}@master:/a", b"a")
    assert client.wait_commit(f"{repo}@{done.id}", timeout=5).id == done.id
    assert client.wait_commit(f"{repo}@master", timeout=5).id == done.id
    pending = client.start_commit(f"{repo}@master")
    with pytest.raises(CommitOpen):
        client.wait_commit(f"{repo}@{pending.id}", timeout=0.1)

    def finish_later() -> None:
        time.sleep(0.2)
        with loxo.Client(home) as other:
            other.finish_commit(f"{repo}@master")

    t = threading.Thread(target=finish_later)
    t.start()
    try:
        waited = client.wait_commit(f"{repo}@{pending.id}", timeout=10)
    finally:
        t.join()
    assert waited.id == pending.id
    assert not waited.is_open


# -- delete -----------------------------------------------------------------------------
def test_delete_head_moves_the_branch_back(client: loxo.Client, repo: str,
                                           history: list[loxo.CommitInfo]) -> None:
    client.delete_commit(f"{repo}@master")
    assert client.inspect_branch(f"{repo}@master").head == history[2].id
    assert _paths(client, f"{repo}@master") == ["/f1", "/f2", "/f3"]
    with pytest.raises(CommitNotFound):
        client.inspect_commit(f"{repo}@{history[3].id}")
    assert client.inspect_commit(f"{repo}@master").children == ()


def test_delete_head_by_id(client: loxo.Client, repo: str, history: list[loxo.CommitInfo]) -> None:
    client.delete_commit(f"{repo}@{history[3].id}")
    assert client.inspect_branch(f"{repo}@master").head == history[2].id
    client.delete_commit(loxo.Commit(repo, history[2].id))
    assert client.inspect_branch(f"{repo}@master").head == history[1].id


def test_delete_every_commit_empties_the_branch(client: loxo.Client, repo: str,
                                                history: list[loxo.CommitInfo]) -> None:
    for _ in history:
        client.delete_commit(f"{repo}@master")
    assert client.inspect_branch(f"{repo}@master").head is None
    assert client.list_commit(repo) == []
    with pytest.raises(CommitNotFound):
        client.inspect_commit(f"{repo}@master")
    again = client.put_file(f"{repo}@master:/z", b"z")
    assert again.parent is None


def test_delete_a_commit_with_children_is_refused(client: loxo.Client, repo: str,
                                                  history: list[loxo.CommitInfo]) -> None:
    with pytest.raises(InUse):
        client.delete_commit(f"{repo}@master^")
    with pytest.raises(InUse):
        client.delete_commit(f"{repo}@{history[1].id}")
    assert [c.id for c in client.list_commit(f"{repo}@master")] == [c.id for c in history[::-1]]


def test_delete_an_open_commit(client: loxo.Client, repo: str, history: list[loxo.CommitInfo]) -> None:
    pending = client.start_commit(f"{repo}@master")
    client.put_file(f"{repo}@master:/tmp", b"x")
    client.delete_commit(f"{repo}@{pending.id}")
    branch = client.inspect_branch(f"{repo}@master")
    assert (branch.head, branch.open_commit) == (history[-1].id, None)
    with pytest.raises(CommitNotFound):
        client.inspect_commit(f"{repo}@{pending.id}")
    client.start_commit(f"{repo}@master")  # the branch accepts a new one
    client.delete_commit(f"{repo}@master")  # by branch name: the open commit goes
    assert client.inspect_branch(f"{repo}@master").open_commit is None
    assert client.inspect_branch(f"{repo}@master").head == history[-1].id


def test_delete_a_commit_that_heads_no_branch_is_refused(client: loxo.Client, repo: str,
                                                         history: list[loxo.CommitInfo]) -> None:
    client.create_branch(f"{repo}@dev", head=f"{repo}@master")
    client.delete_branch(f"{repo}@dev")
    client.delete_commit(f"{repo}@master")  # moves master back; the old head is gone
    client.create_branch(f"{repo}@dev", head=f"{repo}@{history[1].id}")
    side = client.put_file(f"{repo}@dev:/side", b"s")
    client.delete_branch(f"{repo}@dev")
    with pytest.raises(InvalidArgument):
        client.delete_commit(f"{repo}@{side.id}")


# -- squash -----------------------------------------------------------------------------
def test_squash_a_middle_commit_keeps_its_children_intact(client: loxo.Client, repo: str,
                                                          history: list[loxo.CommitInfo]) -> None:
    before = {c.id: _paths(client, f"{repo}@{c.id}") for c in history[2:]}
    client.squash_commit(f"{repo}@{history[1].id}")
    with pytest.raises(CommitNotFound):
        client.inspect_commit(f"{repo}@{history[1].id}")
    assert client.inspect_commit(f"{repo}@{history[2].id}").parent == history[0].id
    assert client.inspect_commit(f"{repo}@{history[0].id}").children == (history[2].id,)
    for cid, paths in before.items():
        assert _paths(client, f"{repo}@{cid}") == paths
    assert client.get_file(f"{repo}@master:/f2") == b"v2"  # its change lives on in the children
    assert [c.id for c in client.list_commit(f"{repo}@master")] == [
        history[3].id, history[2].id, history[0].id,
    ]
    assert client.inspect_commit(f"{repo}@master.1").id == history[0].id
    assert [p for p in client.fsck() if p.severity == "error"] == []


def test_squash_the_first_commit(client: loxo.Client, repo: str, history: list[loxo.CommitInfo]) -> None:
    client.squash_commit(f"{repo}@master.1")
    assert client.inspect_commit(f"{repo}@master.1").id == history[1].id
    assert client.inspect_commit(f"{repo}@master.1").parent is None
    assert _paths(client, f"{repo}@master.1") == ["/f1", "/f2"]


def test_squash_refusals(client: loxo.Client, repo: str, history: list[loxo.CommitInfo]) -> None:
    with pytest.raises(InvalidArgument):
        client.squash_commit(f"{repo}@master")  # a head: use delete
    client.start_commit(f"{repo}@dev")
    pending = client.inspect_branch(f"{repo}@dev").open_commit
    with pytest.raises(CommitOpen):
        client.squash_commit(f"{repo}@{pending}")
    assert len(client.list_commit(f"{repo}@master")) == 4


# -- Client.commit() --------------------------------------------------------------------
def test_commit_context_finishes_on_success(client: loxo.Client, repo: str,
                                            history: list[loxo.CommitInfo]) -> None:
    with client.commit(f"{repo}@master", description="ctx") as c:
        c.put_file("/a", b"a")
        c.put_file("dir/b", b"b")
        c.put_file("/a", b"-more", append=True)
        c.copy_file(f"{repo}@master:/f1", "/copy")
        c.delete_file("/f2")
        assert client.inspect_commit(f"{repo}@master").id == history[-1].id  # not yet visible
        assert client.inspect_commit(f"{repo}@{c.id}").is_open
        cid = c.id
    head = client.inspect_commit(f"{repo}@master")
    assert (head.id, head.is_open, head.description, head.parent) == (cid, False, "ctx", history[-1].id)
    assert client.get_file(f"{repo}@master:/a") == b"a-more"
    assert client.get_file(f"{repo}@master:/copy") == b"v1"
    assert _paths(client, f"{repo}@master") == ["/a", "/copy", "/dir/b", "/f1", "/f3", "/f4"]
    assert len(client.list_commit(repo)) == 5


def test_commit_context_deletes_the_commit_on_error(client: loxo.Client, repo: str,
                                                    history: list[loxo.CommitInfo]) -> None:
    with pytest.raises(RuntimeError, match="boom"), client.commit(f"{repo}@master") as c:
        c.put_file("/half", b"written")
        cid = c.id
        raise RuntimeError("boom")
    branch = client.inspect_branch(f"{repo}@master")
    assert (branch.head, branch.open_commit) == (history[-1].id, None)
    with pytest.raises(CommitNotFound):
        client.inspect_commit(f"{repo}@{cid}")
    with pytest.raises(FileNotFound):
        client.get_file(f"{repo}@master:/half")
    with client.commit(f"{repo}@master") as c:  # the branch is usable again
        c.put_file("/ok", b"ok")
    assert client.get_file(f"{repo}@master:/ok") == b"ok"


def test_commit_context_put_path(client: loxo.Client, repo: str, tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "one.txt").write_bytes(b"1")
    (src / "sub" / "two.txt").write_bytes(b"2")
    with client.commit(f"{repo}@master") as c:
        c.put_path("/in", src, recursive=True)
        c.put_path("/single", src / "one.txt")
    assert _paths(client, f"{repo}@master") == ["/in/one.txt", "/in/sub/two.txt", "/single"]
    assert len(client.list_commit(repo)) == 1


# -- commit sets ------------------------------------------------------------------------
def test_inspect_commit_set(client: loxo.Client, repo: str, history: list[loxo.CommitInfo]) -> None:
    cs = client.inspect_commit_set(history[1].id)
    assert cs.id == history[1].id
    assert [(c.repo, c.id) for c in cs.commits] == [(repo, history[1].id)]
    assert cs.finished == 1
    assert cs.created == history[1].started
    with pytest.raises(CommitNotFound):
        client.inspect_commit_set("f" * 32)


def test_commit_set_of_an_open_commit(client: loxo.Client, repo: str) -> None:
    pending = client.start_commit(f"{repo}@master")
    cs = client.inspect_commit_set(pending.id)
    assert cs.finished == 0
    assert cs.commits[0].is_open
    client.finish_commit(f"{repo}@master")
    assert client.inspect_commit_set(pending.id).finished == 1


def test_list_commit_set_newest_first(client: loxo.Client, repo: str,
                                      history: list[loxo.CommitInfo]) -> None:
    client.create_repo("other")
    other = client.put_file("other@master:/x", b"x")
    sets = client.list_commit_set()
    assert [s.id for s in sets] == [other.id, *[c.id for c in history[::-1]]]
    assert [s.id for s in client.list_commit_set(limit=2)] == [other.id, history[3].id]
    assert [c.repo for c in sets[0].commits] == ["other"]


def test_delete_commit_by_global_id(client: loxo.Client, repo: str,
                                    history: list[loxo.CommitInfo]) -> None:
    client.delete_commit(history[3].id)
    assert client.inspect_branch(f"{repo}@master").head == history[2].id
    with pytest.raises(CommitNotFound):
        client.inspect_commit_set(history[3].id)


def test_squash_commit_by_global_id(client: loxo.Client, repo: str,
                                    history: list[loxo.CommitInfo]) -> None:
    client.squash_commit(history[1].id)
    assert client.inspect_commit(f"{repo}@{history[2].id}").parent == history[0].id
    assert client.get_file(f"{repo}@master:/f2") == b"v2"


# -- concurrency ------------------------------------------------------------------------
def test_concurrent_writers_each_make_a_commit(client: loxo.Client, repo: str, home: Path) -> None:
    client.put_file(f"{repo}@master:/seed", b"s")
    errors: list[BaseException] = []

    def write(t: int) -> None:
        try:
            with loxo.Client(home) as c:
                for i in range(8):
                    c.put_file(f"{repo}@master:/t{t}/f{i}", f"{t}-{i}".encode())
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert len(_paths(client, f"{repo}@master")) == 33
    commits = client.list_commit(f"{repo}@master")
    assert len(commits) == 33  # no write was lost: each one is in the chain
    assert client.get_file(f"{repo}@master:/t2/f7") == b"2-7"
    assert [p for p in client.fsck() if p.severity == "error"] == []
