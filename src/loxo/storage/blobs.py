"""Blobs: content-addressed byte strings stored in an ``ObjectStore``.

A blob (a chunk of a big file, a whole small file, a directory listing) is stored once.
Blobs of at least ``PACK_BELOW`` bytes become objects of their own (``chunks/ab/<hex>``);
smaller ones are appended to a pack (``packs/<uuid>``) so that 100,000 tiny files make a
handful of objects.

File entries in directory blobs carry the locations (``Part``) of their chunks, so file
content is read without any lookup. The ``BlobIndex`` (id to location) holds only what
must be found by id: directory blobs. Big chunks need no index: their object key is
made from their id, so an existing copy is found by asking the object store. Small file
blobs stay out of it too, because indexing 200,000 tiny files would cost more than
storing them; they are deduplicated within a write and against the files already at
the destination (``seed``).

Crash safety: objects are written before the index learns about them, and the index
before any commit refers to them, so a killed writer leaves only unreferenced objects.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from typing import BinaryIO, NamedTuple, Protocol

from loxo.errors import Corrupt, ObjectMissing
from loxo.storage import content
from loxo.storage.objects import ObjectStore

PACK_BELOW = content.CHUNK_MIN
PACK_TARGET = 32 << 20


class Part(NamedTuple):
    """Where one blob lives: ``length`` stored bytes at ``offset`` of object ``key``.

    A tuple rather than a dataclass: hundreds of thousands are made per big ingest.
    """

    id: str
    key: str
    offset: int
    length: int
    size: int
    codec: int


class BlobIndex(Protocol):
    """Blob id to location. Implemented in the metadata DB and in memory."""

    def lookup(self, ids: Sequence[str]) -> dict[str, Part]:
        """Locations of those ``ids`` that are stored (any number of them); unknown ids
        are left out."""

    def add(self, parts: Sequence[Part]) -> None:
        """Record locations; ids already present keep their first location."""

    def all_parts(self) -> Iterator[Part]:
        """Every recorded location (for fsck)."""


class MemoryBlobIndex:
    """In-memory ``BlobIndex``, for tests and throw-away stores."""

    def __init__(self) -> None:
        self._parts: dict[str, Part] = {}
        self._lock = threading.Lock()

    def lookup(self, ids: Sequence[str]) -> dict[str, Part]:
        return {i: self._parts[i] for i in ids if i in self._parts}

    def add(self, parts: Sequence[Part]) -> None:
        with self._lock:
            for p in parts:
                self._parts.setdefault(p.id, p)

    def all_parts(self) -> Iterator[Part]:
        return iter(list(self._parts.values()))


class Content(NamedTuple):
    """What a writer made of one file: its id, size and chunk ids in order."""

    id: str
    size: int
    chunks: tuple[str, ...]


def _chunk_key(blob_id: str, codec: int) -> str:
    hexpart = blob_id.removeprefix(content.PREFIX)
    suffix = ".zst" if codec == content.CODEC_ZSTD else ""
    return f"chunks/{hexpart[:2]}/{hexpart}{suffix}"


class BlobWriter:
    """Stores blobs for one operation; call ``flush`` before using their locations.

    Safe to call from several threads at once (parallel uploads share one writer).
    """

    def __init__(self, objects: ObjectStore, index: BlobIndex) -> None:
        self.objects = objects
        self.index = index
        self._lock = threading.Lock()
        self._known: dict[str, Part] = {}
        self._pending: dict[str, tuple[bytes, int, int]] = {}
        self._pending_bytes = 0
        self._to_index: set[str] = set()
        self._indexed: set[str] = set()
        self.bytes_written = 0

    def seed(self, parts: Iterable[Part]) -> None:
        """Make already stored blobs known, so equal content is not stored again."""
        with self._lock:
            for p in parts:
                self._known.setdefault(p.id, p)

    # -- adding ----------------------------------------------------------------------
    def add(self, data: bytes | memoryview, *, indexed: bool = False, blob_id: str | None = None) -> str:
        """Store one blob; returns its id. ``indexed`` blobs can later be read by id alone.

        ``blob_id`` names the blob by something other than its bytes' hash (directories
        are named by their logical content); its reader must then check it.
        """
        if blob_id is None:
            blob_id = content.digest(data)
        with self._lock:
            if indexed:
                self._to_index.add(blob_id)
            if blob_id in self._known or blob_id in self._pending:
                return blob_id
        if len(data) >= PACK_BELOW:
            self._store_alone(blob_id, data)
            return blob_id
        stored, codec = content.compress(data)
        with self._lock:
            if blob_id not in self._pending:
                self._pending[blob_id] = (bytes(stored), codec, len(data))
                self._pending_bytes += len(stored)
            full = self._pending_bytes >= PACK_TARGET
        if full:
            self._flush_pack()
        return blob_id

    def _store_alone(self, blob_id: str, data: bytes | memoryview) -> None:
        """A big blob as an object of its own, named by id and codec, so an existing copy
        is found without any index: equal chunks of other files and commits are free."""
        stored, codec = content.compress(data)
        key = _chunk_key(blob_id, codec)
        if self.objects.exists(key):
            length = len(stored) if codec == content.CODEC_RAW else self.objects.size(key)
        else:
            self.objects.put(key, stored)
            length = len(stored)
            with self._lock:
                self.bytes_written += length
        with self._lock:
            self._known[blob_id] = Part(blob_id, key, 0, length, len(data), codec)

    def add_chunks(self, chunks: Iterable[bytes | memoryview]) -> Content:
        """A file given as its chunks, stored in order."""
        ids: list[str] = []
        size = 0
        for chunk in chunks:
            ids.append(self.add(chunk))
            size += len(chunk)
        if not ids:
            ids.append(self.add(b""))
        return Content(content.combine(ids), size, tuple(ids))

    def _add_whole(self, data: bytes | memoryview) -> Content:
        blob_id = self.add(data)
        return Content(blob_id, len(data), (blob_id,))

    def add_bytes(self, data: bytes | memoryview) -> Content:
        """A whole file given in memory."""
        if len(data) <= content.SINGLE_BLOB_MAX:
            return self._add_whole(data)
        return self.add_chunks(_cut_buf(data))

    def add_path(self, path: str, size: int) -> Content:
        """A whole file on local disk (``size`` as stat reported it)."""
        if size <= content.SINGLE_BLOB_MAX:
            data = _read_file(path, size)
            if len(data) <= content.SINGLE_BLOB_MAX:  # it may have grown since the stat
                return self._add_whole(data)
        return self.add_chunks(content.cut_file(path))

    def add_stream(self, stream: BinaryIO) -> Content:
        """A whole file read from a binary stream until EOF."""
        first = stream.read(content.SINGLE_BLOB_MAX + 1)
        if len(first) <= content.SINGLE_BLOB_MAX:
            return self.add_chunks([first])
        return self.add_chunks(content.cut_stream(_Prefixed(first, stream)))  # type: ignore[arg-type]

    def discard(self, blob_ids: Iterable[str]) -> None:
        """Forget blobs added but not written yet, which nothing will refer to after all
        (ones already written stay)."""
        with self._lock:
            for blob_id in blob_ids:
                pending = self._pending.pop(blob_id, None)
                if pending is not None:
                    self._pending_bytes -= len(pending[0])
                    self._to_index.discard(blob_id)

    # -- finishing -------------------------------------------------------------------
    def _flush_pack(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
            self._pending_bytes = 0
            wanted = [i for i in pending if i in self._to_index]
        if not pending:
            return
        existing = self.index.lookup(wanted)  # an index batches its own queries
        key = f"packs/{uuid.uuid4().hex}"
        pieces: list[bytes] = []
        parts: list[Part] = []
        offset = 0
        for blob_id, (stored, codec, size) in pending.items():
            if blob_id in existing:
                continue
            pieces.append(stored)
            parts.append(Part(blob_id, key, offset, len(stored), size, codec))
            offset += len(stored)
        if pieces:
            self.objects.put(key, b"".join(pieces))
        with self._lock:
            self.bytes_written += offset
            self._known.update(existing)
            self._known.update((p.id, p) for p in parts)
            self._indexed.update(existing)

    def flush(self) -> None:
        """Write what is still buffered and index what must be found by id; afterwards
        ``part`` answers for every id added."""
        self._flush_pack()
        with self._lock:
            missing = [self._known[i] for i in self._to_index - self._indexed]
            self._indexed.update(p.id for p in missing)
        self.index.add(missing)

    def part(self, blob_id: str) -> Part:
        """Location of a blob added (and flushed) through this writer."""
        return self._known[blob_id]

    def parts(self, blob_ids: Iterable[str]) -> tuple[Part, ...]:
        return tuple(self._known[b] for b in blob_ids)


def _read_file(path: str, size: int) -> bytes:
    """A whole file, in one read where ``size`` is still right: three system calls
    instead of the six of ``open().read()`` (fstat, isatty, a second read for the end),
    for the many small files of datums and ingests."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        data = os.read(fd, size + 1)  # a regular file's read is short only at its end
        if len(data) <= size:
            return data
        with open(fd, "rb", closefd=False) as f:  # it grew since the stat
            return data + f.read()
    finally:
        os.close(fd)


