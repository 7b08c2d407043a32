"""Glob patterns with Pachyderm's meaning (reference §3.1), pure and through a real store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import loxo
from loxo.errors import InvalidArgument
from loxo.model import FileKind
from loxo.pfs.glob import compile_glob
from loxo.pfs.tree import Entry, TreeReader


@pytest.fixture(scope="module")
def glob_repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[loxo.Client]:
    """The reference's example repo: ``/foo-1, /foo-2, /bar/{bar-1,bar-2}`` plus a test tree."""
    client = loxo.Client(tmp_path_factory.mktemp("glob") / "store")
    client.create_repo("ref")
    client.put_files("ref@master", [
        loxo.Source("/foo-1", data=b"foo 1"),
        loxo.Source("/foo-2", data=b"foo 2"),
        loxo.Source("/bar/bar-1", data=b"bar 1"),
        loxo.Source("/bar/bar-2", data=b"bar 2"),
    ])
    client.create_repo("tests")
    client.put_files("tests@master", [
        loxo.Source("/test1.txt", data=b"1"),
        loxo.Source("/a/test2.txt", data=b"2"),
        loxo.Source("/a/b/test3.txt", data=b"3"),
        loxo.Source("/a/b/notes.txt", data=b"n"),
        loxo.Source("/a/test.csv", data=b"c"),
    ])
    yield client
    client.close()


def _glob(client: loxo.Client, address: str) -> list[tuple[str, str]]:
    return [(f.path, f.kind.value) for f in client.glob_file(address)]


# -- the reference table ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("/", [("/", "dir")]),
        ("/*", [("/bar", "dir"), ("/foo-1", "file"), ("/foo-2", "file")]),
        ("/*/*", [("/bar/bar-1", "file"), ("/bar/bar-2", "file")]),
        ("/bar/*", [("/bar/bar-1", "file"), ("/bar/bar-2", "file")]),
        ("/foo*", [("/foo-1", "file"), ("/foo-2", "file")]),
        ("/**", [("/bar", "dir"), ("/bar/bar-1", "file"), ("/bar/bar-2", "file"),
                 ("/foo-1", "file"), ("/foo-2", "file")]),
        # beyond the table
        ("*", [("/bar", "dir"), ("/foo-1", "file"), ("/foo-2", "file")]),
        ("/foo-?", [("/foo-1", "file"), ("/foo-2", "file")]),
        ("/foo-[2]", [("/foo-2", "file")]),
        ("/[!f]*", [("/bar", "dir")]),
        ("/bar", [("/bar", "dir")]),
        ("/bar/bar-2", [("/bar/bar-2", "file")]),
        ("/*/*/*", []),
        ("/foo-1/*", []),
        ("/nothing*", []),
        ("/**/bar-*", [("/bar/bar-1", "file"), ("/bar/bar-2", "file")]),
        ("/**/foo-1", [("/foo-1", "file")]),  # '**/' also matches zero directories
        ("/bar/**", [("/bar/bar-1", "file"), ("/bar/bar-2", "file")]),
    ],
)
def test_glob_table(glob_repo: loxo.Client, pattern: str, expected: list[tuple[str, str]]) -> None:
    assert _glob(glob_repo, f"ref@master:{pattern}") == expected


def test_glob_of_root_is_the_whole_repo(glob_repo: loxo.Client) -> None:
    (root,) = glob_repo.glob_file("ref@master:/")
    assert root.kind is FileKind.DIR
    assert root.size_bytes == len(b"foo 1foo 2bar 1bar 2")
    assert root.hash == glob_repo.inspect_file("ref@master:/").hash


def test_glob_match_carries_the_subtree_hash(glob_repo: loxo.Client) -> None:
    bar = {f.path: f for f in glob_repo.glob_file("ref@master:/*")}["/bar"]
    assert bar.hash == glob_repo.inspect_file("ref@master:/bar").hash
    assert bar.size_bytes == 10


def test_recursive_test_pattern_finds_test_files_at_any_depth(glob_repo: loxo.Client) -> None:
    assert [p for p, _ in _glob(glob_repo, "tests@master:/**test*.txt")] == [
        "/a/b/test3.txt", "/a/test2.txt", "/test1.txt",
    ]
    assert [p for p, _ in _glob(glob_repo, "tests@master:**/*.txt")] == [
        "/a/b/notes.txt", "/a/b/test3.txt", "/a/test2.txt", "/test1.txt",
    ]
    assert [p for p, _ in _glob(glob_repo, "tests@master:/a/**/*.csv")] == ["/a/test.csv"]


