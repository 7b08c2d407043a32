"""Datums with Pachyderm's semantics (reference §2.3, §3.1-3.6): glob, cross, union, join,
group, identity, skipping and the environment user code sees.

Most tests use an in-memory fake of a commit's tree (``FakeRepos``) filtered by the real
glob matcher; a few go through a real store.
"""

from __future__ import annotations

import dataclasses
import time
import tracemalloc
from collections.abc import Iterator
from itertools import product
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import loxo
from loxo.errors import InvalidArgument
from loxo.pfs.glob import compile_glob, expand_template
from loxo.pfs.tree import Entry
from loxo.pps.datums import (
    Datum,
    DatumFile,
    DatumInput,
    Match,
    datum_env,
    datum_files,
    datum_hash,
    datum_id,
    iter_datums,
    tree_resolver,
)
from loxo.pps.inputs import CronInput, CrossInput, GroupInput, Input, JoinInput, PfsInput, UnionInput
from loxo.storage.content import digest


# -- an in-memory tree --------------------------------------------------------------
class FakeRepos:
    """Repos as ``{path: content}``; every directory (and the root) is a match too, with a
    Merkle-style id over its children, like the real trees."""

    def __init__(self, repos: dict[str, dict[str, bytes]]) -> None:
        self.matches = {repo: _matches(files) for repo, files in repos.items()}
        self.calls: list[str] = []

    def __call__(self, leaf: PfsInput) -> Iterator[Match]:
        self.calls.append(leaf.name)
        glob = compile_glob(leaf.glob)
        for m in self.matches[leaf.repo]:
            if m.path == "/" and glob.parts:
                continue
            if glob.match(m.path):
                yield m


def _matches(files: dict[str, bytes]) -> list[Match]:
    out: dict[str, Match] = {}
    for path, data in files.items():
        out[path] = Match(path, digest(data), len(data), False)

    def build(prefix: str) -> Match:
        below = [p for p in out if p.startswith(prefix.rstrip("/") + "/") and p != prefix]
        children = sorted({p[len(prefix.rstrip("/")) + 1 :].split("/")[0] for p in below})
        ids, size = [], 0
        for name in children:
            child = prefix.rstrip("/") + "/" + name
            m = out[child] if child in files else build(child)
            out[child] = m
            ids.append(f"{name}={m.id}")
            size += m.size
        return Match(prefix, digest("\n".join(ids).encode()), size, True)

    out["/"] = build("/")
    return sorted(out.values(), key=lambda m: [] if m.path == "/" else m.path.split("/"))


def pfs(name: str, glob: str = "/*", repo: str | None = None, **kw: object) -> PfsInput:
    return PfsInput(name=name, repo=repo or name, glob=glob, **kw)  # type: ignore[arg-type]


def paths(datums: list[Datum]) -> list[tuple[str, ...]]:
    return [tuple(f"{i.name}:{i.path}" for i in d.inputs) for d in datums]


REF = {"/foo-1": b"foo 1", "/foo-2": b"foo 2", "/bar/bar-1": b"bar 1", "/bar/bar-2": b"bar 2"}
GLOB_TABLE = [
    ("/", ["/"]),
    ("/*", ["/bar", "/foo-1", "/foo-2"]),
    ("/*/*", ["/bar/bar-1", "/bar/bar-2"]),
    ("/bar/*", ["/bar/bar-1", "/bar/bar-2"]),
    ("/foo*", ["/foo-1", "/foo-2"]),
    ("/**", ["/bar", "/bar/bar-1", "/bar/bar-2", "/foo-1", "/foo-2"]),
]
COMMITS = {n: f"c-{n}" for n in ("in", "A", "B", "C", "ref", "tick")}


def datums(node: Input, repos: FakeRepos, commits: dict[str, str] = COMMITS) -> list[Datum]:
    return list(iter_datums(node, repos, commits))


