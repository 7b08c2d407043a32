"""Big directories are stored in shards: equal content has one id whatever the edits
that made it, every read gives what an unsharded directory gives, and a change reads and
writes in proportion to itself (a shard or two), not to the directory."""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

import orjson
import pytest

import loxo
from loxo.errors import PathConflict
from loxo.meta import schema
from loxo.model.refs import FileKind
from loxo.pfs.dirblobs import (
    SHARD_ABOVE,
    SHARD_MAX,
    DirIndex,
    Shard,
    cut_shards,
    dir_id,
    encode_dir,
    encode_index,
    index_id,
    read_dir,
    read_node,
)
from loxo.pfs.glob import compile_glob
from loxo.pfs.tree import Change, Dir, Entry, TreeReader, apply_changes
from loxo.storage import content
from loxo.storage.blobs import BlobReader, BlobWriter, MemoryBlobIndex, Part
from loxo.storage.objects import MemoryObjectStore

Path_ = tuple[str, ...]


class Trees:
    """A tree layer over in-memory blobs, with counters of blob reads and writes."""

    def __init__(self) -> None:
        self.objects = MemoryObjectStore()
        self.index = MemoryBlobIndex()
        self.blobs = _CountingReader(self.objects, self.index)
        self.reader = TreeReader(self.blobs)

    def cold(self) -> TreeReader:
        return TreeReader(self.blobs)

    def writer(self) -> _CountingWriter:
        return _CountingWriter(self.objects, self.index)

    def apply(
        self, tree: str | None, changes: Sequence[Change], reader: TreeReader | None = None
    ) -> str | None:
        writer = self.writer()
        new, _ = apply_changes(reader or self.reader, tree, changes, writer)
        writer.flush()
        return new

    def build(self, files: dict[Path_, Entry]) -> str | None:
        """A tree holding exactly ``files``, written from nothing in one go."""
        return self.apply(None, [Change(p, "put", e) for p, e in sorted(files.items())], self.cold())


class _CountingReader(BlobReader):
    reads = 0

    def read(self, blob_id: str, *, verify: bool = True) -> bytes:
        self.reads += 1
        return super().read(blob_id, verify=verify)


class _CountingWriter(BlobWriter):
    added = 0

    def add(self, data: bytes | memoryview, *, indexed: bool = False, blob_id: str | None = None) -> str:
        self.added += 1
        return super().add(data, indexed=indexed, blob_id=blob_id)


@pytest.fixture
def trees() -> Trees:
    return Trees()


def fentry(name: str, version: str = "") -> Entry:
    cid = content.digest(f"{name}:{version}".encode())
    return Entry(name, FileKind.FILE, cid, len(name) + len(version), (Part(cid, "packs/p", 0, 8, 8, 0),))


def flat_files(n: int, prefix: str = "f-") -> dict[Path_, Entry]:
    return {("d", f"{prefix}{i:05d}"): fentry(f"{prefix}{i:05d}") for i in range(n)}


def listing(reader: TreeReader, tree: str | None) -> dict[Path_, Entry]:
    """Every file of a tree, by path, read the slow way (``walk`` assembles whole dirs)."""
    root = reader.lookup(tree, ())
    if root is None:
        return {}
    return {tuple(p.split("/")[1:]): e for p, e in reader.walk(root, "/") if not e.is_dir}


def _shape(e: Entry | None) -> tuple[object, ...] | None:
    """What must agree between a sharded tree and its unsharded reference: a file whole,
    a directory by kind and size (a big one's id differs: that is the point)."""
    if e is None:
        return None
    return (e.name, e.kind, e.size) if e.is_dir else tuple(e)


def write_unsharded(layer: Trees, files: dict[Path_, Entry]) -> str | None:
    """The tree of ``files`` with every directory one format-1 blob, however big: the
    reference for reads, written without the code under test."""
    writer = layer.writer()

    def store(level: dict[Path_, Entry], depth: int) -> Entry:
        entries: Dir = {}
        below: dict[str, dict[Path_, Entry]] = {}
        for p, e in level.items():
            if len(p) == depth + 1:
                entries[p[depth]] = e
            else:
                below.setdefault(p[depth], {})[p] = e
        for name, sub in below.items():
            entries[name] = store(sub, depth + 1)._replace(name=name)
        writer.add(encode_dir(entries), indexed=True, blob_id=dir_id(entries))
        return Entry("", FileKind.DIR, dir_id(entries), sum(e.size for e in entries.values()))

    tree = store(files, 0).id if files else None
    writer.flush()
    return tree


