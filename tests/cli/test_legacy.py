"""pachctl 1.x commands are rewritten to their 2.x form before parsing."""

from __future__ import annotations

import pytest

from loxo.cli.legacy import TABLE, translate


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("create-repo training", "create repo training"),
        ("create-repo training -d words", "create repo training -d words"),
        ("list-repo", "list repo"),
        ("delete-repo training", "delete repo training"),
        ("inspect-repo training", "inspect repo training"),
        (
            "put-file training master iris.csv -f data/iris.csv",
            "put file training@master:iris.csv -f data/iris.csv",
        ),
        (
            "put-file training master iris.csv -c -o -f data/iris.csv",
            "put file training@master:iris.csv -o -f data/iris.csv",
        ),
        ("put-file repo branch path -r -f dir", "put file repo@branch:path -r -f dir"),
        ("put-file repo branch -f a -f b", "put file repo@branch -f a -f b"),
        ("put-file repo branch -f -m", "put file repo@branch -f -m"),  # '-m' is -f's value here
        ("get-file inference master test1.csv", "get file inference@master:test1.csv"),
        ("get-file r master a.txt -o out", "get file r@master:a.txt -o out"),
        ("list-file training master", "list file training@master"),
        ("list-file training master sub/dir", "list file training@master:sub/dir"),
        ("glob-file repo branch /*", "glob file repo@branch:/*"),
        ("inspect-file r b p", "inspect file r@b:p"),
        ("delete-file r b p", "delete file r@b:p"),
        ("inspect-commit inference abc", "inspect commit inference@abc"),
        ("inspect-commit inference@abc --raw", "inspect commit inference@abc --raw"),
        ("list-commit repo", "list commit repo"),
        ("list-commit repo master", "list commit repo@master"),
        ("start-commit repo branch", "start commit repo@branch"),
        ("start-commit repo branch -p parent", "start commit repo@branch -p parent"),
        ("finish-commit repo abc", "finish commit repo@abc"),
        ("delete-commit repo abc", "delete commit repo@abc"),
        ("flush-commit repo@abc", "wait commit repo@abc"),
        ("flush-commit repo abc", "wait commit repo@abc"),
        ("create-branch repo branch", "create branch repo@branch"),
        ("list-branch repo", "list branch repo"),
        ("delete-branch repo branch", "delete branch repo@branch"),
        ("diff-file r new p r old p", "diff file r@new:p r@old:p"),
        ("copy-file r b p r b q -o", "copy file r@b:p r@b:q"),
        ("put-file r b -- -odd", "put file r@b:-odd"),
        ("put-file r b p -f x -- -odd", "put file -f x -- r@b:p -odd"),
    ],
)
def test_translate(old: str, new: str) -> None:
    assert translate(old.split()) == new.split()


def test_global_options_before_the_command_are_kept() -> None:
    assert translate(["--home", "/s", "create-repo", "x"]) == ["--home", "/s", "create", "repo", "x"]
    assert translate(["--home=/s", "list-repo"]) == ["--home=/s", "list", "repo"]


@pytest.mark.parametrize(
    "args", [[], ["list", "repo"], ["put", "file", "r@b:/a"], ["--help"], ["nonsense-verb", "x"]]
)
def test_other_commands_are_untouched(args: list[str]) -> None:
    assert translate(args) == args


def test_every_alias_names_a_real_command() -> None:
    from loxo.cli import app

    for old, spec in TABLE.items():
        group = app.VERBS[spec.verb]
        names = {c.name for c in group.registered_commands}
        assert spec.noun in names, old
