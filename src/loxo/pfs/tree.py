"""File trees as Merkle trees of directory blobs.

A directory lists its entries by name; a file entry carries its content id, size and the
locations of its chunks, a directory entry its id and total size. A directory's id is a
hash of its content (``dirblobs``), so equal subtrees have equal ids: commits share
unchanged subtrees, ``diff`` skips equal ids without reading them, and copying a whole
directory is copying one entry.

Big directories are stored in shards (see ``dirblobs``), and the paths that must stay
cheap on them read only the shards they need: ``lookup`` reads one, ``apply_changes``
re-writes those holding changed names, ``glob_diff`` and ``diff`` skip shards with equal
ids. ``load`` still assembles a whole directory for callers that want every entry.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from typing import NamedTuple

from loxo.errors import Corrupt, PathConflict
from loxo.model.refs import FileKind
from loxo.pfs.dirblobs import (
    SHARD_ABOVE,
    Dir,
    DirIndex,
    Entry,
    Node,
    Shard,
    cut_shards,
    decode_dir,
    dir_id,
    encode_dir,
    encode_index,
    ends_shard,
    index_id,
    read_dir,
    read_node,
)
from loxo.pfs.glob import Glob
from loxo.storage import content
from loxo.storage.blobs import BlobReader, BlobWriter

__all__ = [
    "Change",
    "Dir",
    "Entry",
    "TreeReader",
    "apply_changes",
    "decode_dir",
    "dir_id",
    "encode_dir",
    "read_dir",
    "root_entry",
]


def root_entry(tree: str | None, size: int = 0) -> Entry | None:
    return None if tree is None else Entry("", FileKind.DIR, tree, size)


class TreeReader:
    """Reads directories (cached; they are immutable) and answers path questions.

    The cache holds decoded blobs (small directories, shards and indexes) and is bounded
    by the entries it holds, not by blobs: a long-running server putting into a directory
    of thousands of files makes a new version of it per put, and a count of blobs would
    let memory grow with the directory's size.
    """

    def __init__(self, blobs: BlobReader, max_entries: int = 500_000) -> None:
        self.blobs = blobs
        self._cache: OrderedDict[str, Node] = OrderedDict()
        self._held = 0
        self._max_entries = max_entries
        self._lock = threading.Lock()

    def load(self, wanted: str) -> Dir:
        """Every entry of a directory. A big one is assembled from all its shards: to
        find one name or what changed, ``lookup`` and ``glob_diff`` read far less."""
        node = self._node(wanted)
        return node if isinstance(node, dict) else self._assemble(node)

    def _node(self, wanted: str) -> Node:
        with self._lock:
            hit = self._cache.get(wanted)
            if hit is not None:
                self._cache.move_to_end(wanted)
                return hit
        node = read_node(self.blobs, wanted)
        self.remember({wanted: node})
        return node

    def _shard(self, wanted: str) -> Dir:
        node = self._node(wanted)
        if isinstance(node, DirIndex):
            raise Corrupt(f"shard {wanted} is an index, not a run of entries")
        return node

    def _assemble(self, index: DirIndex, skip: frozenset[str] = frozenset()) -> Dir:
        out: Dir = {}
        for s in index.shards:
            if s.id not in skip:
                out.update(self._shard(s.id))
        return out

    def remember(self, made: Mapping[str, Node]) -> None:
        """Cache directory blobs just written (by id), so the next write to them, or the
        next read, need not decode and check them again."""
        with self._lock:
            for key, node in made.items():
                if key in self._cache:
                    continue
                self._cache[key] = node
                self._held += _weight(node)
            while self._held > self._max_entries and len(self._cache) > 1:
                _, dropped = self._cache.popitem(last=False)
                self._held -= _weight(dropped)

    def preload(self, wanted: Sequence[str]) -> None:
        """Read the directory blobs in ``wanted`` that are not cached, locating them all
        in one index lookup (one by one, each read is a database round trip)."""
        with self._lock:
            missing = list(dict.fromkeys(w for w in wanted if w not in self._cache))
        if missing:
            located = self.blobs.index.lookup(missing)
            self.remember({w: read_node(self.blobs, w, located.get(w)) for w in missing})

    def size_of(self, tree: str | None) -> int:
        if tree is None:
            return 0
        node = self._node(tree)
        return node.size if isinstance(node, DirIndex) else sum(e.size for e in node.values())

    def lookup(self, tree: str | None, parts: Sequence[str]) -> Entry | None:
        """The entry at ``parts`` (``[]`` is the root), or None."""
        if tree is None:
            return None
        if not parts:
            return Entry("", FileKind.DIR, tree, self.size_of(tree))
        node = Entry("", FileKind.DIR, tree, 0)  # the root's size is not needed below it
        for name in parts:
            if not node.is_dir:
                return None
            found = self._child(node.id, name)
            if found is None:
                return None
            node = found
        return node

    def _child(self, wanted: str, name: str) -> Entry | None:
        node = self._node(wanted)
        if isinstance(node, DirIndex):
            return self._shard(node.shards[node.shard_for(name)].id).get(name)
        return node.get(name)

    def children(self, entry: Entry) -> list[Entry]:
        return [] if not entry.is_dir else [e for _, e in sorted(self.load(entry.id).items())]

    def walk(self, entry: Entry, path: str) -> Iterator[tuple[str, Entry]]:
        """Every file and directory below (and including) ``entry``, sorted, depth first."""
        yield path, entry
        if entry.is_dir:
            for child in self.children(entry):
                yield from self.walk(child, _join(path, child.name))

    def files(self, tree: str, prefix: str = "") -> Iterator[tuple[str, Entry]]:
        """Every file below the directory ``tree`` as (path, entry), in path order:
        ``walk`` without the directories, and one ``load`` per directory."""
        for name, e in sorted(self.load(tree).items()):
            if e.is_dir:
                yield from self.files(e.id, f"{prefix}/{name}")
            else:
                yield f"{prefix}/{name}", e

    def glob(self, tree: str | None, pattern: Glob) -> Iterator[tuple[str, Entry]]:
        """Entries matching ``pattern``, in path order."""
        if tree is None:
            return
        # Only the pattern "/" yields the root itself, so only it needs the root's size.
        root = Entry("", FileKind.DIR, tree, self.size_of(tree) if _matches_root(pattern) else 0)
        if pattern.recursive:
            for path, entry in self.walk(root, "/"):
                if path != "/" and pattern.match(path):
                    yield path, entry
            return
        yield from self._glob_level(root, "/", pattern, 0)

    def _glob_level(
        self, entry: Entry, path: str, pattern: Glob, depth: int
    ) -> Iterator[tuple[str, Entry]]:
        if depth == len(pattern.parts):
            yield path, entry
            return
        for child in self.children(entry):
            if pattern.match_part(depth, child.name):
                yield from self._glob_level(child, _join(path, child.name), pattern, depth + 1)

    def glob_diff(
        self, new_tree: str | None, old_tree: str | None, pattern: Glob
    ) -> Iterator[tuple[str, Entry | None, Entry | None]]:
        """Matches of ``pattern`` that differ between two trees: ``(path, new, old)``, None
        where a side has no such match; in path order.

        Subtrees and shards with equal ids hold equal matches, so they are never read:
        after one file changed in a directory of 100,000, this reads one shard a side.
        """
        sized = _matches_root(pattern)
        new = root_entry(new_tree, self.size_of(new_tree) if sized else 0)
        old = root_entry(old_tree, self.size_of(old_tree) if sized else 0)
        if pattern.recursive:
            for path, n, o in self._walk_diff(new, old, "/"):
                if path != "/" and pattern.match(path):
                    yield path, n, o
            return
        yield from self._glob_diff_level(new, old, "/", pattern, 0)

    def _glob_diff_level(
        self, new: Entry | None, old: Entry | None, path: str, pattern: Glob, depth: int
    ) -> Iterator[tuple[str, Entry | None, Entry | None]]:
        if new is not None and old is not None and new.id == old.id:
            return
        if depth == len(pattern.parts):
            yield path, new, old
            return
        for name, n, o in self._changed_children(new, old):
            if pattern.match_part(depth, name):
                yield from self._glob_diff_level(n, o, _join(path, name), pattern, depth + 1)

    def _walk_diff(
        self, new: Entry | None, old: Entry | None, path: str
    ) -> Iterator[tuple[str, Entry | None, Entry | None]]:
        """Every file and directory that differs, at any depth (a changed directory too)."""
        if new is not None and old is not None and new.id == old.id:
            return
        yield path, new, old
        for name, n, o in self._changed_children(new, old):
            yield from self._walk_diff(n, o, _join(path, name))

    def _changed_children(
        self, new: Entry | None, old: Entry | None
    ) -> list[tuple[str, Entry | None, Entry | None]]:
        """Children that differ (by id) or exist on one side only, sorted by name.

        Shards with equal ids hold equal entries (names are unique in a directory), so
        shards the two sides share are never read.
        """
        a = self._node(new.id) if new is not None and new.is_dir else None
        b = self._node(old.id) if old is not None and old.is_dir else None
        shared: frozenset[str] = frozenset()
        if isinstance(a, DirIndex) and isinstance(b, DirIndex):
            shared = frozenset(s.id for s in a.shards) & frozenset(s.id for s in b.shards)
        new_kids, old_kids = self._entries(a, shared), self._entries(b, shared)
        return [(n, new_kids.get(n), old_kids.get(n)) for n in _differing(new_kids, old_kids)]

    def _entries(self, node: Node | None, skip: frozenset[str]) -> Dir:
        if node is None:
            return {}
        return node if isinstance(node, dict) else self._assemble(node, skip)

    def diff(
        self, new: Entry | None, old: Entry | None, path: str
    ) -> Iterator[tuple[str, Entry | None, Entry | None]]:
        """Files that differ between two entries: ``(path, new, old)``; equal ids are skipped."""
        if new is not None and old is not None and new.id == old.id:
            return
        if (new is None or not new.is_dir) and (old is None or not old.is_dir):
            yield path, new, old
            return
        if new is not None and not new.is_dir:
            yield path, new, None
        if old is not None and not old.is_dir:
            yield path, None, old
        # Children with equal ids yield nothing below, so only the differing ones are visited.
        for name, n, o in self._changed_children(new, old):
            yield from self.diff(n, o, _join(path, name))


def _weight(node: Node) -> int:
    return len(node.shards) if isinstance(node, DirIndex) else len(node)


def _matches_root(pattern: Glob) -> bool:
    return not pattern.recursive and not pattern.parts


def _differing(new: Dir, old: Dir) -> list[str]:
    """Names whose entries differ (by id) or exist on one side only, sorted."""
    names = [n for n, e in new.items() if (o := old.get(n)) is None or o.id != e.id]
    names += [n for n in old if n not in new]
    return sorted(names)


def _join(base: str, name: str) -> str:
    return base + name if base.endswith("/") else f"{base}/{name}"


# -- changing trees -------------------------------------------------------------------
class Change(NamedTuple):
    """One edit: put an entry (file or whole directory), append to a file, or delete."""

    parts: tuple[str, ...]
    op: str  # "put" | "append" | "delete"
    entry: Entry | None = None


def apply_changes(
    reader: TreeReader, tree: str | None, changes: Sequence[Change], writer: BlobWriter | None,
    made: dict[str, Node] | None = None,
) -> tuple[str | None, int]:
    """Apply edits in order to ``tree``; returns the new root id and total size.

    With ``writer=None`` nothing is stored: a dry run that raises ``PathConflict`` early.
    Work is proportional to the changes: in a big (sharded) directory only the shards
    holding changed names are read and written again. ``made`` receives the directory
    blobs written, decoded (another process's reader can ``remember`` them).
    """
    root = root_entry(tree, 0)
    edits = _Edits(reader, writer)
    new = _apply(edits, root, changes, 0, "")
    if writer is not None:
        reader.remember(edits.made)
        if made is not None:
            made.update(edits.made)
    if new is None:
        return None, 0
    return new.id, new.size


class _Edits:
    """State of one ``apply_changes``: blobs made here are not readable from the store
    until the writer flushes, so they are kept in memory for the rest of the run."""

    def __init__(self, reader: TreeReader, writer: BlobWriter | None) -> None:
        self.reader = reader
        self.writer = writer
        self.made: dict[str, Node] = {}

    def node(self, wanted: str) -> Node:
        made = self.made.get(wanted)
        return made if made is not None else self.reader._node(wanted)

    def shard(self, wanted: str) -> Dir:
        made = self.made.get(wanted)
        if made is not None and not isinstance(made, DirIndex):
            return made
        return self.reader._shard(wanted)

    def open(self, node: Entry | None) -> _Draft:
        return _Draft(self, None if node is None else self.node(node.id))

    def store(self, entries: Dir) -> tuple[str, int] | None:
        """Store a whole directory: one blob, or shards and an index if it is big."""
        if not entries:
            return None
        if len(entries) <= SHARD_ABOVE:
            return self._store_blob(entries), sum(e.size for e in entries.values())
        runs = cut_shards(entries[n] for n in sorted(entries))
        return self.store_index([self.store_shard(run, frozenset()) for run in runs])

    def store_shard(self, run: list[Entry], stored: frozenset[str] | set[str]) -> Shard:
        """Store one run of entries (sorted) as a shard, unless ``stored`` has its id."""
        entries = {e.name: e for e in run}
        size = sum(e.size for e in run)
        if self.writer is None:
            return Shard(run[0].name, self._store_blob(entries), len(run), size)
        sid = dir_id(entries)
        if sid not in stored:
            self.writer.add(encode_dir(entries), indexed=True, blob_id=sid)
            self.made[sid] = entries
        return Shard(run[0].name, sid, len(run), size)

    def store_index(self, shards: list[Shard]) -> tuple[str, int]:
        index = DirIndex(shards)
        if self.writer is None:
            key = f"dry:{len(self.made)}"
        else:
            key = index_id(shards)
            self.writer.add(encode_index(shards), indexed=True, blob_id=key)
        self.made[key] = index
        return key, index.size

    def _store_blob(self, entries: Dir) -> str:
        if self.writer is None:  # dry run: only looking for conflicts
            fake = f"dry:{len(self.made)}"
            self.made[fake] = entries
            return fake
        logical = dir_id(entries)
        self.writer.add(encode_dir(entries), indexed=True, blob_id=logical)
        self.made[logical] = entries
        return logical


class _Draft:
    """A directory being edited. A small one is copied whole; of a sharded one, only the
    shards holding names that are read or written are decoded and copied ("opened")."""

    def __init__(self, edits: _Edits, base: Node | None) -> None:
        self.edits = edits
        self.flat: Dir | None = None
        self.index: DirIndex | None = None
        self.opened: dict[int, Dir] = {}
        if isinstance(base, DirIndex):
            self.index = base
        else:
            self.flat = dict(base) if base is not None else {}

    def _holder(self, name: str) -> Dir:
        if self.flat is not None:
            return self.flat
        assert self.index is not None
        i = self.index.shard_for(name)
        shard = self.opened.get(i)
        if shard is None:
            shard = self.opened[i] = dict(self.edits.shard(self.index.shards[i].id))
        return shard

    def get(self, name: str) -> Entry | None:
        return self._holder(name).get(name)

    def set(self, name: str, entry: Entry | None) -> None:
        entries = self._holder(name)
        if entry is None:
            entries.pop(name, None)
        else:
            entries[name] = entry._replace(name=name) if entry.name != name else entry

    def finish(self) -> tuple[str, int] | None:
        """Store the edited directory; returns its id and size (None when empty)."""
        if self.flat is not None:
            return self.edits.store(self.flat)
        assert self.index is not None
        shards = self.index.shards
        count = sum(s.length for i, s in enumerate(shards) if i not in self.opened)
        count += sum(len(d) for d in self.opened.values())
        if count <= SHARD_ABOVE:  # shrunk: back to one blob (a few thousand entries at most)
            whole: Dir = {}
            for i, s in enumerate(shards):
                opened = self.opened.get(i)
                whole.update(opened if opened is not None else self.edits.shard(s.id))
            return self.edits.store(whole)
        return self.edits.store_index(self._recut())

    def _recut(self) -> list[Shard]:
        """The new shard list: opened shards are cut again from their start, until a cut
        falls where an old shard ended, after which the old shards are the new ones too
        (a cut depends only on the names since the previous cut)."""
        assert self.index is not None
        old = self.index.shards
        out: list[Shard] = []
        i = 0
        while i < len(old):
            if i not in self.opened:
                out.append(old[i])
                i += 1
                continue
            stored: set[str] = set()  # old shards of this stretch: an equal new one is stored
            run: list[Entry] = []
            while True:
                entries = self.opened.get(i)
                if entries is None:
                    entries = self.edits.shard(old[i].id)
                stored.add(old[i].id)
                for name in sorted(entries):
                    run.append(entries[name])
                    if ends_shard(name, len(run)):
                        out.append(self.edits.store_shard(run, stored))
                        run = []
                i += 1
                if i == len(old) or (not run and i not in self.opened):
                    break
            if run:
                out.append(self.edits.store_shard(run, stored))
        return out


def _apply(
    edits: _Edits, node: Entry | None, changes: Sequence[Change], depth: int, path: str
) -> Entry | None:
    """Apply ``changes`` (all below ``node``, whose path components start at ``depth``)."""
    draft = edits.open(node)
    i = 0
    n = len(changes)
    while i < n:
        ch = changes[i]
        name = ch.parts[depth]
        if len(ch.parts) > depth + 1:
            j = i + 1
            while j < n and len(changes[j].parts) > depth + 1 and changes[j].parts[depth] == name:
                j += 1
            current = draft.get(name)
            if current is not None and not current.is_dir:
                raise PathConflict(
                    f"{path}/{name} is a file; cannot write /{'/'.join(ch.parts)} below it"
                )
            draft.set(name, _apply(edits, current, changes[i:j], depth + 1, f"{path}/{name}"))
            i = j
            continue
        draft.set(name, _edit(draft.get(name), ch, f"{path}/{name}"))
        i += 1
    made = draft.finish()
    if made is None:
        return None
    return Entry(node.name if node else "", FileKind.DIR, made[0], made[1])


def _edit(current: Entry | None, ch: Change, path: str) -> Entry | None:
    if ch.op == "delete":
        return None
    assert ch.entry is not None
    if ch.op == "append" and current is not None:
        if current.is_dir:
            raise PathConflict(f"{path} is a directory; cannot append to it")
        parts = current.parts + ch.entry.parts
        return Entry(
            current.name, FileKind.FILE, content.combine([p.id for p in parts]),
            current.size + ch.entry.size, parts,
        )
    if current is not None and current.is_dir and not ch.entry.is_dir:
        raise PathConflict(f"{path} is a directory; cannot put a file there")
    return ch.entry