def applied(files: dict[Path_, Entry], changes: Sequence[Change]) -> dict[Path_, Entry]:
    """``changes`` (puts of files and deletes) applied to a dict of files."""
    out = dict(files)
    for ch in changes:
        for p in [p for p in out if p[: len(ch.parts)] == ch.parts]:
            del out[p]
        if ch.op == "put":
            assert ch.entry is not None
            out[ch.parts] = ch.entry
    return out


# -- identity ----------------------------------------------------------------------------
def test_equal_content_has_equal_ids_whatever_the_edit_history(trees: Trees) -> None:
    files = flat_files(10_000)
    at_once = trees.build(files)
    d = trees.reader.lookup(at_once, ("d",))
    assert d is not None
    assert isinstance(read_node(trees.blobs, d.id), DirIndex)

    rng = random.Random(7)
    order = list(files.items())
    rng.shuffle(order)
    in_batches: str | None = None
    for i in range(0, len(order), 700):  # many commits, names in random order
        in_batches = trees.apply(in_batches, [Change(p, "put", e) for p, e in order[i : i + 700]])
    assert in_batches == at_once

    extra = {("d", f"x-{i}"): fentry(f"x-{i}") for i in range(3000)}
    grown = trees.build(files | extra)
    by_deleting = trees.apply(grown, [Change(p, "delete") for p in rng.sample(sorted(extra), len(extra))])
    assert by_deleting == at_once

    # edited in place and back again, one name at a time, each at the front, middle and end
    tree = at_once
    for path in [("d", "a-first"), ("d", "f-05000"), ("d", "z-last")]:
        tree = trees.apply(tree, [Change(path, "put", fentry(path[-1], "v2"))])
        assert tree != at_once
    tree = trees.apply(tree, [Change(("d", "a-first"), "delete"), Change(("d", "z-last"), "delete")])
    tree = trees.apply(tree, [Change(("d", "f-05000"), "put", files["d", "f-05000"])])
    assert tree == at_once


def test_small_directories_keep_their_format_and_id(trees: Trees) -> None:
    files = flat_files(SHARD_ABOVE)
    tree = trees.build(files)
    d = trees.reader.lookup(tree, ("d",))
    assert d is not None
    node = read_node(trees.blobs, d.id)
    assert isinstance(node, dict)
    # the id as it has always been computed: stores written before sharding keep theirs
    rows = [[n, "file", e.id, e.size] for n, e in sorted(node.items())]
    assert d.id == content.digest(orjson.dumps(["loxo:dir:1", rows]))
    grown = trees.apply(tree, [Change(("d", "g"), "put", fentry("g"))])
    g = trees.reader.lookup(grown, ("d",))
    assert g is not None
    assert isinstance(read_node(trees.blobs, g.id), DirIndex)
    assert trees.apply(grown, [Change(("d", "g"), "delete")]) == tree  # and back to one blob


def test_shards_follow_the_cut_rule() -> None:
    entries = [fentry(f"n{i:06d}") for i in range(20_000)]
    runs = cut_shards(entries)
    assert [e for run in runs for e in run] == entries
    assert all(len(run) <= SHARD_MAX for run in runs)
    assert 20 < len(runs) < 200  # ~320 entries a shard


# -- reading -----------------------------------------------------------------------------
def test_sharded_directory_round_trips(trees: Trees) -> None:
    files = flat_files(12_000) | {("d", "sub", "x"): fentry("x")}
    tree = trees.build(files)
    d = trees.reader.lookup(tree, ("d",))
    assert d is not None
    expected: Dir = {p[1]: e for p, e in files.items() if len(p) == 2}
    for reader in (trees.reader, trees.cold()):
        loaded = reader.load(d.id)
        assert {n: e for n, e in loaded.items() if not e.is_dir} == expected
        assert loaded["sub"].is_dir
        assert [e.name for e in reader.children(d)] == sorted(loaded)
    assert read_dir(trees.blobs, d.id) == trees.cold().load(d.id)
    assert listing(trees.cold(), tree) == files
    # files(): what landing reads a datum's outputs with: walk's files, in its order
    assert tree is not None
    root = trees.cold().lookup(tree, ())
    assert root is not None
    walked = [(p, e) for p, e in trees.cold().walk(root, "/") if not e.is_dir]
    assert list(trees.cold().files(tree)) == walked and len(walked) == len(files)
    assert d.size == sum(e.size for e in files.values())
    assert trees.cold().size_of(tree) == d.size


