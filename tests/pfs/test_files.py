"""Files through ``loxo.Client``: put (bytes, path, stream, URL, tar), read, list, walk,
diff, copy, delete, and the refusals that must leave the store untouched."""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import os
import random
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import loxo
from loxo.errors import (
    CommitNotFound,
    FileNotFound,
    InvalidArgument,
    InvalidPath,
    PathConflict,
    SourceError,
)
from loxo.model import FileKind
from loxo.storage import content
from loxo.storage.objects import LocalObjectStore

MiB = 1 << 20


def _files(client: loxo.Client, ref: str) -> dict[str, bytes]:
    """Every file under ``ref`` with its content."""
    return {
        f.path: client.get_file(f"{ref.split(':')[0]}:{f.path}")
        for f in client.walk_file(ref)
        if f.kind is FileKind.FILE
    }


class _Snapshot:
    """What a refused write must not change: commits, branch heads and stored objects."""

    def __init__(self, client: loxo.Client, repo: str) -> None:
        self.client = client
        self.repo = repo
        self.state = self._take()

    def _take(self) -> tuple[object, ...]:
        c = self.client
        return (
            [x.id for x in c.list_commit(self.repo)],
            [(b.name, b.head, b.open_commit) for b in c.list_branch(self.repo)],
            sorted(LocalObjectStore(c.home / "objects").list()),  # embedded or behind a server
        )

    def unchanged(self) -> bool:
        return self._take() == self.state


# -- put --------------------------------------------------------------------------------
def test_put_bytes_and_read_back(client: loxo.Client, repo: str) -> None:
    info = client.put_file(f"{repo}@master:/hello.txt", b"hello world")
    assert client.get_file(f"{repo}@master:/hello.txt") == b"hello world"
    assert b"".join(client.read_file(f"{repo}@master:/hello.txt")) == b"hello world"
    f = client.inspect_file(f"{repo}@master:/hello.txt")
    assert (f.repo, f.commit, f.path, f.kind, f.size_bytes) == (
        repo, info.id, "/hello.txt", FileKind.FILE, 11,
    )
    assert f.hash == content.digest(b"hello world")


def test_put_empty_file(client: loxo.Client, repo: str) -> None:
    client.put_file(f"{repo}@master:/empty", b"")
    assert client.get_file(f"{repo}@master:/empty") == b""
    assert client.inspect_file(f"{repo}@master:/empty").size_bytes == 0


def test_put_local_path(client: loxo.Client, repo: str, tmp_path: Path) -> None:
    local = tmp_path / "local.bin"
    data = random.Random(1).randbytes(3 * MiB + 5)  # big enough to be chunked
    local.write_bytes(data)
    client.put_file(f"{repo}@master:/as-str", str(local))
    client.put_file(f"{repo}@master:/as-path", local)
    client.put_path(f"{repo}@master:/via-put-path", local)
    for name in ("as-str", "as-path", "via-put-path"):
        assert client.get_file(f"{repo}@master:/{name}") == data
    assert len(list(client.read_file(f"{repo}@master:/as-str"))) > 1  # streamed in chunks
    ids = {client.inspect_file(f"{repo}@master:/{n}").hash for n in ("as-str", "as-path", "via-put-path")}
    assert len(ids) == 1


def test_put_path_without_a_destination_keeps_the_name(client: loxo.Client, repo: str,
                                                       tmp_path: Path) -> None:
    local = tmp_path / "named.csv"
    local.write_bytes(b"a,b\n")
    client.put_path(f"{repo}@master", local)
    assert client.get_file(f"{repo}@master:/named.csv") == b"a,b\n"


def test_put_stream(client: loxo.Client, repo: str) -> None:
    small = b"streamed " * 100
    big = random.Random(2).randbytes(5 * MiB)
    client.put_file(f"{repo}@master:/small", io.BytesIO(small))
    client.put_file(f"{repo}@master:/big", io.BytesIO(big))
    assert client.get_file(f"{repo}@master:/small") == small
    assert client.get_file(f"{repo}@master:/big") == big
    client.put_file(f"{repo}@master:/big-bytes", big)
    assert (client.inspect_file(f"{repo}@master:/big").hash
            == client.inspect_file(f"{repo}@master:/big-bytes").hash)


