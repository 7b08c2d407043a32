"""Directory blobs: how a directory is stored, named and cut into shards.

A directory of at most ``SHARD_ABOVE`` entries is one blob (format 1): its entries
sorted by name, each file with its content id, size and chunk locations. Its id is
``dir_id``: a hash of names, kinds, content ids and sizes only.

A bigger directory is an index blob (format 2) listing shards ``[first name, shard
id, entry count, total size]``; each shard is a format-1 blob of a sorted run of the
entries (so a shard's id is ``dir_id`` of its entries). Its id, ``index_id``, is a hash
over the shard rows: a Merkle id, so one edit re-hashes one shard and the index rather
than every entry.

Shard boundaries depend only on the sorted names (``ends_shard``), never on the order
of the edits that made the directory, so equal content always has equal shards and an
equal id. Because a boundary is decided by the names since the previous one, an edit
re-cuts only from the start of its shard until the cuts meet the old ones again.

Every blob carries a checksum of its bytes as well, because its id is logical.
"""

from __future__ import annotations

import zlib
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from typing import NamedTuple

import orjson

from loxo.errors import Corrupt
from loxo.model.refs import FileKind
from loxo.storage import content
from loxo.storage.blobs import BlobReader, Part

# Pinned like the file chunker: changing any of these changes the id of every directory
# bigger than SHARD_ABOVE. Chosen by measuring on 100,000 entries (2 slow cores): a
# shard costs ~10 us an entry to decode, or to re-encode and re-hash, so ~320-entry
# shards keep a one-file put, a lookup and a one-file glob_diff near 5-15 ms even cold
# (~640 doubled the cold glob_diff to ~30 ms), while an index of ~300 rows stays cheap.
# Below SHARD_ABOVE a whole directory costs about what a few shards do.
SHARD_ABOVE = 1024
SHARD_MIN = 64
SHARD_MAX = 1024
_CUT_BITS = 8  # past SHARD_MIN a name ends a shard with odds 1/256: ~320 entries a shard
_MIX = 0x9E3779B1  # Fibonacci hashing: the top bits of the product depend on all of crc32's


class Entry(NamedTuple):
    """One name in a directory. ``parts`` is empty for directories.

    A tuple rather than a dataclass: one is made per file on every big ingest.
    """

    name: str
    kind: FileKind
    id: str
    size: int
    parts: tuple[Part, ...] = ()

    @property
    def is_dir(self) -> bool:
        return self.kind is FileKind.DIR


Dir = dict[str, Entry]


class Shard(NamedTuple):
    """One row of a sharded directory's index."""

    first: str
    id: str
    length: int  # entries
    size: int


class DirIndex:
    """A sharded directory: its shards in name order (never empty)."""

    __slots__ = ("firsts", "shards")

    def __init__(self, shards: Sequence[Shard]) -> None:
        self.shards = tuple(shards)
        self.firsts = [s.first for s in self.shards]

    @property
    def count(self) -> int:
        return sum(s.length for s in self.shards)

    @property
    def size(self) -> int:
        return sum(s.size for s in self.shards)

    def shard_for(self, name: str) -> int:
        """The position of the shard that holds ``name``, or would if it were added."""
        return max(0, bisect_right(self.firsts, name) - 1)


Node = Dir | DirIndex
"""A decoded directory blob: a whole small directory, or a big one's index."""


# -- format 1: a directory (or one shard) ----------------------------------------------
def encode_dir(entries: Dir) -> bytes:
    rows: list[list[object]] = []
    for name in sorted(entries):
        e = entries[name]
        if e.is_dir:
            rows.append([name, "d", e.id, e.size])
        else:
            rows.append([name, "f", e.id, e.size, [list(p) for p in e.parts]])
    return _sealed(orjson.dumps({"v": 1, "e": rows}))


def dir_id(entries: Dir) -> str:
    """A directory's (or a shard's) id: the hash of its names, kinds, content ids and
    sizes only.

    Where the files' chunks happen to be stored is left out, so equal content always
    has an equal id (datum identity and diffs rely on it).
    """
    kind = _KIND_TEXT  # a dict lookup: an enum's .value costs ~3 us, 100,000 times a dir
    rows = [[n, kind[e.kind], e.id, e.size] for n, e in sorted(entries.items())]
    return content.digest(orjson.dumps(["loxo:dir:1", rows]))