def test_old_format_huge_directory_is_still_read_and_edited(trees: Trees) -> None:
    """A store written before sharding may hold a big directory as one blob."""
    files = flat_files(5000)
    entries = {p[1]: e for p, e in files.items()}
    writer = trees.writer()
    old_id = dir_id(entries)
    writer.add(encode_dir(entries), indexed=True, blob_id=old_id)
    size = sum(e.size for e in entries.values())
    tree = trees.apply(None, [Change(("d",), "put", Entry("d", FileKind.DIR, old_id, size))], trees.cold())
    writer.flush()
    reader = trees.cold()
    assert reader.lookup(tree, ("d", "f-00042")) == entries["f-00042"]
    assert reader.load(old_id) == entries

    canonical = trees.build(files)
    assert canonical != tree  # the same content in the new format has the new id...
    assert list(reader.glob_diff(canonical, tree, compile_glob("/d/*"))) == []  # ...and no differences
    edited = trees.apply(tree, [Change(("d", "f-00001"), "delete")], reader)
    assert edited == trees.build({p: e for p, e in files.items() if p != ("d", "f-00001")})


def test_lookup_glob_diff_and_diff_match_the_unsharded_reference(trees: Trees) -> None:
    rng = random.Random(3)
    files = flat_files(8000) | {("d", "sub", f"s{i}"): fentry(f"s{i}") for i in range(50)}
    files |= {("e", f"g{i}"): fentry(f"g{i}") for i in range(1500)}
    changes = [Change(p, "put", fentry(p[-1], "v2")) for p in rng.sample(sorted(files), 40)]
    changes += [Change(p, "delete") for p in rng.sample(sorted(files), 40)]
    changes += [Change(("d", name), "put", fentry(name)) for name in ("a", "f-01234x", "zz", "sub2")]
    changes += [Change(("d", "sub"), "delete"), Change(("e", "sub", "deep"), "put", fentry("deep"))]
    changes.sort(key=lambda c: c.parts)
    s_old = trees.build(files)
    s_new = trees.apply(s_old, changes)
    unsharded = Trees()
    u_old, u_new = write_unsharded(unsharded, files), write_unsharded(unsharded, applied(files, changes))
    s_reader, u_reader = trees.cold(), unsharded.cold()
    assert listing(s_reader, s_new) == listing(u_reader, u_new)

    probes = [("d", "f-00000"), ("d", "f-07999"), ("d", "a"), ("d", "0"), ("d", "zzz"), ("d", "sub", "s1"),
              ("e", "sub", "deep"), ("d", "f-03000", "below-a-file"), ("d",), ()]
    probes += [p for p in rng.sample(sorted(files), 200)]
    for p in probes:
        for s_tree, u_tree in ((s_old, u_old), (s_new, u_new)):
            assert _shape(s_reader.lookup(s_tree, p)) == _shape(u_reader.lookup(u_tree, p)), p

    for pattern in ("/", "/*", "/d/*", "/d/f-00*", "/*/*", "/**", "/d/**", "/e/*/*"):
        glob = compile_glob(pattern)
        got = [(p, _shape(n), _shape(o)) for p, n, o in s_reader.glob_diff(s_new, s_old, glob)]
        want = [(p, _shape(n), _shape(o)) for p, n, o in u_reader.glob_diff(u_new, u_old, glob)]
        assert got == want, pattern
        assert [(p, _shape(e)) for p, e in s_reader.glob(s_new, glob)] == [
            (p, _shape(e)) for p, e in u_reader.glob(u_new, glob)], pattern

    for path in [(), ("d",), ("e",)]:
        diffs = [
            [(p, _shape(n), _shape(o)) for p, n, o in r.diff(r.lookup(new, path), r.lookup(old, path), "/x")]
            for r, new, old in ((s_reader, s_new, s_old), (u_reader, u_new, u_old))
        ]
        assert diffs[0] == diffs[1]
        assert diffs[0]


