"""Local directories in and out of file trees, without commits (datum inputs/outputs)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from loxo.errors import SourceError
from loxo.model.address import normalize_path, split_path
from loxo.model.refs import FileKind
from loxo.pfs.files import Source, store_sources
from loxo.pfs.store import Store
from loxo.pfs.tree import Change, Entry, apply_changes
from loxo.storage.blobs import BlobWriter


def walk_local(dest: str, directory: str) -> Iterator[Source]:
    """Every regular file under ``directory`` (sorted; symlinks to files followed,
    symlinked directories not entered), as sources placed under ``dest``."""
    try:
        with os.scandir(directory) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError as exc:
        raise SourceError(f"cannot list {directory}: {exc.strerror}") from None
    prefix = dest.rstrip("/") + "/"
    for entry in entries:
        if entry.is_dir(follow_symlinks=False):
            yield from walk_local(prefix + entry.name, entry.path)
        elif entry.is_file():
            yield Source(normalize_path(prefix + entry.name), local=entry.path, size=entry.stat().st_size)


Stored = list[tuple[str, Entry]]
"""Files stored from a directory: ``(path, entry)``, the entry carrying chunk locations."""


def store_directories(store: Store, directories: list[str]) -> list[Stored]:
    """Store the files under each directory with one writer (one pack, one flush for all),
    without building trees: a caller assembles them (see ``build_tree``)."""
    sources = [list(walk_local("/", d)) for d in directories]
    flat = [s for group in sources for s in group]
    if not flat:
        return [[] for _ in directories]
    writer = store.writer()
    contents = iter(store_sources(writer, flat))
    writer.flush()  # chunk locations are final only now
    out: list[Stored] = []
    for group in sources:
        stored: Stored = []
        for s in group:
            c = next(contents)
            name = s.path.rsplit("/", 1)[-1]
            stored.append((s.path, Entry(name, FileKind.FILE, c.id, c.size, writer.parts(c.chunks))))
        out.append(stored)
    return out


def build_tree(store: Store, writer: BlobWriter, files: Stored) -> tuple[str | None, int]:
    """A tree of ``files`` (its directory blobs added to ``writer``, not yet flushed)."""
    if not files:
        return None, 0
    changes = [Change(tuple(split_path(path)), "put", entry) for path, entry in files]
    return apply_changes(store.trees, None, changes, writer)


def materialize(store: Store, tree: str | None, path: str, target: Path, empty: bool = False) -> int:
    """Write the file or directory at ``path`` of ``tree`` under ``target`` (keeping the
    repo-relative path); returns bytes written. ``empty`` writes every file empty."""
    entry = store.trees.lookup(tree, split_path(path))
    if entry is None:
        return 0
    written = 0
    root = os.fspath(target)
    made: set[str] = set()  # plain strings and one makedirs per directory: this runs per datum
    for sub, e in store.trees.walk(entry, normalize_path(path)):
        local = os.path.join(root, sub.lstrip("/"))
        folder = local if e.is_dir else os.path.dirname(local)
        if folder not in made:
            os.makedirs(folder, exist_ok=True)
            made.add(folder)
        if e.is_dir:
            continue
        with open(local, "wb") as out:
            if not empty:
                for chunk in store.blobs.read_parts(e.parts):
                    out.write(chunk)
                    written += len(chunk)
    return written
