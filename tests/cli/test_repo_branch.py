"""``create / list / inspect / update / delete`` of repos and branches."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from typer.testing import CliRunner, Result

from loxo.cli.main import root

Ok = Callable[..., str]
Run = Callable[..., Result]


def test_repo_lifecycle(ok: Ok) -> None:
    assert ok("create", "repo", "images", "-d", "raw pictures") == ""
    ok("create", "repo", "labels")
    lines = ok("list", "repo").splitlines()
    assert lines[0].split() == ["NAME", "CREATED", "SIZE", "(MASTER)", "DESCRIPTION"]
    assert [line.split()[0] for line in lines[1:]] == ["labels", "images"]
    assert "raw pictures" in lines[2]
    ok("update", "repo", "images", "-d", "new words")
    block = ok("inspect", "repo", "images")
    assert "Name: images" in block and "Description: new words" in block
    ok("delete", "repo", "labels")
    assert [r["name"] for r in json.loads(ok("list", "repo", "--raw"))] == ["images"]


def test_repo_raw(ok: Ok) -> None:
    ok("create", "repo", "images")
    ok("put", "file", "images@master:/a.txt", input=b"12345")
    record = json.loads(ok("inspect", "repo", "images", "--raw"))
    assert record["name"] == "images"
    assert record["size_bytes"] == 5
    assert record["branches"] == ["master"]
    assert record["created"].endswith("+00:00")
    assert "5B" in ok("list", "repo")


def test_branch_lifecycle(ok: Ok) -> None:
    ok("create", "repo", "r")
    ok("put", "file", "r@master:/a", input=b"a")
    first = json.loads(ok("inspect", "branch", "r@master", "--raw"))["head"]
    ok("put", "file", "r@master:/b", input=b"b")
    ok("create", "branch", "r@old", "--head", f"r@{first}")
    ok("create", "branch", "r@empty")
    lines = ok("list", "branch", "r").splitlines()
    assert lines[0].split() == ["BRANCH", "HEAD"]
    rows = {line.split()[0]: line.split()[1] for line in lines[1:]}
    assert rows["old"] == first
    assert rows["empty"] == "-"
    assert len(rows["master"]) == 32
    assert f"Head Commit: r@{first}" in ok("inspect", "branch", "r@old")
    ok("create", "branch", "r@moved", "--head", "master^")  # a ref of the same repo
    assert json.loads(ok("inspect", "branch", "r@moved", "--raw"))["head"] == first
    assert ok("list", "file", "r@old").split()[3:] == ["/a", "file", "1B"]
    ok("delete", "branch", "r@old")
    assert {b["name"] for b in json.loads(ok("list", "branch", "r", "--raw"))} == {
        "master", "empty", "moved"
    }


def test_home_from_environment(run: Run, tmp_path: Path) -> None:
    store = tmp_path / "env-store"
    result = CliRunner().invoke(root, ["create", "repo", "x"], env={"LOXO_HOME": str(store)})
    assert result.exit_code == 0, result.output
    assert (store / "loxo.db").exists()
    assert "x" not in run("list", "repo").stdout  # the --home store is another one