# -- changing ----------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(4))
def test_random_changes_give_what_a_dict_gives(trees: Trees, seed: int) -> None:
    """Batches of puts, overwrites and deletes, growing past the shard threshold and
    shrinking under it: the tree always lists what a dict lists, and has the id that the
    same files written from nothing have."""
    rng = random.Random(seed)
    model: dict[Path_, Entry] = {}
    tree: str | None = None
    words = ["a", "b", "f", "m", "q", "z", "0", "~"]
    for step in range(25):
        batch: dict[Path_, Change] = {}
        grow = step < 12 or step % 5 == 0
        for _ in range(rng.choice([1, 3, 40, 700]) if grow else rng.choice([1, 50, 900])):
            if model and (not grow or rng.random() < 0.3):
                path = rng.choice(list(model))
                if rng.random() < 0.7 or not grow:
                    batch[path] = Change(path, "delete")
                else:
                    batch[path] = Change(path, "put", fentry(path[-1], f"v{step}"))
            else:
                name = f"{rng.choice(words)}{rng.randrange(10**6)}"
                path = ("d", "sub", name) if rng.random() < 0.02 else ("d", name)
                batch[path] = Change(path, "put", fentry(name))
        for path, ch in batch.items():
            if ch.op == "delete":
                model.pop(path, None)
            else:
                assert ch.entry is not None
                model[path] = ch.entry
        reader = trees.reader if step % 2 else trees.cold()
        tree = trees.apply(tree, sorted(batch.values(), key=lambda c: c.parts), reader)
        assert listing(trees.cold(), tree) == model, step
        assert tree == trees.build(model), step
    # then across the threshold both ways in single batches
    keep = set(rng.sample(sorted(model), min(100, len(model))))
    shrink = [Change(p, "delete") for p in sorted(model) if p not in keep]
    regrow = [Change(("d", f"n{i}"), "put", fentry(f"n{i}")) for i in range(2 * SHARD_ABOVE)]
    for last in (shrink, regrow):
        model = applied(model, last)
        tree = trees.apply(tree, last)
        assert listing(trees.cold(), tree) == model
        assert tree == trees.build(model)


def test_dry_run_on_a_sharded_directory_finds_conflicts(trees: Trees) -> None:
    tree = trees.build(flat_files(5000))
    with pytest.raises(PathConflict):
        apply_changes(trees.reader, tree, [Change(("d", "f-00010", "x"), "put", fentry("x"))], None)
    new, size = apply_changes(trees.reader, tree, [Change(("d", "f-00010"), "delete")], None)
    assert new is not None
    assert size == trees.reader.size_of(tree) - fentry("f-00010").size


def test_work_is_proportional_to_the_change(trees: Trees) -> None:
    files = flat_files(30_000)
    old = trees.build(files)
    path = ("d", "f-15000")
    writer = trees.writer()
    before = trees.blobs.reads
    new, _ = apply_changes(trees.cold(), old, [Change(path, "put", fentry("f-15000", "v2"))], writer)
    writer.flush()
    assert trees.blobs.reads - before <= 5  # root, index, a shard (maybe its neighbour)
    assert writer.added <= 4  # root, index, a shard or two

    before = trees.blobs.reads
    reader = trees.cold()
    assert reader.lookup(new, path) == fentry("f-15000", "v2")
    assert trees.blobs.reads - before == 3  # root, index, shard

    before = trees.blobs.reads
    found = list(trees.cold().glob_diff(new, old, compile_glob("/d/*")))
    assert [p for p, _, _ in found] == ["/d/f-15000"]
    assert trees.blobs.reads - before <= 8  # per side: root, index, the differing shard(s)


# -- fsck and the client -----------------------------------------------------------------
def _shard_ids(client: loxo.Client, repo: str) -> list[str]:
    node = read_node(client.pfs.store.blobs, client.inspect_file(f"{repo}@master:/d").hash)
    assert isinstance(node, DirIndex)
    return [s.id for s in node.shards]


