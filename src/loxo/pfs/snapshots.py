"""Local directories in and out of file trees, without commits (datum inputs/outputs)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

from loxo.errors import SourceError
from loxo.model.address import normalize_path, parts_of
from loxo.model.refs import FileKind
from loxo.pfs.dirblobs import SHARD_ABOVE, Node, dir_id, encode_dir, read_node
from loxo.pfs.sources import Source, store_sources
from loxo.pfs.store import Store
from loxo.pfs.tree import Change, Entry, apply_changes
from loxo.storage.blobs import BlobIndex, BlobWriter, Content, Part


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


class Built(NamedTuple):
    """A tree made of stored files, with its directory blobs: decoded (for a reader to
    ``remember``) and where they are (for the blob index); ``size``: its files' bytes."""

    tree: str | None
    nodes: dict[str, Node]
    parts: tuple[Part, ...]
    size: int


class DirectoryTrees:
    """Stores local directories as trees, one directory at a time.

    Adding a directory reads, hashes and compresses its files. Every ``batch``
    directories their writer is flushed (chunk locations are final only then) and their
    trees are built, so that little is left for ``finish``: a worker adds each datum's
    outputs while the next datums run. The trees' directory blobs are written but not
    indexed: whoever records the trees indexes their parts in the same step, so a worker
    building them never writes to the database.
    """

    def __init__(self, store: Store, batch: int = 256) -> None:
        self.store = store
        self.batch = batch
        self.files = store.writer()
        self.deferred = _DeferredIndex(store.index)
        self.dirs = BlobWriter(store.objects, self.deferred)
        self.waiting: list[tuple[list[Source], list[Content]]] = []
        self.made: list[tuple[str | None, dict[str, Node], int]] = []

    def add(self, directory: str) -> list[Source]:
        """Store the files under ``directory``; returns them (its ``local`` paths may be
        removed now). ``finish`` answers in the order directories were added."""
        sources = list(walk_local("/", directory))
        contents = store_sources(self.files, sources) if sources else []
        self.waiting.append((sources, contents))
        if len(self.waiting) >= self.batch:
            self._build()
        return sources

    def _build(self) -> None:
        ids = [_flat_tree_id(sources, contents) for sources, contents in self.waiting]
        stored = self.deferred.lookup([i for i in ids if i is not None])
        self._skip_copies(ids, stored)
        self.files.flush()
        parts = self.files.parts
        for (sources, contents), known in zip(self.waiting, ids, strict=True):
            size = sum(c.size for c in contents)
            if known is not None and known in stored:  # this very tree is stored already:
                # its node, with the stored files' locations, for whoever records it
                node = read_node(self.store.blobs, known, stored[known])
                self.made.append((known, {known: node}, size))
                continue
            nodes: dict[str, Node] = {}
            tree = None
            files = [(s.path, Entry(s.path.rsplit("/", 1)[-1], FileKind.FILE, c.id, c.size,
                                    parts(c.chunks))) for s, c in zip(sources, contents, strict=True)]
            if known is not None:
                # files only, no subdirectory (most datums' outputs): the one blob that
                # apply_changes would write, without its machinery (~40 us a datum)
                entries = {e.name: e for _, e in files}
                self.dirs.add(encode_dir(entries), indexed=True, blob_id=known)
                nodes[known] = entries
                tree = known
            elif files:
                changes = [Change(parts_of(path), "put", e) for path, e in files]
                tree, _ = apply_changes(self.store.trees, None, changes, self.dirs, nodes)
            self.made.append((tree, nodes, size))
        self.waiting = []

    def _skip_copies(self, ids: list[str | None], stored: dict[str, Part]) -> None:
        """Outputs whose whole tree is stored already (a datum run again, its output the
        same) need none of their files written again: drop what only they added."""
        needed: set[str] = set()
        unneeded: set[str] = set()
        for (_, contents), tree in zip(self.waiting, ids, strict=True):
            chunks = (c for content in contents for c in content.chunks)
            (unneeded if tree is not None and tree in stored else needed).update(chunks)
        if unneeded:
            self.files.discard(unneeded - needed)

    def finish(self) -> list[Built]:
        self._build()
        self.dirs.flush()
        located = {p.id: p for p in self.deferred.parts}
        return [Built(tree, nodes, tuple(located[i] for i in nodes if i in located), size)
                for tree, nodes, size in self.made]


def _flat_tree_id(sources: list[Source], contents: list[Content]) -> str | None:
    """The tree id of files that all sit at the top (no subdirectory) and fit in one
    directory blob; None for anything else. Ids leave chunk locations out, so this is
    known before the files' writer is flushed."""
    if not sources or len(sources) > SHARD_ABOVE or any(s.path.count("/") != 1 for s in sources):
        return None
    return dir_id({s.path[1:]: Entry(s.path[1:], FileKind.FILE, c.id, c.size)
                   for s, c in zip(sources, contents, strict=True)})


class _DeferredIndex:
    """A ``BlobIndex`` that looks up in ``index`` but keeps what is added to itself."""

    def __init__(self, index: BlobIndex) -> None:
        self.index = index
        self.parts: list[Part] = []

    def lookup(self, ids: Sequence[str]) -> dict[str, Part]:
        return self.index.lookup(ids)

    def add(self, parts: Sequence[Part]) -> None:
        self.parts.extend(parts)

    def all_parts(self) -> Iterator[Part]:
        return self.index.all_parts()


def materialize(
    store: Store, tree: str | None, path: str, target: str | Path, empty: bool = False,
    created: list[tuple[str, bool]] | None = None,
) -> int:
    """Write the file or directory at ``path`` of ``tree`` under ``target`` (keeping the
    repo-relative path; ``target`` is made even when there is nothing there); returns
    bytes written. ``empty`` writes every file empty. ``created`` collects ``(path, is
    directory)`` for everything made, parents first, so a caller can remove exactly that
    (cheaper than walking it again with ``rmtree``)."""
    root = os.fspath(target)
    try:  # one call where the parent exists, as it does for workers
        os.mkdir(root)
    except FileExistsError:
        pass
    except FileNotFoundError:
        os.makedirs(root, exist_ok=True)
    made = {root}  # plain strings and os calls: this runs once per datum
    record = created.append if created is not None else (lambda item: None)
    record((root, True))
    entry = store.trees.lookup(tree, parts_of(path))
    if entry is None:
        return 0
    written = 0
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC
    for sub, e in store.trees.walk(entry, path):
        local = root if sub == "/" else root + sub  # sub is normalised: "/" or "/a/b"
        _make_dirs(local if e.is_dir else os.path.dirname(local), made, record)
        if e.is_dir:
            continue
        fd = os.open(local, flags, 0o666)
        record((local, False))
        try:
            if not empty:
                for chunk in store.blobs.read_parts(e.parts):
                    view = memoryview(chunk)
                    while view:
                        view = view[os.write(fd, view):]
                    written += len(chunk)
        finally:
            os.close(fd)
    return written


def _make_dirs(folder: str, made: set[str], record: Callable[[tuple[str, bool]], None]) -> None:
    """Make ``folder`` below an already made one, recording each level made."""
    if folder in made:
        return
    _make_dirs(os.path.dirname(folder), made, record)
    with contextlib.suppress(FileExistsError):
        os.mkdir(folder)
    made.add(folder)
    record((folder, True))