# -- pfs and the glob table ---------------------------------------------------------
@pytest.mark.parametrize(("glob", "expected"), GLOB_TABLE)
def test_glob_table_in_memory(glob: str, expected: list[str]) -> None:
    out = datums(pfs("in", glob, repo="ref"), FakeRepos({"ref": REF}))
    assert [d.inputs[0].path for d in out] == expected
    assert all(len(d.inputs) == 1 and d.inputs[0].commit == "c-in" for d in out)


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[loxo.Client]:
    client = loxo.Client(tmp_path_factory.mktemp("datums") / "s")
    client.create_repo("ref")
    client.put_files("ref@master", [loxo.Source(p, data=d) for p, d in REF.items()])
    client.put_file("ref@master:/bar/bar-2", b"bar 2, changed")
    yield client
    client.close()


def _real(client: loxo.Client, commit: str) -> tuple[str, dict[str, str]]:
    info = client.inspect_commit(commit)
    return client.inspect_file(f"{commit}:/").hash, {"in": info.id}


@pytest.mark.parametrize(("glob", "expected"), GLOB_TABLE)
def test_glob_table_through_a_real_store(store: loxo.Client, glob: str, expected: list[str]) -> None:
    tree, commits = _real(store, "ref@master")
    resolve = tree_resolver(store.pfs.store.trees, lambda leaf: tree)
    out = list(iter_datums(pfs("in", glob, repo="ref"), resolve, commits))
    assert [d.inputs[0].path for d in out] == expected
    (bar,) = [d.inputs[0] for d in out if d.inputs[0].path == "/bar"] or [None]
    if bar is not None:
        assert bar.is_dir and bar.size == len(b"bar 1bar 2, changed")
        assert bar.id == store.inspect_file("ref@master:/bar").hash
        assert bar.commit == commits["in"]


def test_real_store_skipping_follows_the_merkle_tree(store: loxo.Client) -> None:
    """One changed file below /bar: with '/*' only the /bar datum's hash changes; with '/'
    the whole repo's does. Datum ids do not change."""

    def run(commit: str, glob: str) -> dict[str, tuple[str, str]]:
        tree, commits = _real(store, commit)
        resolve = tree_resolver(store.pfs.store.trees, lambda leaf: tree)
        out = iter_datums(pfs("in", glob, repo="ref"), resolve, commits)
        return {d.inputs[0].path: (datum_id(d), datum_hash(d, "salt")) for d in out}

    old, new = run("ref@master^", "/*"), run("ref@master", "/*")
    assert old.keys() == new.keys() == {"/bar", "/foo-1", "/foo-2"}
    assert [p for p in new if new[p][1] != old[p][1]] == ["/bar"]
    assert all(new[p][0] == old[p][0] for p in new)
    assert run("ref@master^", "/")["/"][1] != run("ref@master", "/")["/"][1]


def test_datum_files_lists_every_file_below_a_matched_directory(store: loxo.Client) -> None:
    tree, commits = _real(store, "ref@master")
    trees = store.pfs.store.trees
    resolve = tree_resolver(trees, lambda leaf: tree)

    def walk(inp: DatumInput) -> Iterator[tuple[str, str]]:
        entry = Entry("", loxo.FileKind.DIR, inp.id, inp.size)
        for path, e in trees.walk(entry, inp.path):
            if not e.is_dir:
                yield path, e.id

    by_path = {d.inputs[0].path: d for d in iter_datums(pfs("in", "/*", repo="ref"), resolve, commits)}
    files = list(datum_files(by_path["/bar"], walk))
    assert [(f.repo, f.commit, f.path) for f in files] == [
        ("ref", commits["in"], "/bar/bar-1"), ("ref", commits["in"], "/bar/bar-2"),
    ]
    assert files[1].id == store.inspect_file("ref@master:/bar/bar-2").hash
    assert list(datum_files(by_path["/foo-1"], walk)) == [
        DatumFile("ref", commits["in"], "/foo-1", digest(b"foo 1"))
    ]