def test_overwrite_is_the_default(client: loxo.Client, repo: str) -> None:
    client.put_file(f"{repo}@master:/a", b"first version, long")
    client.put_file(f"{repo}@master:/a", b"second")
    assert client.get_file(f"{repo}@master:/a") == b"second"
    assert client.get_file(f"{repo}@master^:/a") == b"first version, long"
    assert client.inspect_commit(f"{repo}@master").size_bytes == 6


def test_append(client: loxo.Client, repo: str) -> None:
    big = random.Random(3).randbytes(2 * MiB)
    client.put_file(f"{repo}@master:/log", b"line 1\n")
    client.put_file(f"{repo}@master:/log", b"line 2\n", append=True)
    client.put_file(f"{repo}@master:/log", big, append=True)
    client.put_file(f"{repo}@master:/log", io.BytesIO(b"tail"), append=True)
    assert client.get_file(f"{repo}@master:/log") == b"line 1\nline 2\n" + big + b"tail"
    info = client.inspect_file(f"{repo}@master:/log")
    assert info.size_bytes == 14 + len(big) + 4
    assert client.get_file(f"{repo}@master^^:/log") == b"line 1\nline 2\n"
    client.put_file(f"{repo}@master:/fresh", b"new", append=True)  # append creates
    assert client.get_file(f"{repo}@master:/fresh") == b"new"
    assert [p for p in client.fsck() if p.severity == "error"] == []


def test_put_many_files_in_one_commit(client: loxo.Client, repo: str, tmp_path: Path) -> None:
    local = tmp_path / "x.bin"
    local.write_bytes(b"from disk")
    sources = [loxo.Source(f"/many/f{i:03}", data=f"file {i}".encode()) for i in range(300)]
    sources += [loxo.Source("/disk", local=str(local)), loxo.Source("/stream", stream=io.BytesIO(b"s"))]
    progress: list[tuple[int, int]] = []
    info = client.put_files(f"{repo}@master", sources, description="bulk",
                            progress=lambda b, n: progress.append((b, n)))
    assert len(client.list_commit(repo)) == 1
    assert info.description == "bulk"
    files = _files(client, f"{repo}@master")
    assert len(files) == 302
    assert files["/many/f042"] == b"file 42"
    assert files["/disk"] == b"from disk"
    assert files["/stream"] == b"s"
    assert sum(n for _, n in progress) == 302
    assert info.size_bytes == sum(len(v) for v in files.values())


@pytest.mark.embedded_only
def test_many_small_files_make_few_objects(client: loxo.Client, repo: str) -> None:
    client.put_files(f"{repo}@master", [loxo.Source(f"/s/{i % 7}/{i}", data=b"%d" % i) for i in range(5000)])
    objects = list(client.pfs.store.objects.list())
    assert len(objects) <= 4, objects
    assert client.get_file(f"{repo}@master:/s/1/4999") == b"4999"


def test_put_many_with_interleaved_directories(client: loxo.Client, repo: str) -> None:
    """Sources need not be sorted: ``/a/x, /b/y, /a/z`` all land."""
    order = ["/a/x", "/b/y", "/a/z", "/c/d/e", "/b/w", "/a/sub/q", "/c/d/f"]
    client.put_files(f"{repo}@master", [loxo.Source(p, data=p.encode()) for p in order])
    assert _files(client, f"{repo}@master") == {p: p.encode() for p in order}
    assert [p for p in client.fsck() if p.severity == "error"] == []


@pytest.mark.embedded_only
def test_interleaved_puts_do_not_store_intermediate_directories(client: loxo.Client, repo: str) -> None:
    """A put of files spread over a few directories stores each directory once, whatever
    the order the files come in (not one directory version per file)."""
    n = 1500
    client.put_files(f"{repo}@master", [loxo.Source(f"/d{i % 5}/f{i}", data=b"x%d" % i) for i in range(n)])
    objects = client.pfs.store.objects
    stored = sum(objects.size(k) for k in objects.list())
    client.create_repo("sorted")
    before = stored
    client.put_files("sorted@master", [loxo.Source(f"/d{i // 300}/f{i}", data=b"y%d" % i) for i in range(n)])
    sorted_bytes = sum(objects.size(k) for k in objects.list()) - before
    assert stored < 3 * sorted_bytes


def test_same_path_twice_in_one_put_keeps_the_last(client: loxo.Client, repo: str) -> None:
    client.put_files(f"{repo}@master", [
        loxo.Source("/dup", data=b"first"),
        loxo.Source("/other", data=b"o"),
        loxo.Source("/dup", data=b"last"),
    ])
    assert client.get_file(f"{repo}@master:/dup") == b"last"
    client.put_files(f"{repo}@master", [
        loxo.Source("/log", data=b"1"), loxo.Source("/log", data=b"2"), loxo.Source("/log", data=b"3"),
    ], append=True)
    assert client.get_file(f"{repo}@master:/log") == b"123"


