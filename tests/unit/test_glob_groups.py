"""Capture groups in glob patterns (Pachyderm's ``join_on`` / ``group_by`` globs), and
the ``$n`` templates that turn captures into join and group keys."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loxo.errors import InvalidArgument
from loxo.model import FileKind
from loxo.pfs.glob import compile_glob, expand_template
from loxo.pfs.tree import Entry, TreeReader


@pytest.mark.parametrize(
    ("pattern", "path", "captures"),
    [
        ("/(*)", "/a.txt", ("a.txt",)),
        ("/(*).txt", "/a.txt", ("a",)),
        ("/(*).txt", "/a.csv", None),
        ("/(*)-(*).txt", "/a-b.txt", ("a", "b")),
        ("/(*)-(*).txt", "/a-b-c.txt", ("a-b", "c")),  # greedy, like Pachyderm's regex engine
        ("/*/(*).csv", "/x/y.csv", ("y",)),
        ("/(*)/(*).csv", "/x/y.csv", ("x", "y")),
        ("/(*)/(*).csv", "/y.csv", None),
        ("/(a|b)/x.go", "/a/x.go", ("a",)),
        ("/(a|b)/x.go", "/c/x.go", None),
        ("/a*(a|b)/x.go", "/a/x.go", ("",)),
        ("/a*(a|b)/x.go", "/aba/x.go", ("ba",)),
        ("/+(a|b)/x.go", "/aba/x.go", ("aba",)),
        ("/+(a|b)/x.go", "/x.go", None),
        ("/a?(a|b)/x.go", "/aa/x.go", ("a",)),
        ("/a?(a|b)/x.go", "/aab/x.go", None),
        ("/@(a|b)/(*).go", "/a/x.go", ("a", "x")),
        ("/a*(a|b)/*(*).go", "/aaaa/x.go", ("aaa", "x")),
        ("/((*)-(*))", "/a-b", ("a-b", "a", "b")),  # nested: numbered by opening '('
        ("/(?)(*)", "/abc", ("a", "bc")),
        ("/([0-9])*", "/7up", ("7",)),
        ("/**/(*).csv", "/a/b/c.csv", ("c",)),
        ("/**/(*).csv", "/c.csv", ("c",)),
        ("/*", "/a", ()),  # no groups
        ("/", "/", ()),
        ("/", "/a", None),
        ("/a|b", "/a|b", ()),  # '|' and ')' outside a group are literal
        ("/a)", "/a)", ()),
    ],
)
def test_captures(pattern: str, path: str, captures: tuple[str, ...] | None) -> None:
    glob = compile_glob(pattern)
    assert glob.captures(path) == captures
    assert glob.match(path) is (captures is not None)


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("/!(a)", "/a", False),
        ("/!(a)", "/b", True),
        ("/!(a)", "/aa", True),  # ending a component: anything but exactly 'a'
        ("/!(a)/x", "/a/x", False),
        ("/!(a)/x", "/ab/x", True),
        ("/!(a).txt", "/a.txt", False),  # followed by text: does not start with 'a'
        ("/!(a).txt", "/b.txt", True),
        ("/!(a|b)", "/b", False),
    ],
)
def test_negated_group(pattern: str, path: str, matches: bool) -> None:
    assert compile_glob(pattern).match(path) is matches


def test_parentheses_are_not_literal() -> None:
    glob = compile_glob("/a+(b)")  # Pachyderm: 'a' then one or more 'b', captured
    assert glob.match("/abb")
    assert not glob.match("/a+(b)")
    assert glob.captures("/abb") == ("bb",)


@pytest.mark.parametrize(
    ("pattern", "names", "expected"),
    [
        ("/(*)-(*).txt", ["a-1.txt", "b.txt", "c-2.csv", "d-3.txt"], ["a-1.txt", "d-3.txt"]),
        ("/(a|b)", ["a", "b", "c", "ab"], ["a", "b"]),
        ("/+(a)", ["a", "aa", "ab", "b"], ["a", "aa"]),
    ],
)
def test_match_part_understands_groups(pattern: str, names: list[str], expected: list[str]) -> None:
    """A tree walk of a non-recursive pattern matches component by component."""
    glob = compile_glob(pattern)
    assert [n for n in names if glob.match_part(0, n)] == expected
    assert [n for n in names if glob.match("/" + n)] == expected


def test_tree_glob_with_groups_matches_whole_pattern_match() -> None:
    class MemoryReader(TreeReader):
        def __init__(self, dirs: dict[str, dict[str, Entry]]) -> None:
            self.dirs = dirs

        def load(self, dir_id: str) -> dict[str, Entry]:
            return self.dirs[dir_id]

    def f(name: str) -> Entry:
        return Entry(name, FileKind.FILE, f"blake3:{name}", 1)

    sub = {n: f(n) for n in ("1.csv", "2.csv", "x.txt")}
    root = {"a": Entry("a", FileKind.DIR, "d:a", 3), "b.csv": f("b.csv")}
    reader = MemoryReader({"d:root": root, "d:a": sub})
    found = [p for p, _ in reader.glob("d:root", compile_glob("/(*)/(*).csv"))]
    assert found == ["/a/1.csv", "/a/2.csv"]


@pytest.mark.parametrize("pattern", ["/(a", "/(a/b)", "/a/(*/x)", "/+(a"])
def test_unclosed_or_slash_spanning_group_is_refused(pattern: str) -> None:
    with pytest.raises(InvalidArgument, match="unclosed"):
        compile_glob(pattern)


# -- templates ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("$1", "a"),
        ("$2", "b"),
        ("$1$2", "ab"),
        ("$2-$1", "b-a"),
        ("key:$1.x", "key:a.x"),
        ("${1}2", "a2"),
        ("$12", ""),  # group twelve does not exist
        ("$3", ""),
        ("$0", "/a-b.txt"),
        ("$01", ""),  # leading zeros are not a group number
        ("$$1", "$1"),
        ("$", "$"),
        ("$x", "$x"),
        ("${1", "${1"),
        ("plain", "plain"),
        ("", ""),
    ],
)
def test_expand_template(template: str, expected: str) -> None:
    assert expand_template(template, ("a", "b"), "/a-b.txt") == expected


def test_key_from_a_glob_and_a_template() -> None:
    glob = compile_glob("/(*)/(*)_(*).csv")
    caps = glob.captures("/2024/store7_returns.csv")
    assert caps is not None
    assert expand_template("$1-$2", caps) == "2024-store7"
    assert expand_template("$3", caps) == "returns"


@given(st.text(alphabet="ab-_.", min_size=0, max_size=8), st.text(alphabet="ab.", max_size=8))
def test_capture_round_trip(stem: str, tail: str) -> None:
    """Whatever the names, '(*)-(*)' splits at the last '-' and the groups rebuild the name."""
    name = f"{stem}-{tail}"
    caps = compile_glob("/(*)-(*)").captures("/" + name)
    assert caps is not None
    assert expand_template("$1-$2", caps) == name
    assert "-" not in caps[1]