def test_cron_is_one_datum_per_tick_file() -> None:
    ticks = FakeRepos({"p_tick": {"/2024-01-01T00:00:00Z": b"", "/2024-01-01T00:01:00Z": b""}})
    out = datums(CronInput(name="tick", spec="@every 1m", repo="p_tick"), ticks)
    assert paths(out) == [("tick:/2024-01-01T00:00:00Z",), ("tick:/2024-01-01T00:01:00Z",)]
    assert out[0].inputs[0].repo == "p_tick" and out[0].inputs[0].commit == "c-tick"


# -- cross and union ----------------------------------------------------------------
AB = FakeRepos({
    "A": {"/1.txt": b"1", "/2.txt": b"2", "/3.txt": b"3"},
    "B": {"/4.txt": b"4", "/5.txt": b"5", "/6.txt": b"6"},
    "E": {},
})


def test_cross_is_the_product_first_input_outermost() -> None:
    out = datums(CrossInput((pfs("A"), pfs("B"))), AB)
    assert paths(out) == [
        (f"A:/{a}.txt", f"B:/{b}.txt") for a in (1, 2, 3) for b in (4, 5, 6)
    ]
    assert {i.commit for d in out for i in d.inputs} == {"c-A", "c-B"}


def test_cross_of_three_and_nested() -> None:
    three = datums(CrossInput((pfs("A"), pfs("B"), pfs("C", repo="A"))), AB)
    assert len(three) == 27
    assert paths(three)[:2] == [("A:/1.txt", "B:/4.txt", "C:/1.txt"), ("A:/1.txt", "B:/4.txt", "C:/2.txt")]
    nested = datums(CrossInput((pfs("A"), UnionInput((pfs("B"), pfs("C", repo="A"))))), AB)
    assert len(nested) == 3 * 6


def test_cross_with_an_empty_side_is_empty_without_reading_the_first_input() -> None:
    repos = FakeRepos({"A": {"/1.txt": b"1"}, "E": {}})
    assert datums(CrossInput((pfs("A"), pfs("B", repo="E"))), repos) == []
    assert repos.calls == ["B"]
    assert datums(CrossInput((pfs("B", repo="E"), pfs("A"))), repos) == []


def test_union_is_the_concatenation() -> None:
    out = datums(UnionInput((pfs("A"), pfs("B"))), AB)
    assert paths(out) == [(f"A:/{i}.txt",) for i in (1, 2, 3)] + [(f"B:/{i}.txt",) for i in (4, 5, 6)]


def test_union_inputs_sharing_a_name_take_their_own_commits() -> None:
    """Pachyderm's idiom: same name under union. By name the commit would be ambiguous."""
    a, b = pfs("in", repo="A"), pfs("in", repo="B")
    with pytest.raises(InvalidArgument, match="shared"):
        iter_datums(UnionInput((a, b)), AB, {"in": "c1"})
    out = datums(UnionInput((dataclasses.replace(a, commit="cA"), dataclasses.replace(b, commit="cB"))), AB)
    assert [(i.repo, i.commit) for d in out for i in d.inputs] == [("A", "cA")] * 3 + [("B", "cB")] * 3


def test_a_leaf_without_a_commit_is_refused_before_any_datum() -> None:
    with pytest.raises(InvalidArgument, match="'B'"):
        iter_datums(CrossInput((pfs("A"), pfs("B"))), AB, {"A": "c"})


def test_an_input_with_no_commit_yet_contributes_nothing() -> None:
    """Pachyderm: an input whose commit is empty yields no datums; its repo is not read."""
    repos = FakeRepos({"A": {"/1.txt": b"1"}, "B": {"/2.txt": b"2"}})
    assert paths(datums(UnionInput((pfs("A"), pfs("B"))), repos, {"A": "", "B": "c"})) == [("B:/2.txt",)]
    assert repos.calls == ["B"]
    assert datums(CrossInput((pfs("A"), pfs("B"))), repos, {"A": "c", "B": ""}) == []
    outer = JoinInput((
        pfs("A", "/(*).txt", join_on="$1", outer_join=True), pfs("B", "/(*).txt", join_on="$1"),
    ))
    assert paths(datums(outer, repos, {"A": "c", "B": ""})) == [("A:/1.txt",)]