def test_nested_directories(client: loxo.Client, repo: str) -> None:
    client.put_file(f"{repo}@master:/a/b/c/d/e.txt", b"deep")
    client.put_file(f"{repo}@master:a//b/x.txt", b"x")  # normalised
    assert client.get_file(f"{repo}@master:/a/b/c/d/e.txt") == b"deep"
    kinds = {f.path: f.kind for f in client.walk_file(f"{repo}@master")}
    assert kinds == {
        "/": FileKind.DIR, "/a": FileKind.DIR, "/a/b": FileKind.DIR, "/a/b/c": FileKind.DIR,
        "/a/b/c/d": FileKind.DIR, "/a/b/c/d/e.txt": FileKind.FILE, "/a/b/x.txt": FileKind.FILE,
    }
    assert client.inspect_file(f"{repo}@master:/a/b").size_bytes == 5


def test_unicode_and_odd_names(client: loxo.Client, repo: str) -> None:
    names = ["/ü/日本.txt", "/with space", "/with:colon", "/.hidden", "/a..b", "/x=y@z"]
    for n in names:
        client.put_file(loxo.File(loxo.Commit(repo), n), n.encode())
    for n in names:
        assert client.get_file(loxo.File(loxo.Commit(repo), n)) == n.encode()
    assert client.get_file(f"{repo}@master:/with:colon") == b"/with:colon"


# -- reading ----------------------------------------------------------------------------
@pytest.fixture
def tree(client: loxo.Client, repo: str) -> str:
    client.put_files(f"{repo}@master", [
        loxo.Source("/top.txt", data=b"top"),
        loxo.Source("/dir/a.txt", data=b"aaaa"),
        loxo.Source("/dir/b.txt", data=b"bb"),
        loxo.Source("/dir/sub/c.txt", data=b"c"),
        loxo.Source("/other/d.txt", data=b"ddd"),
    ])
    return f"{repo}@master"


def test_list_file(client: loxo.Client, tree: str) -> None:
    root = client.list_file(tree)
    assert [(f.path, f.kind, f.size_bytes) for f in root] == [
        ("/dir", FileKind.DIR, 7), ("/other", FileKind.DIR, 3), ("/top.txt", FileKind.FILE, 3),
    ]
    assert [f.path for f in client.list_file(f"{tree}:/dir")] == ["/dir/a.txt", "/dir/b.txt", "/dir/sub"]
    assert [f.path for f in client.list_file(f"{tree}:/dir/a.txt")] == ["/dir/a.txt"]
    with pytest.raises(FileNotFound):
        client.list_file(f"{tree}:/nope")


def test_inspect_file(client: loxo.Client, tree: str) -> None:
    d = client.inspect_file(f"{tree}:/dir")
    assert (d.kind, d.size_bytes, d.path) == (FileKind.DIR, 7, "/dir")
    root = client.inspect_file(f"{tree}:/")
    assert (root.kind, root.size_bytes, root.path) == (FileKind.DIR, 13, "/")
    with pytest.raises(FileNotFound):
        client.inspect_file(f"{tree}:/dir/nope")
    with pytest.raises(FileNotFound):
        client.inspect_file(f"{tree}:/top.txt/below")


def test_walk_file(client: loxo.Client, tree: str) -> None:
    assert [f.path for f in client.walk_file(tree)] == [
        "/", "/dir", "/dir/a.txt", "/dir/b.txt", "/dir/sub", "/dir/sub/c.txt",
        "/other", "/other/d.txt", "/top.txt",
    ]
    assert [f.path for f in client.walk_file(f"{tree}:/dir/sub")] == ["/dir/sub", "/dir/sub/c.txt"]
    with pytest.raises(FileNotFound):
        list(client.walk_file(f"{tree}:/ghost"))


def test_reading_errors(client: loxo.Client, tree: str, repo: str) -> None:
    with pytest.raises(FileNotFound):
        client.get_file(f"{tree}:/missing")
    with pytest.raises(InvalidArgument):
        client.get_file(f"{tree}:/dir")  # a directory
    with pytest.raises(CommitNotFound):
        client.get_file(f"{repo}@master^:/top.txt")


