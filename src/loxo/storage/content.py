"""Pure pieces of content addressing: ids, chunk boundaries, compression choice.

Ids are BLAKE3 digests with the algorithm prefixed (``blake3:<64 hex>``) so that a
future algorithm can live beside this one. Chunk boundaries come from FastCDC with
fixed parameters: changing them would change every id, so ``CHUNKER`` is pinned and
golden boundary vectors in the tests guard it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from typing import BinaryIO

import blake3
import zstandard
from pyfastcdc import FastCDC

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


def cut_file(path: str) -> Iterator[memoryview]:
    """Content-defined chunks of a file on disk."""
    for chunk in CHUNKER.cut_file(path):
        yield memoryview(chunk.data)


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

    A cheap level-1 pass over the first 64 KiB decides; incompressible data (media,
    random bytes) therefore costs almost nothing extra.
    """
    n = len(data)
    if n < _MIN_COMPRESS:
        return data, CODEC_RAW
    fast, good = _zstd()
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
        dctx = zstandard.ZstdDecompressor()
        return dctx.decompress(stored, max_output_size=size)
    raise ValueError(f"unknown codec {codec}")