# -- join and group -----------------------------------------------------------------
JOIN = FakeRepos({
    "A": {"/1.txt": b"a1", "/2.txt": b"a2", "/3.txt": b"a3"},
    "B": {"/1.csv": b"b1", "/2.csv": b"b2", "/4.csv": b"b4", "/x.md": b"not matched"},
})


def _join(outer_a: bool = False, outer_b: bool = False) -> JoinInput:
    return JoinInput((
        pfs("A", "/(*).txt", join_on="$1", outer_join=outer_a),
        pfs("B", "/(*).csv", join_on="$1", outer_join=outer_b),
    ))


def test_inner_join_on_a_capture() -> None:
    out = datums(_join(), JOIN)
    assert paths(out) == [("A:/1.txt", "B:/1.csv"), ("A:/2.txt", "B:/2.csv")]
    assert [(i.join_on, i.commit) for i in out[0].inputs] == [("1", "c-A"), ("1", "c-B")]


@pytest.mark.parametrize(
    ("outer_a", "outer_b", "extra"),
    [
        (True, False, [("A:/3.txt",)]),
        (False, True, [("B:/4.csv",)]),
        (True, True, [("A:/3.txt",), ("B:/4.csv",)]),
    ],
)
def test_outer_join_adds_unmatched_matches_alone(
    outer_a: bool, outer_b: bool, extra: list[tuple[str, ...]]
) -> None:
    out = datums(_join(outer_a, outer_b), JOIN)
    assert paths(out) == [("A:/1.txt", "B:/1.csv"), ("A:/2.txt", "B:/2.csv"), *extra]  # key order


def test_join_crosses_several_matches_of_one_key() -> None:
    repos = FakeRepos({
        "A": {"/k1-a.txt": b"", "/k1-b.txt": b"", "/k2-a.txt": b""},
        "B": {"/k1-x.csv": b"", "/k1-y.csv": b"", "/k3-x.csv": b""},
    })
    node = JoinInput((pfs("A", "/(*)-*.txt", join_on="$1"), pfs("B", "/(*)-*.csv", join_on="$1")))
    assert paths(datums(node, repos)) == [
        ("A:/k1-a.txt", "B:/k1-x.csv"), ("A:/k1-a.txt", "B:/k1-y.csv"),
        ("A:/k1-b.txt", "B:/k1-x.csv"), ("A:/k1-b.txt", "B:/k1-y.csv"),
    ]


def test_three_way_outer_join_keeps_the_outer_inputs_that_have_the_key() -> None:
    """Pachyderm 2.x: a key missing from some input yields the cross of the outer inputs
    that have it (so A and B together here, without C)."""
    repos = FakeRepos({"A": {"/1": b"", "/2": b""}, "B": {"/1": b"", "/2": b""}, "C": {"/1": b""}})
    node = JoinInput((
        pfs("A", "/(*)", join_on="$1", outer_join=True),
        pfs("B", "/(*)", join_on="$1", outer_join=True),
        pfs("C", "/(*)", join_on="$1"),
    ))
    assert paths(datums(node, repos)) == [("A:/1", "B:/1", "C:/1"), ("A:/2", "B:/2")]


def test_join_and_group_order_by_key_not_by_path() -> None:
    repos = FakeRepos({"A": {"/a-2": b"", "/b-1": b""}, "B": {"/x-1": b"", "/y-2": b""}})
    node = JoinInput((pfs("A", "/*-(*)", join_on="$1"), pfs("B", "/*-(*)", join_on="$1")))
    assert paths(datums(node, repos)) == [("A:/b-1", "B:/x-1"), ("A:/a-2", "B:/y-2")]


def test_rows_of_one_key_keep_the_trees_path_order() -> None:
    """Tree order is by component ('a' before 'a-b'), not by whole string ('/' > '-')."""
    repos = FakeRepos({"A": {"/k/a-b/x": b"", "/k/a/x": b""}})
    (d,) = datums(GroupInput((pfs("A", "/(*)/*/x", group_by="$1"),)), repos)
    assert [i.path for i in d.inputs] == ["/k/a/x", "/k/a-b/x"]


