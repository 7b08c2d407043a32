"""The iris workshop's pachctl 1.x commands, verbatim with ``loxo`` for ``pachctl``."""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable
from pathlib import Path

from typer.testing import Result

Ok = Callable[..., str]
Run = Callable[..., Result]


def sh(ok: Ok, line: str) -> str:
    """Run one workshop line (``pachctl ...`` or ``loxo ...``) through the CLI."""
    words = shlex.split(line)
    assert words[0] in ("pachctl", "loxo")
    return ok(*words[1:])


def _rows(text: str) -> list[list[str]]:
    return [line.split() for line in text.splitlines()[1:]]


def test_workshop_sequence(ok: Ok, run: Run, workdir: Path) -> None:
    iris = (workdir / "data" / "iris.csv").read_bytes()
    assert sh(ok, "pachctl create-repo training") == ""
    sh(ok, "pachctl create-repo attributes")
    assert [r[0] for r in _rows(sh(ok, "pachctl list-repo"))] == ["attributes", "training"]
    sh(ok, "pachctl put-file training master iris.csv -f data/iris.csv")
    sh(ok, "pachctl put-file attributes master test1.csv -f data/test1.csv")
    assert _rows(sh(ok, "pachctl list-file training master")) == [["/iris.csv", "file", "4.308KiB"]]
    assert run(*shlex.split("get-file training master iris.csv")).stdout_bytes == iris
    assert sh(ok, "pachctl get-file attributes master test1.csv").startswith("5.7,2.8,4.1,1.3\n")
    commits = _rows(sh(ok, "pachctl list-commit training"))
    assert len(commits) == 1 and commits[0][:2] == ["training", "master"]
    first = commits[0][2]
    block = sh(ok, f"pachctl inspect-commit training {first}")
    assert f"Commit: training@{first}" in block and "Size: 4.308KiB" in block

    # bonus step 11: overwrite in a new commit
    sh(ok, "pachctl put-file training master iris.csv -c -o -f data/iris.csv")
    commits = _rows(sh(ok, "pachctl list-commit training master"))
    assert len(commits) == 2 and commits[1][2] == first
    second = commits[0][2]
    assert json.loads(sh(ok, f"pachctl inspect-commit training {second} --raw"))["parent"] == first
    assert _rows(sh(ok, "pachctl list-file training master")) == [["/iris.csv", "file", "4.308KiB"]]
    sh(ok, f"pachctl flush-commit training@{second}")
    sh(ok, "pachctl flush-commit training master")


def test_other_1x_commands(ok: Ok, workdir: Path) -> None:
    sh(ok, "loxo create-repo images")
    commit_id = sh(ok, "loxo start-commit images master").strip()
    sh(ok, "loxo put-file images master sub -r -f data")
    sh(ok, f"loxo finish-commit images {commit_id}")
    assert [r[0] for r in _rows(sh(ok, "loxo glob-file images master '/sub/*'"))] == [
        "/sub/iris.csv", "/sub/test1.csv",
    ]
    assert "Size: 96B" in sh(ok, "loxo inspect-file images master sub/test1.csv")
    sh(ok, "loxo create-branch images dev")
    assert [r[0] for r in _rows(sh(ok, "loxo list-branch images"))] == ["dev", "master"]
    sh(ok, "loxo delete-branch images dev")
    sh(ok, "loxo delete-file images master sub/iris.csv")
    assert [r[0] for r in _rows(sh(ok, "loxo list-file images master sub"))] == ["/sub/test1.csv"]
    head = _rows(sh(ok, "loxo list-commit images"))[0][2]
    sh(ok, f"loxo delete-commit images {head}")
    assert [r[2] for r in _rows(sh(ok, "loxo list-commit images"))] == [commit_id]
    assert "Name: images" in sh(ok, "loxo inspect-repo images")
    sh(ok, "loxo delete-repo images")
    assert sh(ok, "loxo list-repo").splitlines()[1:] == []
