"""Bad input: one ``error:`` line, a non-zero exit, and nothing written."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import Result

import loxo

Ok = Callable[..., str]
Run = Callable[..., Result]
Fails = Callable[..., str]


@pytest.fixture
def state(ok: Ok, home: Path, tmp_path: Path) -> Callable[[], object]:
    """Repo ``r`` with one commit; returns a function giving everything a write could change."""
    ok("create", "repo", "r")
    (tmp_path / "local.txt").write_text("local")
    ok("put", "file", "r@master:/a.txt", input=b"a")

    def snapshot() -> object:
        with loxo.Client(home) as c:
            return (
                c.list_repo(), c.list_commit("r"), list(c.walk_file("r@master")), c.list_commit_set()
            )

    return snapshot


def _head(ok: Ok) -> str:
    return str(json.loads(ok("inspect", "commit", "r@master", "--raw"))["id"])


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["list", "file", "nope@master"], "nope"),
        (["put", "file", "nope@master:/x", "-f", "{local}"], "nope"),
        (["inspect", "repo", "nope"], "nope"),
        (["create", "branch", "nope@dev"], "nope"),
        (["list", "file", "r@nobranch"], "nobranch"),
        (["get", "file", "r@nobranch:/a.txt"], "nobranch"),
        (["list", "commit", "r@nobranch"], "nobranch"),
        (["inspect", "branch", "r@nobranch"], "nobranch"),
        (["get", "file", "r@master:/missing.txt"], "missing.txt"),
        (["delete", "file", "r@master:/missing.txt"], "missing.txt"),
        (["create", "repo", "bad name"], "bad name"),
        (["create", "repo", "r/s"], "r/s"),
        (["create", "repo", "x" * 64], "longer than 63"),
        (["create", "repo", "r"], "already exists"),
        (["create", "branch", "r@bad!branch"], "bad!branch"),
        (["put", "file", "bad name@master:/x", "-f", "{local}"], "bad name"),
        (["put", "file", "r@master:/../x", "-f", "{local}"], ".."),
        (["put", "file", "r@master:a/../../etc/passwd", "-f", "{local}"], ".."),
        (["get", "file", "r@master:/../a.txt"], ".."),
        (["put", "file", "r@master:/a\x00b", "-f", "{local}"], "NUL"),
        (["put", "file", "r@master:/a\x01b"], "control"),
        (["put", "file", "r@master", "-f", "{tmp}/no-such-file"], "no-such-file"),
        (["put", "file", "r@master", "-f", "{local}", "-f", "{tmp}/missing2"], "missing2"),
        (["put", "file", "r@master", "-f", "{tmp}"], "-r"),
        (["put", "file", "r@master", "-i", "{tmp}/no-listing"], "no-listing"),
        (["put", "file", "r@master", "--untar", "-f", "{local}"], "tar"),
        (["get", "file", "r@master:/"], "directory"),
        (["delete", "commit", "r@master^"], "shorter"),
        (["inspect", "commit", "r@master^5"], ""),
        (["inspect", "commit", "0123456789abcdef0123456789abcdef"], "0123456789abcdef"),
        (["finish", "commit", "r@master"], "no open commit"),
        (["delete", "repo", "nope"], "nope"),
        (["put", "file", "r@master:/a.txt/under", "-f", "{local}"], "a.txt"),
        (["copy", "file", "r@master:/none", "r@master:/b"], "none"),
    ],
)
def test_error_line_and_nothing_written(
    run: Run, fails: Fails, state: Callable[[], object], tmp_path: Path, args: list[str], needle: str
) -> None:
    before = state()
    filled = [a.format(local=tmp_path / "local.txt", tmp=tmp_path) for a in args]
    line = fails(*filled)
    assert needle in line
    assert state() == before


def test_put_into_a_finished_commit_is_refused(
    ok: Ok, fails: Fails, state: Callable[[], object], tmp_path: Path
) -> None:
    before = state()
    head = _head(ok)
    assert "finished" in fails("put", "file", f"r@{head}:/b.txt", "-f", str(tmp_path / "local.txt"))
    assert "finished" in fails("put", "file", f"r@{head}:/b.txt", input=b"stdin data")
    assert "finished" in fails("delete", "file", f"r@{head}:/a.txt")
    assert state() == before


def test_local_write_failure_is_one_line(ok: Ok, fails: Fails, tmp_path: Path) -> None:
    ok("create", "repo", "r")
    ok("put", "file", "r@master:/a.txt", input=b"a")
    line = fails("get", "file", "r@master:/a.txt", "-o", str(tmp_path / "no" / "such" / "dir" / "f"))
    assert "No such file" in line


@pytest.mark.parametrize(
    "args",
    [
        ["get", "file", "r@master:/", "-r"],  # -r needs -o
        ["put", "file", "r@master"],  # stdin needs a path
        ["put", "file", "r@master:/x", "-a", "-o"],
        ["put", "file", "r@master:/x", "-f", "-", "-f", "other"],
        ["list", "repo", "extra"],
        ["frobnicate", "repo"],
        ["create", "repo"],
        ["put", "file", "r@master:/x", "-f", "a", "-p", "0"],
        ["put-file", "r", "master", "x", "--split", "line"],  # 1.x option loxo does not have
    ],
)
def test_usage_errors_exit_2(run: Run, ok: Ok, args: list[str]) -> None:
    ok("create", "repo", "r")
    before = ok("list", "commit", "r", "--raw")
    result = run(*args, input=b"")
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert ok("list", "commit", "r", "--raw") == before


def test_interrupt_exits_130(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(self: loxo.Client) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(loxo.Client, "list_repo", interrupted)
    result = run("list", "repo")
    assert result.exit_code == 130
    assert result.stderr.strip().splitlines() == ["interrupted"]


def test_unexpected_loxo_error_class_is_mapped(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self: loxo.Client) -> None:
        raise loxo.LoxoError("store is broken")

    monkeypatch.setattr(loxo.Client, "list_repo", broken)
    result = run("list", "repo")
    assert (result.exit_code, result.stderr) == (1, "error: store is broken\n")