def test_join_key_from_two_captures() -> None:
    repos = FakeRepos({"A": {"/2024/x.txt": b"", "/2025/x.txt": b""}, "B": {"/x-2024.csv": b""}})
    node = JoinInput((pfs("A", "/(*)/(*).txt", join_on="$2$1"), pfs("B", "/(*)-(*).csv", join_on="$1$2")))
    out = datums(node, repos)
    assert paths(out) == [("A:/2024/x.txt", "B:/x-2024.csv")]
    assert out[0].inputs[0].join_on == "x2024"


def test_group_is_one_datum_per_key_with_every_match_of_every_input() -> None:
    repos = FakeRepos({
        "A": {"/s1-jan.txt": b"", "/s1-feb.txt": b"", "/s2-jan.txt": b""},
        "B": {"/s1.csv": b"", "/s3.csv": b""},
    })
    node = GroupInput((pfs("A", "/(*)-*.txt", group_by="$1"), pfs("B", "/(*).csv", group_by="$1")))
    out = datums(node, repos)
    assert paths(out) == [
        ("A:/s1-feb.txt", "A:/s1-jan.txt", "B:/s1.csv"),
        ("A:/s2-jan.txt",),
        ("B:/s3.csv",),
    ]
    assert {i.group_by for i in out[0].inputs} == {"s1"}
    assert all(i.join_on is None for d in out for i in d.inputs)


def _brute_join(tables: list[list[tuple[str, str]]], outer: list[bool]) -> list[tuple[tuple[int, str], ...]]:
    """Pachyderm's definition, written the slow way: per key, the cross of every input's
    matches if all have it, else of the outer inputs that have it."""
    out = []
    for key in sorted({k for t in tables for k, _ in t}):
        having = [[(i, p) for k, p in t if k == key] for i, t in enumerate(tables)]
        chosen = having if all(having) else [h for i, h in enumerate(having) if h and outer[i]]
        if chosen:
            out.extend(product(*chosen))
    return out


names = st.lists(st.sampled_from(["a", "b", "c", "d"]), max_size=3, unique=True)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.lists(st.tuples(st.sampled_from("xyz"), st.sampled_from("pqr")),
                                   max_size=5, unique=True), st.booleans()),
                min_size=1, max_size=3))
def test_join_and_group_match_their_definitions(spec: list[tuple[list[tuple[str, str]], bool]]) -> None:
    """Files are named '<key>_<tag>'; join and group on the key."""
    repos = {f"R{i}": {f"/{k}_{t}": b"" for k, t in files} for i, (files, _) in enumerate(spec)}
    fake = FakeRepos(repos)
    tables = [[(p.split("_")[0][1:], p) for p in sorted(r)] for r in repos.values()]
    outer = [o for _, o in spec]
    leaves = [
        pfs(f"R{i}", "/(*)_*", join_on="$1", group_by="$1", outer_join=o) for i, (_, o) in enumerate(spec)
    ]
    commits = {f"R{i}": "c" for i in range(len(spec))}
    joined = list(iter_datums(JoinInput(tuple(leaves)), fake, commits))
    assert [tuple((int(i.name[1:]), i.path) for i in d.inputs) for d in joined] == _brute_join(tables, outer)
    grouped = list(iter_datums(GroupInput(tuple(leaves)), fake, commits))
    keys = sorted({k for t in tables for k, _ in t})
    assert [[i.path for i in d.inputs] for d in grouped] == [
        [p for t in tables for k, p in t if k == key] for key in keys
    ]


# -- determinism and identity -------------------------------------------------------
def test_same_inputs_same_datums_in_the_same_order() -> None:
    node = UnionInput((CrossInput((pfs("A"), pfs("B"))), _join(True, True)))
    repos = {"A": {"/1.txt": b"1", "/2.txt": b"2", "/3.txt": b"3"}, "B": {"/1.csv": b"b", "/4.txt": b"4"}}
    first = datums(node, FakeRepos(repos))
    second = datums(node, FakeRepos(dict(reversed(list(repos.items())))))
    assert first == second
    assert [datum_id(d) for d in first] == [datum_id(d) for d in second]


