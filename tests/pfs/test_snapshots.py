"""Datum outputs stored as trees (``DirectoryTrees``): the tree of a directory is the
one ``apply_changes`` makes of its files, whichever way it is built, and every file
reads back as written."""

from __future__ import annotations

from pathlib import Path

import loxo
from loxo.pfs.snapshots import DirectoryTrees
from loxo.pfs.store import StoreLocation
from loxo.pfs.tree import Change, apply_changes


def _write(root: Path, files: dict[str, bytes]) -> str:
    root.mkdir()
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return str(root)


def test_trees_match_apply_changes_flat_nested_and_empty(home: Path, tmp_path: Path) -> None:
    loxo.Client(home)  # makes the store
    store = StoreLocation.embedded(home).open()
    outputs = [
        {"a.txt": b"one\n", "b.txt": b"two\n"},  # files only: the short path
        {"x/y.txt": b"deep\n", "z.txt": b""},  # a subdirectory: apply_changes itself
        {},  # wrote nothing
        {f"f{i:04d}": str(i).encode() for i in range(1100)},  # more than one blob holds
    ]
    trees = DirectoryTrees(store, batch=2)  # builds after every second directory, and at the end
    for n, files in enumerate(outputs):
        trees.add(_write(tmp_path / str(n), files))
    built = trees.finish()
    store.index.add([p for b in built for p in b.parts])
    for files, b in zip(outputs, built, strict=True):
        assert b.size == sum(len(d) for d in files.values())
        if not files:
            assert b.tree is None
            continue
        writer = store.writer()
        changes = []
        for rel, data in files.items():
            content = writer.add_bytes(data)
            writer.flush()
            entry = store.trees.lookup(b.tree, rel.split("/"))
            assert entry is not None and entry.id == content.id and entry.size == len(data)
            assert b"".join(store.blobs.read_parts(entry.parts)) == data
            changes.append(Change(tuple(rel.split("/")), "put", entry))
        general, _ = apply_changes(store.trees, None, changes, store.writer())
        assert b.tree == general
    store.close()


def test_a_tree_stored_already_comes_back_with_its_stored_node(home: Path, tmp_path: Path) -> None:
    """Outputs equal to a stored tree write no file again, yet their node is returned
    with the stored files' locations: whoever records the tree (landing) reads nothing."""
    loxo.Client(home)
    store = StoreLocation.embedded(home).open()
    files = {"a.txt": b"one\n", "b.txt": b"two\n"}
    first = DirectoryTrees(store)
    first.add(_write(tmp_path / "first", files))
    (stored,) = first.finish()
    store.index.add(list(stored.parts))
    again = DirectoryTrees(store)
    again.add(_write(tmp_path / "again", files))
    (built,) = again.finish()
    assert built.tree == stored.tree and built.parts == ()  # nothing new to index
    assert again.files.bytes_written == 0  # the files were not stored twice
    node = built.nodes[stored.tree]
    assert isinstance(node, dict) and sorted(node) == ["a.txt", "b.txt"]
    for name, data in files.items():
        assert b"".join(store.blobs.read_parts(node[name].parts)) == data
    store.close()
