"""Pure pieces of content addressing: ids, chunk boundaries, compression choice.

Ids are BLAKE3 digests with the algorithm prefixed (``blake3:<64 hex>``) so that a
future algorithm can live beside this one. Chunk boundaries come from FastCDC with
fixed parameters: changing them would change every id, so ``CHUNKER`` is pinned and
golden boundary vectors in the tests guard it.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import threading
from collections.abc import Iterator, Sequence
from typing import BinaryIO

import blake3
import zstandard
from pyfastcdc import FastCDC

from loxo.errors import Corrupt

ALGORITHM = "blake3"
PREFIX = ALGORITHM + ":"

CHUNK_AVG = 1 << 20
CHUNK_MIN = 256 << 10
CHUNK_MAX = 4 << 20
# Files at most this big are one blob; bigger ones are cut into chunks.
SINGLE_BLOB_MAX = CHUNK_AVG
CHUNKER = FastCDC(CHUNK_AVG, min_size=CHUNK_MIN, max_size=CHUNK_MAX)

CODEC_RAW = 0
CODEC_ZSTD = 1
_SAMPLE = 64 << 10
_MIN_COMPRESS = 128
_local = threading.local()


def digest(data: bytes | memoryview) -> str:
    """The content id of ``data``."""
    return PREFIX + blake3.blake3(data).hexdigest()


def combine(chunk_ids: Sequence[str]) -> str:
    """The id of a file made of several chunks: a hash over its chunks' ids.

    A one-chunk file's id is its chunk's id, so small files hash like plain BLAKE3.
    """
    if len(chunk_ids) == 1:
        return chunk_ids[0]
    h = blake3.blake3(b"loxo:chunks\0")
    for cid in chunk_ids:
        h.update(bytes.fromhex(cid.removeprefix(PREFIX)))
    return PREFIX + h.hexdigest()


def check_id(value: str) -> bool:
    hexpart = value.removeprefix(PREFIX)
    return value.startswith(PREFIX) and len(hexpart) == 64 and all(
        c in "0123456789abcdef" for c in hexpart
    )


_WINDOW = 64 << 20
_PAGE = mmap.PAGESIZE


def cut_file(path: str) -> Iterator[memoryview]:
    """Content-defined chunks of a file on disk, cut from a memory map window by window.

    Mapping is a third faster than reading into a buffer, but every page touched counts
    towards resident memory, so pages already chunked are dropped after each 64 MiB
    window. A chunk that ends at a window's edge may have been cut short by it and is
    cut again from the next window; every other cut is exactly what the whole file
    would give. Each chunk is a view, valid until the next one is produced.
    """
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size == 0:
            return
        mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    try:
        yield from _cut_mapped(mm, size)
    finally:
        # A caller may still hold a chunk view; the map then goes when that view does.
        with contextlib.suppress(BufferError):
            mm.close()


def _cut_mapped(mm: mmap.mmap, size: int) -> Iterator[memoryview]:
    pos = 0
    while pos < size:
        end = min(size, pos + _WINDOW)
        start = pos
        for offset, length in _cuts(mm, start, end):
            chunk_end = start + offset + length
            if chunk_end == end and end < size:
                break
            with memoryview(mm) as whole:
                yield whole[start + offset : chunk_end]
            pos = chunk_end
        done = pos - pos % _PAGE
        first = start - start % _PAGE
        if done > first:
            mm.madvise(mmap.MADV_DONTNEED, first, done - first)


def _cuts(mm: mmap.mmap, start: int, end: int) -> list[tuple[int, int]]:
    """Chunk boundaries of ``mm[start:end]``, with no view left open afterwards."""
    with memoryview(mm) as whole, whole[start:end] as window:
        return [(c.offset, c.length) for c in CHUNKER.cut_buf(window)]


def cut_stream(stream: BinaryIO) -> Iterator[memoryview]:
    """Content-defined chunks of a readable binary stream."""
    for chunk in CHUNKER.cut_stream(stream):
        yield memoryview(chunk.data)


def _zstd() -> tuple[zstandard.ZstdCompressor, zstandard.ZstdCompressor]:
    # zstd contexts are not thread-safe: one pair per thread.
    pair = getattr(_local, "pair", None)
    if pair is None:
        pair = (zstandard.ZstdCompressor(level=1), zstandard.ZstdCompressor(level=3))
        _local.pair = pair
    return pair


def compress(data: bytes | memoryview) -> tuple[bytes | memoryview, int]:
    """``(stored bytes, codec)``: zstd only where it pays, else the data unchanged.

    For data over 64 KiB a cheap level-1 pass over the first 64 KiB decides, so big
    incompressible data (media, random bytes) costs almost nothing extra.
    """
    n = len(data)
    if n < _MIN_COMPRESS:
        return data, CODEC_RAW
    fast, good = _zstd()
    if n <= _SAMPLE:  # small: one fast try is the whole test
        packed = fast.compress(data)
        return (packed, CODEC_ZSTD) if len(packed) < 0.95 * n else (data, CODEC_RAW)
    sample = data[:_SAMPLE]
    if len(fast.compress(sample)) > 0.9 * len(sample):
        return data, CODEC_RAW
    packed = good.compress(data)
    if len(packed) >= 0.95 * n:
        return data, CODEC_RAW
    return packed, CODEC_ZSTD


def decompress(stored: bytes, codec: int, size: int) -> bytes:
    """Inverse of ``compress``."""
    if codec == CODEC_RAW:
        return stored
    if codec == CODEC_ZSTD:
        dctx = getattr(_local, "dctx", None)
        if dctx is None:  # made once per thread: a new one costs ~12 us, more than most reads
            dctx = _local.dctx = zstandard.ZstdDecompressor()
        try:
            return dctx.decompress(stored, max_output_size=size)
        except zstandard.ZstdError as exc:
            _local.dctx = None  # a fresh one for the next read, whatever state this is in
            raise Corrupt(f"compressed blob cannot be decompressed: {exc}") from None
    raise ValueError(f"unknown codec {codec}")