def _one(name: str, path: str, content: bytes, repo: str = "r", commit: str = "c1") -> Datum:
    return Datum((DatumInput(name, repo, commit, path, digest(content), len(content), False),))


def test_datum_id_is_stable_across_content_changes_and_datum_hash_is_not() -> None:
    old, new = _one("in", "/a", b"old"), _one("in", "/a", b"new", commit="c2")
    assert datum_id(old) == datum_id(new)
    assert len(datum_id(old)) == 64 and int(datum_id(old), 16) >= 0
    assert datum_hash(old, "s") != datum_hash(new, "s")
    assert datum_hash(old, "s").startswith("blake3:")


def test_datum_hash_is_unchanged_for_unchanged_content_and_changed_by_salt() -> None:
    a, b = _one("in", "/a", b"x", commit="c1"), _one("in", "/a", b"x", commit="c9")
    assert datum_hash(a, "s") == datum_hash(b, "s")  # another commit, same content: skipped
    assert datum_hash(a, "s") != datum_hash(a, "t")


@pytest.mark.parametrize(
    "other",
    [_one("in2", "/a", b"x"), _one("in", "/b", b"x"), _one("in", "/a", b"x", repo="r2")],
)
def test_datum_id_and_hash_depend_on_name_path_and_repo(other: Datum) -> None:
    base = _one("in", "/a", b"x")
    assert datum_id(other) != datum_id(base)
    assert datum_hash(other, "s") != datum_hash(base, "s")


def test_identity_ignores_the_order_of_a_datums_inputs() -> None:
    x, y = _one("A", "/1", b"1").inputs[0], _one("B", "/2", b"2").inputs[0]
    assert datum_id(Datum((x, y))) == datum_id(Datum((y, x)))
    assert datum_hash(Datum((x, y)), "s") == datum_hash(Datum((y, x)), "s")
    assert datum_id(Datum((x, y))) != datum_id(Datum((x,)))


def test_skip_check_costs_microseconds() -> None:
    """Skipping = datum_hash + a set lookup. Measured on the development machine (2 shared
    CPUs, Python 3.11, timeit best of 7): 2.5 us per one-input datum when idle, 5.7 us
    under load; 6.4 us for a two-input datum; datum_id 2.5-4 us; the BLAKE3 call alone
    is ~1.8 us. Printed with -s; no timed assertion."""
    data = [_one("in", f"/{i}", str(i).encode()) for i in range(20_000)]
    done = {datum_hash(d, "salt") for d in data[::2]}
    start = time.perf_counter()
    skipped = sum(datum_hash(d, "salt") in done for d in data)
    per = (time.perf_counter() - start) / len(data) * 1e6
    print(f"skip check: {per:.2f} us per datum")
    assert skipped == 10_000


# -- what user code sees ------------------------------------------------------------
def test_env_for_root_and_star_globs() -> None:
    (root,) = datums(pfs("in", "/", repo="ref"), FakeRepos({"ref": REF}))
    env = datum_env(root, "job1", "out1")
    assert env["in"] == "/pfs/in"
    assert env["in_COMMIT"] == "c-in"
    for prefix in ("PACH_", "LOXO_"):
        assert env[prefix + "JOB_ID"] == "job1"
        assert env[prefix + "OUTPUT_COMMIT_ID"] == "out1"
        assert env[prefix + "DATUM_ID"] == datum_id(root)
    assert not any("JOIN_ON" in k or "GROUP_BY" in k for k in env)

    star = datums(pfs("in", "/*", repo="ref"), FakeRepos({"ref": REF}))
    assert [datum_env(d, "j", "o")["in"] for d in star] == ["/pfs/in/bar", "/pfs/in/foo-1", "/pfs/in/foo-2"]
    assert datum_env(star[0], "j", "o", root="/tmp/x/")["in"] == "/tmp/x/in/bar"
    assert "PACH_JOB_ID" not in datum_env(star[0], "", "")


