"""Content addressing: ids, pinned chunk boundaries, compression only where it pays."""

from __future__ import annotations

import contextlib
import importlib.metadata
import io
import random
from pathlib import Path

import blake3
import pyfastcdc
import pytest

from loxo.errors import Corrupt
from loxo.storage import content

# Chunk lengths of ``random.Random(1234).randbytes(12 << 20)`` with the pinned FastCDC
# parameters (avg 1 MiB, min 256 KiB, max 4 MiB). If this changes, every stored file id
# changes: never update it without a migration plan.
GOLDEN_SEED = 1234
GOLDEN_SIZE = 12 << 20
GOLDEN_LENGTHS = [1587404, 1421755, 1160442, 1241405, 3271789, 1996844, 1311562, 591711]
GOLDEN_DIGEST = "blake3:bf1021f2b68af8f16243169bc45b7fcf0262b1e97d9e871a6de63ab595e53f96"


@pytest.fixture(scope="module")
def golden_data() -> bytes:
    return random.Random(GOLDEN_SEED).randbytes(GOLDEN_SIZE)


def test_pinned_parameters() -> None:
    assert (content.CHUNK_MIN, content.CHUNK_AVG, content.CHUNK_MAX) == (256 << 10, 1 << 20, 4 << 20)
    assert importlib.metadata.version("pyfastcdc") == "0.3.1"  # as pinned in pyproject.toml


def test_pyfastcdc_runs_its_compiled_implementation() -> None:
    """Installed without ``PYFASTCDC_REQUIRE_CYTHON=1`` it silently falls back to pure Python."""
    assert pyfastcdc.FastCDC.__module__.startswith("pyfastcdc.cy"), pyfastcdc.FastCDC.__module__
    assert type(content.CHUNKER).__module__.startswith("pyfastcdc.cy")


def test_golden_chunk_boundaries(golden_data: bytes) -> None:
    assert content.digest(golden_data) == GOLDEN_DIGEST  # the input itself is what we think
    lengths = [len(c.data) for c in content.CHUNKER.cut_buf(golden_data)]
    assert lengths == GOLDEN_LENGTHS


def test_stream_and_file_cutting_agree_with_buffer_cutting(golden_data: bytes, tmp_path: Path) -> None:
    path = tmp_path / "golden.bin"
    path.write_bytes(golden_data)
    from_stream = [bytes(c) for c in content.cut_stream(io.BytesIO(golden_data))]
    from_file = [bytes(c) for c in content.cut_file(str(path))]
    assert [len(c) for c in from_stream] == GOLDEN_LENGTHS
    assert [len(c) for c in from_file] == GOLDEN_LENGTHS
    assert b"".join(from_file) == golden_data


def test_chunks_respect_min_and_max() -> None:
    data = bytes(9 << 20)  # all zeros: no natural cut point, so max size applies
    lengths = [len(c.data) for c in content.CHUNKER.cut_buf(data)]
    assert sum(lengths) == len(data)
    assert all(n <= content.CHUNK_MAX for n in lengths)
    assert all(n >= content.CHUNK_MIN for n in lengths[:-1])


def test_an_edit_moves_only_nearby_boundaries(golden_data: bytes) -> None:
    """Content-defined chunking: inserting bytes near the start keeps later chunks."""
    edited = golden_data[:1000] + b"inserted bytes" + golden_data[1000:]
    before = {content.digest(c.data) for c in content.CHUNKER.cut_buf(golden_data)}
    after = [content.digest(c.data) for c in content.CHUNKER.cut_buf(edited)]
    assert sum(1 for d in after if d not in before) <= 2


# -- ids --------------------------------------------------------------------------------
def test_digest_is_prefixed_blake3() -> None:
    assert content.digest(b"hello") == "blake3:" + blake3.blake3(b"hello").hexdigest()
    assert content.digest(memoryview(b"hello")) == content.digest(b"hello")
    assert content.digest(b"") == "blake3:af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
    assert content.digest(b"a") != content.digest(b"b")


def test_check_id() -> None:
    good = content.digest(b"x")
    assert content.check_id(good)
    assert not content.check_id(good.removeprefix("blake3:"))
    assert not content.check_id("sha256:" + good.removeprefix("blake3:"))
    assert not content.check_id(good[:-1])
    assert not content.check_id(good.upper())
    assert not content.check_id(good[:-1] + "g")


def test_combine() -> None:
    a, b = content.digest(b"a"), content.digest(b"b")
    assert content.combine([a]) == a
    ab = content.combine([a, b])
    assert content.check_id(ab)
    assert ab not in (a, b)
    assert ab != content.combine([b, a])  # order matters
    assert ab == content.combine([a, b])  # deterministic
    assert content.combine([a, b, a]) != ab


def test_a_chunked_file_id_does_not_collide_with_the_plain_digest() -> None:
    a, b = content.digest(b"a"), content.digest(b"b")
    assert content.combine([a, b]) != content.digest(b"ab")


# -- compression ------------------------------------------------------------------------
def test_random_data_is_stored_raw() -> None:
    data = random.Random(1).randbytes(300_000)
    stored, codec = content.compress(data)
    assert codec == content.CODEC_RAW
    assert bytes(stored) == data


def test_small_random_data_is_stored_raw() -> None:
    data = random.Random(2).randbytes(5000)
    stored, codec = content.compress(data)
    assert codec == content.CODEC_RAW
    assert bytes(stored) == data


def test_tiny_data_is_stored_raw() -> None:
    stored, codec = content.compress(b"aaaa")
    assert (bytes(stored), codec) == (b"aaaa", content.CODEC_RAW)
    stored, codec = content.compress(b"")
    assert (bytes(stored), codec) == (b"", content.CODEC_RAW)


@pytest.mark.parametrize("size", [2_000, 200_000, 3_000_000])
def test_text_is_compressed_and_round_trips(size: int) -> None:
    words = ["alpha", "beta", "gamma", "delta", "loxo", "pachyderm", "commit", "\n"]
    rng = random.Random(size)
    text = " ".join(rng.choice(words) for _ in range(size // 5)).encode()[:size]
    stored, codec = content.compress(text)
    assert codec == content.CODEC_ZSTD
    assert len(stored) < len(text) // 2
    assert content.decompress(bytes(stored), codec, len(text)) == text


def test_decompress_raw_is_identity() -> None:
    assert content.decompress(b"abc", content.CODEC_RAW, 3) == b"abc"


def test_undecodable_compressed_data_raises_corrupt() -> None:
    """zstd's own errors never leak out: a broken frame is ``Corrupt``."""
    text = b"hello loxo " * 1000
    stored, codec = content.compress(text)
    assert codec == content.CODEC_ZSTD
    bad_magic = b"\x00" + bytes(stored)[1:]
    with pytest.raises(Corrupt):
        content.decompress(bad_magic, codec, len(text))
    with pytest.raises(Corrupt):
        content.decompress(bytes(stored)[: len(stored) // 2], codec, len(text))
    for i in range(len(stored)):  # any flipped byte: Corrupt, or bytes the hash check catches
        broken = bytearray(stored)
        broken[i] ^= 0xFF
        with contextlib.suppress(Corrupt):
            content.decompress(bytes(broken), codec, len(text))