def test_glob_file(client: loxo.Client, tree: str) -> None:
    assert [f.path for f in client.glob_file(f"{tree}:/*/*.txt")] == [
        "/dir/a.txt", "/dir/b.txt", "/other/d.txt",
    ]
    assert [f.path for f in client.glob_file(f"{tree}:/**.txt")] == [
        "/dir/a.txt", "/dir/b.txt", "/dir/sub/c.txt", "/other/d.txt", "/top.txt",
    ]


def test_get_files_round_trip_is_byte_identical(client: loxo.Client, repo: str, tmp_path: Path) -> None:
    src = tmp_path / "src"
    rng = random.Random(4)
    expected: dict[str, bytes] = {}
    for rel, size in [("a.bin", 0), ("b/c.bin", 10), ("b/d/e.bin", 3 * MiB + 1), ("f.txt", 5000),
                      ("b/d/g.bin", 300_000)]:
        data = rng.randbytes(size) if not rel.endswith(".txt") else b"text line\n" * (size // 10)
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(data)
        expected[rel] = data
    client.put_path(f"{repo}@master:/in", src, recursive=True)

    out = tmp_path / "out"
    assert client.get_files(f"{repo}@master:/in", out) == len(expected)
    got = {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert got == expected

    whole = tmp_path / "whole"
    progress: list[int] = []
    assert client.get_files(f"{repo}@master", whole, progress=lambda b, n: progress.append(b)) == 5
    assert (whole / "in" / "b" / "d" / "e.bin").read_bytes() == expected["b/d/e.bin"]
    assert sum(progress) == sum(len(v) for v in expected.values())

    one = tmp_path / "one"
    assert client.get_files(f"{repo}@master:/in/b/c.bin", one) == 1
    assert (one / "c.bin").read_bytes() == expected["b/c.bin"]
    assert not any(p.name.endswith(".loxo-part") for p in tmp_path.rglob("*"))


# -- diff -------------------------------------------------------------------------------
def test_diff_against_the_parent_by_default(client: loxo.Client, tree: str) -> None:
    client.put_files(tree, [loxo.Source("/dir/a.txt", data=b"changed"),
                            loxo.Source("/dir/sub/new.txt", data=b"new")])
    diff = client.diff_file(tree)
    assert [(n.path if n else None, o.path if o else None) for n, o in diff] == [
        ("/dir/a.txt", "/dir/a.txt"), ("/dir/sub/new.txt", None),
    ]
    new, old = diff[0]
    assert new is not None and old is not None
    assert (new.size_bytes, old.size_bytes) == (7, 4)
    assert new.hash != old.hash


def test_diff_reports_deletions_and_skips_unchanged_subtrees(client: loxo.Client, tree: str) -> None:
    client.delete_file(f"{tree}:/dir/sub")
    diff = client.diff_file(tree)
    assert [(n, o.path if o else None) for n, o in diff] == [(None, "/dir/sub/c.txt")]


def test_diff_between_two_commits_and_of_a_subtree(client: loxo.Client, tree: str, repo: str) -> None:
    first = client.inspect_commit(tree).id
    client.put_file(f"{tree}:/other/e.txt", b"e")
    client.put_file(f"{tree}:/top.txt", b"TOP")
    both = client.diff_file(tree, f"{repo}@{first}")
    assert [n.path for n, _ in both if n] == ["/other/e.txt", "/top.txt"]
    only_other = client.diff_file(f"{tree}:/other", f"{repo}@{first}:/other")
    assert [(n.path if n else None, o) for n, o in only_other] == [("/other/e.txt", None)]
    assert client.diff_file(f"{tree}:/dir", f"{repo}@{first}:/dir") == []


def test_diff_of_the_first_commit_lists_everything(client: loxo.Client, tree: str) -> None:
    assert len(client.diff_file(tree)) == 5
    assert all(old is None for _, old in client.diff_file(tree))


def test_diff_file_replaced_by_a_directory(client: loxo.Client, repo: str) -> None:
    client.put_file(f"{repo}@master:/x", b"file")
    client.delete_file(f"{repo}@master:/x")
    client.put_file(f"{repo}@master:/x/inner", b"dir now")
    diff = client.diff_file(f"{repo}@master", f"{repo}@master^^")
    assert sorted((n.path if n else "-", o.path if o else "-") for n, o in diff) == [
        ("-", "/x"), ("/x/inner", "-"),
    ]


def test_unchanged_subtrees_share_ids_between_commits(client: loxo.Client, tree: str) -> None:
    before = {p: client.inspect_file(f"{tree}:{p}").hash for p in ("/dir", "/dir/sub", "/other", "/")}
    client.put_file(f"{tree}:/other/new.txt", b"n")
    after = {p: client.inspect_file(f"{tree}:{p}").hash for p in ("/dir", "/dir/sub", "/other", "/")}
    assert after["/dir"] == before["/dir"]
    assert after["/dir/sub"] == before["/dir/sub"]
    assert after["/other"] != before["/other"]
    assert after["/"] != before["/"]
    client.delete_file(f"{tree}:/other/new.txt")  # back to the same content: the same id
    assert client.inspect_file(f"{tree}:/").hash == before["/"]


@pytest.mark.embedded_only
def test_re_putting_identical_files_keeps_ids_and_stores_no_data(client: loxo.Client, tree: str) -> None:
    """Uploading the same files again (the common re-sync) changes no directory id, so
    diff, glob hashes and datum skipping see no change, and no file data is stored."""
    before = client.inspect_file(f"{tree}:/dir").hash
    objects = client.pfs.store.objects
    size_before = sum(objects.size(k) for k in objects.list())
    big = random.Random(7).randbytes(2 * MiB)
    client.put_file(f"{tree}:/dir/big.bin", big)
    with_big = client.inspect_file(f"{tree}:/dir").hash
    size_with_big = sum(objects.size(k) for k in objects.list())
    client.put_files(tree, [
        loxo.Source("/dir/a.txt", data=b"aaaa"),
        loxo.Source("/dir/b.txt", data=b"bb"),
        loxo.Source("/dir/big.bin", data=big),
    ])
    assert client.inspect_file(f"{tree}:/dir").hash == with_big != before
    assert client.diff_file(tree) == []
    assert sum(objects.size(k) for k in objects.list()) - size_with_big < 4096
    assert size_with_big - size_before >= len(big)


def test_equal_directories_have_equal_ids_across_repos(client: loxo.Client, tree: str) -> None:
    client.create_repo("twin")
    client.put_files("twin@master", [
        loxo.Source("/elsewhere/a.txt", data=b"aaaa"),
        loxo.Source("/elsewhere/b.txt", data=b"bb"),
        loxo.Source("/elsewhere/sub/c.txt", data=b"c"),
    ])
    assert (client.inspect_file("twin@master:/elsewhere").hash
            == client.inspect_file(f"{tree}:/dir").hash)


# -- copy and delete --------------------------------------------------------------------
@pytest.mark.embedded_only
def test_copy_file(client: loxo.Client, tree: str) -> None:
    objects_before = sorted(client.pfs.store.objects.list())
    client.copy_file(f"{tree}:/dir/a.txt", f"{tree}:/copies/a.txt")
    assert client.get_file(f"{tree}:/copies/a.txt") == b"aaaa"
    assert client.get_file(f"{tree}:/dir/a.txt") == b"aaaa"
    assert (client.inspect_file(f"{tree}:/copies/a.txt").hash
            == client.inspect_file(f"{tree}:/dir/a.txt").hash)
    new_objects = set(client.pfs.store.objects.list()) - set(objects_before)
    total_new = sum(client.pfs.store.objects.size(k) for k in new_objects)
    assert total_new < 2000  # only directory listings, no file data copied


def test_copy_a_whole_directory(client: loxo.Client, tree: str) -> None:
    client.copy_file(f"{tree}:/dir", f"{tree}:/backup/dir")
    assert _files(client, f"{tree}:/backup/dir") == {
        "/backup/dir/a.txt": b"aaaa", "/backup/dir/b.txt": b"bb", "/backup/dir/sub/c.txt": b"c",
    }
    assert client.inspect_file(f"{tree}:/backup/dir").hash == client.inspect_file(f"{tree}:/dir").hash


def test_copy_from_an_older_commit_and_another_repo(client: loxo.Client, tree: str, repo: str) -> None:
    client.put_file(f"{tree}:/top.txt", b"new top")
    client.copy_file(f"{tree}^:/top.txt", f"{tree}:/old-top.txt")
    assert client.get_file(f"{tree}:/old-top.txt") == b"top"
    client.create_repo("dst")
    client.copy_file(f"{tree}:/dir", "dst@master:/imported")
    assert client.get_file("dst@master:/imported/sub/c.txt") == b"c"
    assert [p for p in client.fsck() if p.severity == "error"] == []


def test_copy_append(client: loxo.Client, tree: str) -> None:
    client.copy_file(f"{tree}:/dir/b.txt", f"{tree}:/top.txt", append=True)
    assert client.get_file(f"{tree}:/top.txt") == b"topbb"
    with pytest.raises(InvalidArgument):
        client.copy_file(f"{tree}:/dir", f"{tree}:/top.txt", append=True)


def test_copy_missing_source(client: loxo.Client, tree: str, repo: str) -> None:
    snap = _Snapshot(client, repo)
    with pytest.raises(FileNotFound):
        client.copy_file(f"{tree}:/nope", f"{tree}:/dst")
    assert snap.unchanged()


def test_delete_file_and_directory(client: loxo.Client, tree: str) -> None:
    client.delete_file(f"{tree}:/dir/a.txt")
    assert [f.path for f in client.list_file(f"{tree}:/dir")] == ["/dir/b.txt", "/dir/sub"]
    client.delete_file(f"{tree}:/dir")
    assert [f.path for f in client.list_file(tree)] == ["/other", "/top.txt"]
    assert client.get_file(f"{tree}^^:/dir/a.txt") == b"aaaa"  # history keeps it
    client.delete_file(f"{tree}:/other/d.txt")  # the last file: its directory goes too
    assert [f.path for f in client.list_file(tree)] == ["/top.txt"]
    client.delete_file(f"{tree}:/top.txt")
    assert client.list_file(tree) == []
    assert client.inspect_commit(tree).size_bytes == 0


def test_delete_refusals(client: loxo.Client, tree: str, repo: str) -> None:
    snap = _Snapshot(client, repo)
    with pytest.raises(FileNotFound):
        client.delete_file(f"{tree}:/nope")
    with pytest.raises(InvalidPath):
        client.delete_file(f"{tree}:/")
    assert snap.unchanged()


# -- refused writes leave nothing behind ------------------------------------------------
@pytest.mark.parametrize(
    "path",
    ["/top.txt/below", "/dir", "/dir/sub", "/dir/a.txt/x/y"],
    ids=["under-a-file", "over-a-dir", "over-a-nested-dir", "deep-under-a-file"],
)
def test_path_conflicts_write_nothing(client: loxo.Client, tree: str, repo: str, path: str) -> None:
    snap = _Snapshot(client, repo)
    with pytest.raises(PathConflict):
        client.put_file(f"{tree}:{path}", b"x" * 2_000_000)
    with pytest.raises(PathConflict):
        client.put_files(tree, [loxo.Source("/fine", data=b"ok"), loxo.Source(path, data=b"x")])
    assert snap.unchanged()


def test_path_conflict_inside_one_put(client: loxo.Client, repo: str) -> None:
    snap = _Snapshot(client, repo)
    for order in ([("/a", b"file"), ("/a/b", b"below")], [("/a/b", b"below"), ("/a", b"file")]):
        with pytest.raises(PathConflict):
            client.put_files(f"{repo}@master", [loxo.Source(p, data=d) for p, d in order])
    assert snap.unchanged()


def test_path_conflicts_for_copy_and_append(client: loxo.Client, tree: str, repo: str) -> None:
    snap = _Snapshot(client, repo)
    with pytest.raises(PathConflict):
        client.copy_file(f"{tree}:/dir", f"{tree}:/top.txt/dir")
    with pytest.raises(PathConflict):
        client.put_file(f"{tree}:/dir", b"x", append=True)
    assert snap.unchanged()


def test_invalid_paths_are_refused(client: loxo.Client, tree: str, repo: str) -> None:
    snap = _Snapshot(client, repo)
    for path in ["/a/../b", "/../etc/passwd", "/a/./b", "/nul\x00", "/cr\rlf", "/"]:
        with pytest.raises(InvalidPath):
            client.put_file(loxo.File(loxo.Commit(repo), path), b"x")
        with pytest.raises(InvalidPath):
            client.put_files(tree, [loxo.Source("/ok", data=b"ok"), loxo.Source(path, data=b"x")])
        with pytest.raises(InvalidPath):
            client.put_file(f"{tree}:{path}", b"x")
    assert snap.unchanged()


def test_invalid_sources_are_refused(client: loxo.Client, tree: str, repo: str) -> None:
    snap = _Snapshot(client, repo)
    with pytest.raises(InvalidArgument):
        client.put_files(tree, [])
    with pytest.raises(InvalidArgument):
        client.put_files(tree, [loxo.Source("/two", data=b"x", stream=io.BytesIO(b"y"))])
    with pytest.raises(InvalidArgument):
        client.put_files(tree, [loxo.Source("/none")])
    assert snap.unchanged()


def test_missing_local_source_writes_nothing(client: loxo.Client, tree: str, repo: str,
                                             tmp_path: Path) -> None:
    good = tmp_path / "good"
    good.write_bytes(b"fine" * 100_000)
    snap = _Snapshot(client, repo)
    with pytest.raises(SourceError):
        client.put_file(f"{tree}:/x", tmp_path / "missing")
    with pytest.raises(SourceError):
        client.put_files(tree, [loxo.Source("/good", local=str(good)),
                                loxo.Source("/bad", local=str(tmp_path / "missing"))])
    with pytest.raises(SourceError):
        client.put_many(tree, [("/good", str(good)), ("/bad", str(tmp_path / "missing"))])
    with pytest.raises(SourceError):
        client.put_path(f"{tree}:/d", tmp_path)  # a directory without recursive
    assert snap.unchanged()


def test_put_path_recursive(client: loxo.Client, repo: str, tmp_path: Path) -> None:
    src = tmp_path / "tree"
    (src / "a" / "b").mkdir(parents=True)
    (src / "empty-dir").mkdir()
    (src / "top").write_bytes(b"t")
    (src / "a" / "one").write_bytes(b"1")
    (src / "a" / "b" / "two").write_bytes(b"2")
    client.put_path(f"{repo}@master:/up", src, recursive=True)
    assert _files(client, f"{repo}@master") == {"/up/top": b"t", "/up/a/one": b"1", "/up/a/b/two": b"2"}
    assert len(client.list_commit(repo)) == 1


def test_put_many_in_one_commit(client: loxo.Client, repo: str, tmp_path: Path) -> None:
    (tmp_path / "x").write_bytes(b"x")
    (tmp_path / "y").write_bytes(b"y")
    client.put_many(f"{repo}@master", [("/one/x", str(tmp_path / "x")), ("/two/y", str(tmp_path / "y"))])
    assert _files(client, f"{repo}@master") == {"/one/x": b"x", "/two/y": b"y"}
    assert len(client.list_commit(repo)) == 1


# -- tar --------------------------------------------------------------------------------
def _tar(path: Path, members: dict[str, bytes], mode: str = "w") -> Path:
    with tarfile.open(path, mode) as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.parametrize(("suffix", "mode"), [(".tar", "w"), (".tar.gz", "w:gz"), (".tgz", "w:gz")])
def test_untar(client: loxo.Client, repo: str, tmp_path: Path, suffix: str, mode: str) -> None:
    members = {"a.txt": b"a", "dir/b.txt": b"b", "dir/deep/c.bin": random.Random(5).randbytes(2 * MiB)}
    archive = _tar(tmp_path / f"data{suffix}", members, mode)
    client.put_path(f"{repo}@master:/unpacked", archive, untar=True)
    assert _files(client, f"{repo}@master") == {f"/unpacked/{k}": v for k, v in members.items()}
    assert len(client.list_commit(repo)) == 1


def test_untar_to_the_root(client: loxo.Client, repo: str, tmp_path: Path) -> None:
    archive = _tar(tmp_path / "x.tar", {"r.txt": b"r", "s/t.txt": b"t"})
    client.put_path(f"{repo}@master", archive, untar=True)
    assert _files(client, f"{repo}@master") == {"/r.txt": b"r", "/s/t.txt": b"t"}


def test_untar_skips_directories_and_links(client: loxo.Client, repo: str, tmp_path: Path) -> None:
    path = tmp_path / "mixed.tar"
    with tarfile.open(path, "w") as tar:
        d = tarfile.TarInfo("dir")
        d.type = tarfile.DIRTYPE
        tar.addfile(d)
        link = tarfile.TarInfo("dir/link")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/passwd"
        tar.addfile(link)
        f = tarfile.TarInfo("dir/file")
        f.size = 4
        tar.addfile(f, io.BytesIO(b"file"))
    client.put_path(f"{repo}@master", path, untar=True)
    assert _files(client, f"{repo}@master") == {"/dir/file": b"file"}


@pytest.mark.parametrize("evil", ["../evil", "a/../../evil", "/etc/passwd"])
def test_untar_refuses_members_that_escape(client: loxo.Client, repo: str, tmp_path: Path,
                                           evil: str) -> None:
    archive = _tar(tmp_path / "evil.tar", {"fine.txt": b"fine", evil: b"pwned"})
    snap = _Snapshot(client, repo)
    with pytest.raises(InvalidPath):
        client.put_path(f"{repo}@master:/x", archive, untar=True)
    assert snap.unchanged()
    assert not (tmp_path / "evil").exists()


def test_untar_of_something_else(client: loxo.Client, repo: str, tmp_path: Path) -> None:
    not_tar = tmp_path / "plain.tar"
    not_tar.write_bytes(b"this is not a tar archive" * 100)
    snap = _Snapshot(client, repo)
    with pytest.raises(SourceError):
        client.put_path(f"{repo}@master", not_tar, untar=True)
    assert snap.unchanged()


# -- URLs -------------------------------------------------------------------------------
@pytest.fixture
def web(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A loopback HTTP server over a directory: ``(base URL, directory)``."""
    root = tmp_path / "www"
    root.mkdir()

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=root))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_put_from_url(client: loxo.Client, repo: str, web: tuple[str, Path]) -> None:
    base, root = web
    data = random.Random(6).randbytes(3 * MiB)
    (root / "big.bin").write_bytes(data)
    (root / "hello.txt").write_bytes(b"hello from http")
    client.put_path(f"{repo}@master:/downloaded/big.bin", f"{base}/big.bin")
    client.put_path(f"{repo}@master", f"{base}/hello.txt?query=1")  # name from the URL
    assert client.get_file(f"{repo}@master:/downloaded/big.bin") == data
    assert client.get_file(f"{repo}@master:/hello.txt") == b"hello from http"
    assert hashlib.sha256(client.get_file(f"{repo}@master:/downloaded/big.bin")).digest() == \
        hashlib.sha256(data).digest()


def test_put_from_url_errors_write_nothing(client: loxo.Client, repo: str, web: tuple[str, Path]) -> None:
    base, _ = web
    snap = _Snapshot(client, repo)
    with pytest.raises(SourceError):
        client.put_path(f"{repo}@master:/x", f"{base}/missing.txt")
    with pytest.raises(SourceError):
        client.put_path(f"{repo}@master:/x", "http://127.0.0.1:9/refused")
    assert snap.unchanged()


def test_untar_from_url(client: loxo.Client, repo: str, web: tuple[str, Path]) -> None:
    base, root = web
    _tar(root / "bundle.tar.gz", {"x/y.txt": b"y"}, "w:gz")
    client.put_path(f"{repo}@master:/b", f"{base}/bundle.tar.gz", untar=True)
    assert client.get_file(f"{repo}@master:/b/x/y.txt") == b"y"


# -- files on disk are untouched by reads -----------------------------------------------
def test_put_does_not_modify_or_hold_the_source(client: loxo.Client, repo: str, tmp_path: Path) -> None:
    local = tmp_path / "src.bin"
    local.write_bytes(b"original")
    client.put_file(f"{repo}@master:/f", local)
    local.write_bytes(b"changed afterwards")
    assert client.get_file(f"{repo}@master:/f") == b"original"
    os.remove(local)
    assert client.get_file(f"{repo}@master:/f") == b"original"


def test_put_path_recursive_in_parallel(client: loxo.Client, repo: str, tmp_path: Path) -> None:
    src = tmp_path / "many"
    rng = random.Random(8)
    expected: dict[str, bytes] = {}
    for i in range(300):
        rel = f"g{i % 9}/file-{i:03}"
        data = rng.randbytes(rng.randrange(0, 3000))
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(data)
        expected[f"/many/{rel}"] = data
    seen: list[int] = []
    lock = threading.Lock()

    def progress(nbytes: int, nfiles: int) -> None:
        with lock:
            seen.append(nfiles)

    client.put_path(f"{repo}@master:/many", src, recursive=True, parallelism=4, progress=progress)
    assert _files(client, f"{repo}@master") == expected
    assert sum(seen) == 300


def test_put_path_recursive_does_not_follow_directory_symlinks(client: loxo.Client, repo: str,
                                                               tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "f").write_bytes(b"f")
    (src / "sub" / "loop").symlink_to("..")  # would recurse forever if followed
    client.put_path(f"{repo}@master:/in", src, recursive=True)
    assert "/in/sub/f" in _files(client, f"{repo}@master")
    assert not any("loop" in p for p in _files(client, f"{repo}@master"))