@pytest.mark.embedded_only
def test_fsck_reports_a_missing_shard(client: loxo.Client, repo: str) -> None:
    client.put_files(f"{repo}@master", [loxo.Source(f"/d/{i}", data=b"%d" % i) for i in range(3000)])
    assert client.fsck() == []
    victim = _shard_ids(client, repo)[1]
    with client.pfs.store.db.write() as conn:
        conn.execute(schema.blobs.delete().where(schema.blobs.c.id == victim))
    errors = [p for p in client.fsck() if p.severity == "error"]
    assert any(victim in p.problem and "/d" in p.where for p in errors), errors


@pytest.mark.embedded_only
def test_fsck_reports_a_corrupt_shard(client: loxo.Client, repo: str, home: Path) -> None:
    client.put_files(f"{repo}@master", [loxo.Source(f"/d/{i}", data=b"%d" % i) for i in range(3000)])
    victim = _shard_ids(client, repo)[0]
    part = client.pfs.store.index.lookup([victim])[victim]
    obj = home / "objects" / part.key
    data = bytearray(obj.read_bytes())
    data[part.offset + part.length // 2] ^= 0x40
    obj.write_bytes(bytes(data))
    errors = [p for p in client.fsck() if p.severity == "error"]
    assert any(victim in p.problem for p in errors), errors


def test_client_put_change_get_list_diff_on_a_big_directory(client: loxo.Client, repo: str) -> None:
    n = 20_000
    client.put_files(f"{repo}@master", [loxo.Source(f"/big/f{i:05d}", data=b"%d" % i) for i in range(n)])
    client.put_file(f"{repo}@master:/big/f12345", b"changed")
    assert client.get_file(f"{repo}@master:/big/f12345") == b"changed"
    assert client.get_file(f"{repo}@master:/big/f00007") == b"7"
    listed = client.list_file(f"{repo}@master:/big")
    assert len(listed) == n
    assert [f.path for f in listed[:2]] == ["/big/f00000", "/big/f00001"]
    assert client.inspect_file(f"{repo}@master:/big").size_bytes == sum(f.size_bytes for f in listed)
    diff = client.diff_file(f"{repo}@master:/")
    assert [(n.path if n else None, o.path if o else None) for n, o in diff] == [
        ("/big/f12345", "/big/f12345")]
    client.delete_file(f"{repo}@master:/big/f00000")
    assert [f.path for f in client.glob_file(f"{repo}@master:/big/f0000*")] == [
        f"/big/f0000{i}" for i in range(1, 10)]


@pytest.mark.embedded_only
@pytest.mark.parametrize("flaw", ["cut", "row"])
def test_fsck_reports_an_inconsistent_index(client: loxo.Client, repo: str, flaw: str) -> None:
    """An index whose shards are not where the rule cuts (equal content could then have
    two ids), or whose rows disagree with its shards, is reported."""
    client.put_files(f"{repo}@master", [loxo.Source(f"/d/{i:04d}", data=b"%d" % i) for i in range(2000)])
    store = client.pfs.store
    info = client.inspect_commit(f"{repo}@master")
    entries = store.trees.load(client.inspect_file(f"{repo}@master:/d").hash)
    names = sorted(entries)
    halves = [names[:1000], names[1000:]] if flaw == "cut" else [names]
    writer = store.writer()
    shards = []
    for half in halves:
        run = {n: entries[n] for n in half}
        writer.add(encode_dir(run), indexed=True, blob_id=dir_id(run))
        length = len(run) + (1 if flaw == "row" else 0)
        shards.append(Shard(half[0], dir_id(run), length, sum(e.size for e in run.values())))
    writer.add(encode_index(shards), indexed=True, blob_id=index_id(shards))
    root = {"d": Entry("d", FileKind.DIR, index_id(shards), info.size_bytes)}
    writer.add(encode_dir(root), indexed=True, blob_id=dir_id(root))
    writer.flush()
    with store.db.write() as conn:
        conn.execute(schema.commits.update().where(schema.commits.c.id == info.id).values(tree=dir_id(root)))
    errors = [p.problem for p in client.fsck() if p.severity == "error"]
    expected = "not cut by the shard rule" if flaw == "cut" else "does not match its index row"
    assert any(expected in p for p in errors), errors