_KIND_TEXT = {k: k.value for k in FileKind}


def decode_dir(data: bytes) -> Dir:
    """A format-1 blob's entries; an index blob is refused."""
    node = decode_node(data)
    if isinstance(node, DirIndex):
        raise Corrupt("expected a directory listing, found a sharded directory's index")
    return node


# -- format 2: a sharded directory's index ---------------------------------------------
def encode_index(shards: Sequence[Shard]) -> bytes:
    return _sealed(orjson.dumps({"v": 2, "s": [list(s) for s in shards]}))


def index_id(shards: Sequence[Shard]) -> str:
    """A sharded directory's id: a hash over its shard rows (whose ids cover the
    entries), so it costs O(shards) and equal content has an equal id."""
    return content.digest(orjson.dumps(["loxo:dir:2", [list(s) for s in shards]]))


def ends_shard(name: str, length: int) -> bool:
    """Whether a shard of ``length`` entries, the last named ``name``, ends there.

    Content-defined: past ``SHARD_MIN`` entries a shard ends after a name whose hash has
    its top ``_CUT_BITS`` bits zero, and at ``SHARD_MAX`` in any case.
    """
    if length >= SHARD_MAX:
        return True
    if length < SHARD_MIN:
        return False
    crc = zlib.crc32(name.encode("utf-8", "surrogatepass"))
    return ((crc * _MIX) & 0xFFFFFFFF) >> (32 - _CUT_BITS) == 0


def cut_shards(entries: Iterable[Entry]) -> list[list[Entry]]:
    """Entries (sorted by name) cut into shards by ``ends_shard``."""
    out: list[list[Entry]] = []
    run: list[Entry] = []
    for e in entries:
        run.append(e)
        if ends_shard(e.name, len(run)):
            out.append(run)
            run = []
    if run:
        out.append(run)
    return out


# -- reading ---------------------------------------------------------------------------
def decode_node(data: bytes) -> Node:
    """Either format; checks the blob's checksum (not its id: see ``read_node``)."""
    body, _, checksum = data.rpartition(b"\n")
    if content.digest(body).encode() != checksum:
        raise Corrupt("directory blob does not match its checksum")
    try:
        doc = orjson.loads(body)
        if doc["v"] == 2:
            shards = [Shard(str(r[0]), str(r[1]), int(r[2]), int(r[3])) for r in doc["s"]]
            if not shards:
                raise ValueError("an index with no shards")
            return DirIndex(shards)
        out: Dir = {}
        for row in doc["e"]:
            if row[1] == "d":
                out[row[0]] = Entry(row[0], FileKind.DIR, row[2], row[3])
            else:
                parts = tuple(Part(*p) for p in row[4])
                out[row[0]] = Entry(row[0], FileKind.FILE, row[2], row[3], parts)
        return out
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise Corrupt(f"directory blob is malformed: {exc}") from None


def node_id(node: Node) -> str:
    return index_id(node.shards) if isinstance(node, DirIndex) else dir_id(node)


def read_node(blobs: BlobReader, wanted: str, part: Part | None = None) -> Node:
    """Read and check one directory blob (its id is logical, not its bytes' hash);
    ``part``, where the caller looked it up already, saves the index lookup."""
    data = blobs.read(wanted, verify=False) if part is None else blobs.read_part(part, verify=False)
    node = decode_node(data)
    if node_id(node) != wanted:
        raise Corrupt(f"directory {wanted} does not match its content")
    return node


def read_shard(blobs: BlobReader, wanted: str) -> Dir:
    node = read_node(blobs, wanted)
    if isinstance(node, DirIndex):
        raise Corrupt(f"shard {wanted} is an index, not a run of entries")
    return node


def read_dir(blobs: BlobReader, wanted: str) -> Dir:
    """A whole directory, checked: every shard of a sharded one is read."""
    node = read_node(blobs, wanted)
    if not isinstance(node, DirIndex):
        return node
    out: Dir = {}
    for s in node.shards:
        out.update(read_shard(blobs, s.id))
    return out


def _sealed(body: bytes) -> bytes:
    return body + b"\n" + content.digest(body).encode()
