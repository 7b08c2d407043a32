"""``list / glob / walk / inspect / diff / copy / delete file``."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

Ok = Callable[..., str]


@pytest.fixture
def tree(ok: Ok) -> Ok:
    """Repo ``r`` with /a.txt (5 B), /dir/b.csv (1 KiB) and /dir/sub/c.csv (2 B)."""
    ok("create", "repo", "r")
    ok("put", "file", "r@master:/a.txt", input=b"hello")
    ok("put", "file", "r@master:/dir/b.csv", input=b"x" * 1024)
    ok("put", "file", "r@master:/dir/sub/c.csv", input=b"cc")
    return ok


def _rows(text: str) -> list[list[str]]:
    lines = text.splitlines()
    assert lines[0].split() == ["NAME", "TYPE", "SIZE"]
    return [line.split() for line in lines[1:]]


def test_list_file(tree: Ok) -> None:
    assert _rows(tree("list", "file", "r@master")) == [
        ["/a.txt", "file", "5B"], ["/dir/", "dir", "1.002KiB"],
    ]
    assert _rows(tree("list", "file", "r@master:/dir")) == [
        ["/dir/b.csv", "file", "1KiB"], ["/dir/sub/", "dir", "2B"],
    ]
    records = json.loads(tree("list", "file", "r@master:dir", "--raw"))
    assert [(f["path"], f["kind"], f["size_bytes"]) for f in records] == [
        ("/dir/b.csv", "file", 1024), ("/dir/sub", "dir", 2),
    ]
    assert records[0]["hash"]


def test_glob_and_walk(tree: Ok) -> None:
    assert [r[0] for r in _rows(tree("glob", "file", "r@master:/*"))] == ["/a.txt", "/dir/"]
    assert [r[0] for r in _rows(tree("glob", "file", "r@master:/**.csv"))] == [
        "/dir/b.csv", "/dir/sub/c.csv",
    ]
    assert _rows(tree("glob", "file", "r@master:/"))[0][:2] == ["/", "dir"]
    walked = [r[0] for r in _rows(tree("walk", "file", "r@master:/dir"))]
    assert walked == ["/dir/", "/dir/b.csv", "/dir/sub/", "/dir/sub/c.csv"]
    assert len(json.loads(tree("walk", "file", "r@master", "--raw"))) == 6


def test_inspect_file(tree: Ok) -> None:
    block = tree("inspect", "file", "r@master:/dir/b.csv")
    assert "Path: /dir/b.csv" in block and "Type: file" in block and "Size: 1KiB" in block
    record = json.loads(tree("inspect", "file", "r@master:/dir", "--raw"))
    assert record["kind"] == "dir" and record["size_bytes"] == 1026


def test_diff_file(tree: Ok) -> None:
    tree("start", "commit", "r@master")
    tree("put", "file", "r@master:/a.txt", input=b"changed")
    tree("put", "file", "r@master:/new.txt", input=b"n")
    tree("delete", "file", "r@master:/dir/sub")
    tree("finish", "commit", "r@master")
    text = tree("diff", "file", "r@master")
    new_part, removed_part = text.split("Removed Files:")
    assert new_part.startswith("New Files:")
    assert [r[0] for r in _rows(new_part.split("\n", 1)[1].strip())] == ["/a.txt", "/new.txt"]
    assert [r[0] for r in _rows(removed_part.strip())] == ["/dir/sub/c.csv"]
    assert tree("diff", "file", "r@master", "--name-only").splitlines() == [
        "+ /a.txt", "+ /new.txt", "- /dir/sub/c.csv",
    ]
    # against an explicit older commit: the three original puts are all "new"
    first = json.loads(tree("list", "commit", "r@master", "--raw"))[-1]["id"]
    assert tree("diff", "file", "r@master", f"r@{first}", "--name-only").splitlines() == [
        "+ /a.txt", "+ /dir/b.csv", "+ /new.txt",
    ]
    pairs = json.loads(tree("diff", "file", "r@master", "--raw"))
    assert {(p["new"] or {}).get("path") for p in pairs} == {"/a.txt", "/new.txt", None}


def test_copy_and_delete_file(tree: Ok) -> None:
    tree("copy", "file", "r@master:/dir", "r@master:/copy")
    assert [r[0] for r in _rows(tree("list", "file", "r@master:/copy"))] == [
        "/copy/b.csv", "/copy/sub/",
    ]
    tree("copy", "file", "r@master:/a.txt", "r@master:/a.txt", "-a")
    assert tree("get", "file", "r@master:/a.txt") == "hellohello"
    tree("delete", "file", "r@master:/copy")
    tree("delete", "file", "r@master:/a.txt")
    assert [r[0] for r in _rows(tree("list", "file", "r@master"))] == ["/dir/"]
    assert len(json.loads(tree("list", "commit", "r", "--raw"))) == 7