def test_glob_file_accepts_a_file_reference(glob_repo: loxo.Client) -> None:
    ref = loxo.File(loxo.Commit("ref", "master"), "/bar/*")
    assert [f.path for f in glob_repo.glob_file(ref)] == ["/bar/bar-1", "/bar/bar-2"]


def test_glob_sees_the_commit_it_names(tmp_path: Path) -> None:
    with loxo.Client(tmp_path / "store") as client:
        client.create_repo("r")
        client.put_file("r@master:/one", b"1")
        client.put_file("r@master:/two", b"2")
        assert [f.path for f in client.glob_file("r@master:/*")] == ["/one", "/two"]
        assert [f.path for f in client.glob_file("r@master^:/*")] == ["/one"]


# -- compile_glob and Glob.match, no store --------------------------------------------
@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("/", "/", True),
        ("/", "/a", False),
        ("/*", "/a", True),
        ("/*", "/a/b", False),
        ("/*/*", "/a", False),
        ("/*/*", "/a/b", True),
        ("/a/*", "/a/b", True),
        ("/a/*", "/b/b", False),
        ("/foo*", "/foo-1", True),
        ("/foo*", "/xfoo", False),
        ("/**", "/a", True),
        ("/**", "/a/b/c", True),
        ("/**/c", "/c", True),
        ("/**/c", "/a/b/c", True),
        ("/**/c", "/a/b/cd", False),
        ("/a/**/c", "/a/c", True),
        ("/a/**/c", "/a/x/y/c", True),
        ("/a/**/c", "/b/x/c", False),
        ("/**test*.txt", "/test.txt", True),
        ("/**test*.txt", "/x/y/test-9.txt", True),
        ("/**test*.txt", "/x/y/test-9.csv", False),
        ("/*.txt", "/a.txt", True),
        ("/*.txt", "/a.txt/b", False),
        ("/?", "/a", True),
        ("/?", "/ab", False),
        ("/[ab]", "/b", True),
        ("/[ab]", "/c", False),
        ("/**/[!a]", "/x/b", True),
        ("/**/[!a]", "/x/a", False),
        ("/a.b", "/aXb", False),  # '.' is literal
        ("/a+b$^{1}", "/a+b$^{1}", True),  # regex characters are literal
        ("/a+b", "/aab", False),
    ],
)
def test_glob_match(pattern: str, path: str, matches: bool) -> None:
    assert compile_glob(pattern).match(path) is matches


@pytest.mark.parametrize(
    ("pattern", "parts", "recursive"),
    [
        ("/", (), False),
        ("*", ("*",), False),
        ("//a//*/", ("a", "*"), False),
        ("/**", ("**",), True),
        ("**/*.txt", ("**", "*.txt"), True),
        ("/a/**test*", ("a", "**test*"), True),
    ],
)
def test_compile_glob_normalises(pattern: str, parts: tuple[str, ...], recursive: bool) -> None:
    glob = compile_glob(pattern)
    assert glob.parts == parts
    assert glob.recursive is recursive


@pytest.mark.parametrize("pattern", ["", "/a/../b", "/./a", "**/../x", "/a\x00"])
def test_compile_glob_refuses_bad_patterns(pattern: str) -> None:
    with pytest.raises(InvalidArgument):
        compile_glob(pattern)


def test_non_recursive_glob_does_not_read_below_its_depth() -> None:
    """A ``/*`` glob must stop at depth one: it never loads directories it does not need."""

    class CountingReader(TreeReader):
        def __init__(self, dirs: dict[str, dict[str, Entry]]) -> None:
            self.dirs = dirs
            self.loaded: list[str] = []

        def load(self, dir_id: str) -> dict[str, Entry]:
            self.loaded.append(dir_id)
            return self.dirs[dir_id]

    deep = {"x": Entry("x", FileKind.FILE, "blake3:x", 1)}
    mid = {"deep": Entry("deep", FileKind.DIR, "d:deep", 1)}
    root = {"mid": Entry("mid", FileKind.DIR, "d:mid", 1), "f": Entry("f", FileKind.FILE, "blake3:f", 1)}
    reader = CountingReader({"d:root": root, "d:mid": mid, "d:deep": deep})
    found = [p for p, _ in reader.glob("d:root", compile_glob("/*"))]
    assert found == ["/f", "/mid"]
    assert "d:deep" not in reader.loaded
    assert "d:mid" not in reader.loaded
