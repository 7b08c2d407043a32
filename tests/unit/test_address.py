"""The one address parser: names, ``repo@ref^N.N:path`` and path normalisation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loxo.errors import InvalidAddress, InvalidArgument, InvalidName, InvalidPath
from loxo.model import (
    Branch,
    Commit,
    File,
    check_branch_name,
    check_repo_name,
    format_commit,
    join_path,
    normalize_path,
    parse_branch,
    parse_commit,
    parse_file,
    parse_repo,
    split_path,
)

COMMIT_ID = "0123456789abcdef0123456789abcdef"


# -- names ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["a", "images", "Repo-2_x", "0", "_", "-", "a" * 63])
def test_valid_names_are_accepted(name: str) -> None:
    assert check_repo_name(name) == name
    assert check_branch_name(name) == name
    assert parse_repo(name).name == name


@pytest.mark.parametrize(
    "name",
    ["", "a" * 64, "has space", "dot.ted", "sl/ash", "at@", "colon:", "caret^", "tilde~",
     "équipe", "tab\t", "nul\x00", "eq=ual", "star*"],
)
def test_invalid_names_raise_invalid_name(name: str) -> None:
    with pytest.raises(InvalidName):
        check_repo_name(name)
    with pytest.raises(InvalidName):
        check_branch_name(name)


def test_invalid_name_is_an_invalid_argument_with_a_stable_code() -> None:
    with pytest.raises(InvalidArgument) as err:
        check_repo_name("no good")
    assert err.value.code == "invalid_name"
    assert err.value.status == 400


# -- commits ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("repo", Commit("repo", "master")),
        ("repo@master", Commit("repo", "master")),
        ("repo@dev", Commit("repo", "dev")),
        (f"repo@{COMMIT_ID}", Commit("repo", COMMIT_ID)),
        ("repo@master^", Commit("repo", "master", ancestors=1)),
        ("repo@master^^", Commit("repo", "master", ancestors=2)),
        ("repo@master^3", Commit("repo", "master", ancestors=3)),
        ("repo@master~2", Commit("repo", "master", ancestors=2)),
        ("repo@master^2^", Commit("repo", "master", ancestors=3)),
        ("repo@master~1^", Commit("repo", "master", ancestors=2)),
        (f"repo@{COMMIT_ID}^", Commit("repo", COMMIT_ID, ancestors=1)),
        ("repo@master.1", Commit("repo", "master", nth=1)),
        ("repo@master.12", Commit("repo", "master", nth=12)),
        (f"repo@master={COMMIT_ID}", Commit("repo", COMMIT_ID)),
        (f"repo@master={COMMIT_ID}^", Commit("repo", COMMIT_ID, ancestors=1)),
    ],
)
def test_parse_commit(text: str, expected: Commit) -> None:
    assert parse_commit(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "repo@",            # empty ref
        "repo@@x",
        "repo@master^x",
        "repo@master~",     # '~' needs a count
        "repo@master.0",    # '.N' counts from 1
        "repo@master.",
        "repo@master.1^",   # '.N' does not combine with '^'
        "repo@master^.1",
        "repo@master.1.2",
        "repo@mas ter",
        "repo@master=",
        "repo@=abc",
        "repo@master:/a",   # a file, not a commit
        "repo:/a",
    ],
)
def test_parse_commit_refuses_malformed_addresses(text: str) -> None:
    with pytest.raises(InvalidAddress):
        parse_commit(text)


@pytest.mark.parametrize("text", ["", "@master", "bad repo@master", "a" * 64 + "@master"])
def test_parse_commit_checks_the_repo_name(text: str) -> None:
    with pytest.raises(InvalidName):
        parse_commit(text)


# -- branches ---------------------------------------------------------------------------
def test_parse_branch_defaults_to_master() -> None:
    assert parse_branch("repo") == Branch("repo", "master")
    assert parse_branch("repo@dev") == Branch("repo", "dev")
    assert str(parse_branch("repo@dev")) == "repo@dev"


@pytest.mark.parametrize("text", ["repo@", "repo@master^", "repo@master.1", "repo@a/b", "x y@dev",
                                  "repo@" + "b" * 64])
def test_parse_branch_refuses_what_is_not_a_branch_name(text: str) -> None:
    with pytest.raises(InvalidName):
        parse_branch(text)


# -- files ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("repo", File(Commit("repo"), "/")),
        ("repo@dev", File(Commit("repo", "dev"), "/")),
        ("repo@dev:", File(Commit("repo", "dev"), "/")),
        ("repo:/a/b.txt", File(Commit("repo"), "/a/b.txt")),
        ("repo@dev:a/b.txt", File(Commit("repo", "dev"), "/a/b.txt")),
        ("repo@dev^2:/x/", File(Commit("repo", "dev", ancestors=2), "/x")),
        ("repo@dev.1://x//y", File(Commit("repo", "dev", nth=1), "/x/y")),
        (f"repo@{COMMIT_ID}:/x", File(Commit("repo", COMMIT_ID), "/x")),
        ("repo@dev:/with:colon", File(Commit("repo", "dev"), "/with:colon")),
        ("repo@dev:/sp ace/ü.txt", File(Commit("repo", "dev"), "/sp ace/ü.txt")),
    ],
)
def test_parse_file(text: str, expected: File) -> None:
    assert parse_file(text) == expected


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("repo@dev:/a/../b", InvalidPath),
        ("repo@dev:/../etc/passwd", InvalidPath),
        ("repo@dev:/./a", InvalidPath),
        ("repo@dev:/a\x00b", InvalidPath),
        ("repo@dev:/a\nb", InvalidPath),
        ("repo@dev^x:/a", InvalidAddress),
        ("re po@dev:/a", InvalidName),
    ],
)
def test_parse_file_errors(text: str, error: type[Exception]) -> None:
    with pytest.raises(error):
        parse_file(text)


def test_file_and_commit_print_as_addresses() -> None:
    assert str(parse_file("repo@dev^2:/a")) == "repo@dev^2:/a"
    assert str(Commit("repo", "dev", nth=3)) == "repo@dev.3"


# -- paths ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("", "/"),
        ("/", "/"),
        ("//", "/"),
        ("a", "/a"),
        ("/a/b/", "/a/b"),
        ("//a///b//", "/a/b"),
        ("/a/.hidden", "/a/.hidden"),
        ("/a/..b/c..", "/a/..b/c.."),
        ("/a b/ü", "/a b/ü"),
    ],
)
def test_normalize_path(path: str, expected: str) -> None:
    assert normalize_path(path) == expected


@pytest.mark.parametrize(
    "path", ["..", "/..", "/a/..", "../a", "/a/../../b", ".", "/a/./b", "/a\x00", "/a\x01b", "/a\x1f",
             "/a\x7f", "/a\r\nb", "/tab\there"],
)
def test_normalize_path_refuses_escapes_and_control_characters(path: str) -> None:
    with pytest.raises(InvalidPath):
        normalize_path(path)


def test_split_and_join() -> None:
    assert split_path("/") == []
    assert split_path("//a/b//c/") == ["a", "b", "c"]
    assert join_path("/a/", "b", "/c/") == "/a/b/c"
    with pytest.raises(InvalidPath):
        join_path("/a", "..", "b")


@given(st.text(max_size=40))
def test_normalize_path_is_idempotent_or_refuses(path: str) -> None:
    try:
        once = normalize_path(path)
    except InvalidPath:
        return
    assert once.startswith("/")
    assert "//" not in once
    assert once == "/" or not once.endswith("/")
    assert normalize_path(once) == once
    assert ".." not in once.split("/")


# -- round trip -------------------------------------------------------------------------
_names = st.text(alphabet="abcXYZ019-_", min_size=1, max_size=63)
_hex_ids = st.text(alphabet="0123456789abcdef", min_size=32, max_size=32)


@st.composite
def commits(draw: st.DrawFn) -> Commit:
    repo = draw(_names)
    ref = draw(st.one_of(_names, _hex_ids))
    if draw(st.booleans()):
        return Commit(repo, ref, nth=draw(st.integers(min_value=1, max_value=10_000)))
    return Commit(repo, ref, ancestors=draw(st.integers(min_value=0, max_value=10_000)))


@given(commits())
def test_parse_commit_inverts_format_commit(commit: Commit) -> None:
    assert parse_commit(format_commit(commit)) == commit


@given(commits(), st.lists(st.text(alphabet="ab.-_ ü", min_size=1, max_size=5), max_size=4))
def test_parse_file_round_trip(commit: Commit, parts: list[str]) -> None:
    parts = [p for p in parts if p not in (".", "..")]
    path = "/" + "/".join(parts)
    assert parse_file(f"{format_commit(commit)}:{path}") == File(commit, normalize_path(path))