def test_env_for_cross_join_and_group() -> None:
    (first, *_) = datums(CrossInput((pfs("A"), pfs("B"))), AB)
    env = datum_env(first, "j", "o")
    assert (env["A"], env["B"]) == ("/pfs/A/1.txt", "/pfs/B/4.txt")
    assert (env["A_COMMIT"], env["B_COMMIT"]) == ("c-A", "c-B")

    joined = datums(_join(), JOIN)[1]
    env = datum_env(joined, "j", "o")
    assert env["PACH_DATUM_A_JOIN_ON"] == env["LOXO_DATUM_A_JOIN_ON"] == "2"
    assert env["PACH_DATUM_B_JOIN_ON"] == "2"
    assert (env["A"], env["B"]) == ("/pfs/A/2.txt", "/pfs/B/2.csv")

    repos = FakeRepos({"A": {"/k-1": b"", "/k-2": b""}})
    (grouped,) = datums(GroupInput((pfs("A", "/(*)-*", group_by="$1"),)), repos)
    env = datum_env(grouped, "j", "o")
    assert env["PACH_DATUM_A_GROUP_BY"] == env["LOXO_DATUM_A_GROUP_BY"] == "k"
    assert env["A"] == "/pfs/A/k-2"  # several elements of one input: the last one's, as Pachyderm
    assert "PACH_DATUM_A_JOIN_ON" not in env


def test_join_on_of_a_plain_input_is_still_exposed() -> None:
    """Pachyderm computes join_on for any pfs input that has one, joined or not."""
    (d,) = datums(pfs("A", "/(*).txt", join_on="key-$1"), FakeRepos({"A": {"/7.txt": b""}}))
    assert d.inputs[0].join_on == "key-7"
    assert datum_env(d, "j", "o")["PACH_DATUM_A_JOIN_ON"] == "key-7"
    assert expand_template("key-$1", ("7",)) == "key-7"


# -- memory -------------------------------------------------------------------------
N = 1_000_000
_ID = "blake3:" + "1" * 64


def _many(leaf: PfsInput) -> Iterator[Match]:
    """``N`` matches made on the fly (repo ``one``: a single match)."""
    if leaf.repo == "one":
        yield Match("/only", _ID, 1, False)
        return
    for i in range(N if leaf.repo == "big" else 50_000):
        yield Match(f"/d/{i:07d}", _ID, i, False)


BIG = [pfs("big", "/d/*"), CrossInput((pfs("big", "/d/*"), pfs("small", "/*", repo="one")))]
SOME = [
    pfs("big", "/d/*", repo="some"),
    CrossInput((pfs("big", "/d/*", repo="some"), pfs("small", repo="one"))),
]
COMMITS_BIG = {"big": "c", "small": "c"}


def _rss() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * 4096


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="needs Linux /proc")
@pytest.mark.parametrize("node", BIG, ids=["pfs", "cross"])
def test_a_million_matches_stream_in_bounded_memory(node: Input) -> None:
    """Resident memory sampled every 100,000 datums. Measured: no growth (0.0 MB) for
    either, about 3 s each here; a list of the million datums takes about 310 MB.
    (tracemalloc says the same, peak ~0.003 MB, but takes 20 s per case.)"""
    before = _rss()
    grown = count = 0
    for count, _ in enumerate(iter_datums(node, _many, COMMITS_BIG), 1):
        if count % 100_000 == 0:
            grown = max(grown, _rss() - before)
    assert count == N
    assert grown < 50 << 20, f"resident memory grew {grown / 2**20:.1f} MB"


@pytest.mark.parametrize("node", SOME, ids=["pfs", "cross"])
def test_datums_are_not_accumulated(node: Input) -> None:
    """The fast twin of the test above: 50,000 matches, tracemalloc peak (measured
    ~0.003 MB; a list of the 50,000 datums is ~15 MB)."""
    tracemalloc.start()
    try:
        count = sum(1 for _ in iter_datums(node, _many, COMMITS_BIG))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert count == 50_000
    assert peak < 2 << 20, f"peak {peak / 2**20:.2f} MB"