def _cut_buf(data: bytes | memoryview) -> Iterator[memoryview]:
    for chunk in content.CHUNKER.cut_buf(data):
        yield memoryview(chunk.data)


class _Prefixed:
    """A stream that first replays ``head`` and then reads from ``rest``."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self.head = memoryview(head)
        self.rest = rest

    def readinto(self, buf: memoryview | bytearray) -> int:
        if self.head:
            n = min(len(buf), len(self.head))
            buf[:n] = self.head[:n]
            self.head = self.head[n:]
            return n
        return self.rest.readinto(buf)  # type: ignore[attr-defined, no-any-return]

    def read(self, n: int = -1) -> bytes:
        if self.head:
            if n < 0:
                out = bytes(self.head) + self.rest.read()
                self.head = memoryview(b"")
                return out
            take = bytes(self.head[:n])
            self.head = self.head[n:]
            return take
        return self.rest.read(n)


class BlobReader:
    """Reads blobs back and checks every one against its id."""

    def __init__(self, objects: ObjectStore, index: BlobIndex) -> None:
        self.objects = objects
        self.index = index

    def read_part(self, part: Part, *, verify: bool = True) -> bytes:
        if part.offset == 0 and part.key.startswith("chunks/"):
            stored = self.objects.get(part.key)
        else:
            stored = self.objects.get_range(part.key, part.offset, part.length)
        if len(stored) != part.length:
            raise Corrupt(f"object {part.key} is truncated: blob {part.id} cut short")
        data = content.decompress(stored, part.codec, part.size)
        if verify and content.digest(data) != part.id:
            raise Corrupt(f"blob {part.id} in {part.key} does not match its hash")
        return data

    def read(self, blob_id: str, *, verify: bool = True) -> bytes:
        """A blob by id, located through the index (``verify=False`` for blobs named by
        something other than their hash, which the caller checks)."""
        part = self.index.lookup([blob_id]).get(blob_id)
        if part is None:
            raise ObjectMissing(f"blob {blob_id} is not in the index")
        return self.read_part(part, verify=verify)

    def read_parts(self, parts: Iterable[Part]) -> Iterator[bytes]:
        for part in parts:
            yield self.read_part(part)
