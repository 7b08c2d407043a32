"""Blobs: packing small ones, deduplication, verified reads, and the two ``BlobIndex``es."""

from __future__ import annotations

import io
import random
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from loxo.errors import Corrupt, ObjectMissing
from loxo.meta.blob_index import SqlBlobIndex
from loxo.meta.db import Database, sqlite_url
from loxo.storage import content
from loxo.storage.blobs import PACK_BELOW, BlobIndex, BlobReader, BlobWriter, MemoryBlobIndex, Part
from loxo.storage.objects import LocalObjectStore, MemoryObjectStore, ObjectStore

MiB = 1 << 20


@pytest.fixture(scope="module")
def migrated_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty, migrated metadata database, copied by ``index`` (migrating is slow)."""
    path = tmp_path_factory.mktemp("meta") / "meta.db"
    db = Database(sqlite_url(path))
    db.migrate()
    db.close()
    return path


@pytest.fixture(params=["memory", "sql"])
def index(request: pytest.FixtureRequest, tmp_path: Path, migrated_db: Path) -> Iterator[BlobIndex]:
    if request.param == "memory":
        yield MemoryBlobIndex()
        return
    shutil.copy(migrated_db, tmp_path / "meta.db")
    db = Database(sqlite_url(tmp_path / "meta.db"))
    yield SqlBlobIndex(db)
    db.close()


@pytest.fixture(params=["local", "memory"])
def objects(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    if request.param == "local":
        return LocalObjectStore(tmp_path / "objects")
    return MemoryObjectStore()


def _rand(seed: int, n: int) -> bytes:
    return random.Random(seed).randbytes(n)


def _corrupt(objects: ObjectStore, key: str, at: int) -> None:
    data = bytearray(objects.get(key))
    data[at] ^= 0x01
    objects.put(key, bytes(data))


# -- BlobIndex contract -----------------------------------------------------------------
def _part(i: int, key: str = "packs/p") -> Part:
    return Part(content.digest(str(i).encode()), key, i * 10, 10, 12, 0)


def test_index_lookup_of_unknown_ids_is_empty(index: BlobIndex) -> None:
    assert index.lookup([]) == {}
    assert index.lookup([content.digest(b"unknown")]) == {}
    assert list(index.all_parts()) == []


def test_index_add_and_lookup(index: BlobIndex) -> None:
    parts = [_part(i) for i in range(5)]
    index.add(parts)
    index.add([])
    found = index.lookup([parts[1].id, parts[3].id, content.digest(b"other")])
    assert found == {parts[1].id: parts[1], parts[3].id: parts[3]}
    assert sorted(index.all_parts(), key=lambda p: p.offset) == parts


def test_index_keeps_the_first_location(index: BlobIndex) -> None:
    first = _part(1, "packs/first")
    index.add([first])
    index.add([_part(1, "packs/second"), _part(2, "packs/second")])
    assert index.lookup([first.id])[first.id].key == "packs/first"
    assert len(list(index.all_parts())) == 2


def test_index_lookup_of_many_ids(index: BlobIndex) -> None:
    parts = [_part(i) for i in range(3000)]
    index.add(parts)
    found = index.lookup([p.id for p in parts])
    assert len(found) == 3000
    assert found[parts[2999].id] == parts[2999]


# -- packing ----------------------------------------------------------------------------
def test_ten_thousand_tiny_blobs_make_a_handful_of_objects(
    objects: ObjectStore, index: BlobIndex
) -> None:
    writer = BlobWriter(objects, index)
    blobs = [f"tiny blob number {i}".encode() for i in range(10_000)]
    ids = [writer.add(b) for b in blobs]
    writer.flush()
    keys = list(objects.list())
    assert 1 <= len(keys) <= 3
    assert all(k.startswith("packs/") for k in keys)
    reader = BlobReader(objects, index)
    for i in (0, 1234, 9999):
        assert reader.read_part(writer.part(ids[i])) == blobs[i]


def test_big_blobs_are_objects_of_their_own(objects: ObjectStore, index: BlobIndex) -> None:
    writer = BlobWriter(objects, index)
    data = _rand(1, PACK_BELOW)
    blob_id = writer.add(data)
    writer.flush()
    part = writer.part(blob_id)
    assert part.key.startswith("chunks/")
    assert blob_id.removeprefix("blake3:") in part.key
    assert objects.get(part.key) == data  # random data is stored raw
    assert BlobReader(objects, index).read_part(part) == data
    again = BlobWriter(objects, index)  # found by its key: no index needed to deduplicate
    again.add(data)
    again.flush()
    assert again.part(blob_id) == part
    assert again.bytes_written == 0


def test_indexed_blobs_are_findable_by_id_after_flush(objects: ObjectStore, index: BlobIndex) -> None:
    """Directory blobs are read by id alone, so they must be in the index once flushed."""
    writer = BlobWriter(objects, index)
    blob_id = writer.add(b"a directory listing", indexed=True)
    assert index.lookup([blob_id]) == {}  # nothing is promised before flush
    writer.flush()
    assert writer.parts([blob_id]) == (index.lookup([blob_id])[blob_id],)
    assert BlobReader(objects, index).read(blob_id) == b"a directory listing"


def test_compressible_small_blobs_are_stored_compressed(objects: ObjectStore, index: BlobIndex) -> None:
    writer = BlobWriter(objects, index)
    text = b"a line of very repetitive text\n" * 2000
    blob_id = writer.add(text)
    writer.flush()
    part = writer.part(blob_id)
    assert part.codec == content.CODEC_ZSTD
    assert part.length < len(text) // 10
    assert part.size == len(text)
    assert BlobReader(objects, index).read_part(part) == text


# -- deduplication ----------------------------------------------------------------------
def test_identical_content_is_stored_once_across_writers(objects: ObjectStore, index: BlobIndex) -> None:
    """Big chunks and indexed blobs are found through the index; small file blobs through
    the parts the second writer is seeded with (the files already at the destination)."""
    big = _rand(2, 3 * MiB)
    small = [f"small {i}".encode() for i in range(100)]
    listing = b"directory listing blob"

    first = BlobWriter(objects, index)
    big_content = first.add_bytes(big)
    small_ids = [first.add(s) for s in small]
    first.add(listing, indexed=True)
    first.flush()
    keys_after_first = set(objects.list())
    assert first.bytes_written >= len(big)

    second = BlobWriter(objects, index)
    second.seed(first.parts(small_ids))
    again = second.add_bytes(big)
    assert [second.add(s) for s in small] == small_ids
    second.add(listing, indexed=True)
    second.flush()
    assert again == big_content
    assert second.bytes_written == 0
    assert set(objects.list()) == keys_after_first
    reader = BlobReader(objects, index)
    assert b"".join(reader.read_parts(second.parts(again.chunks))) == big
    assert reader.read_part(second.part(small_ids[7])) == small[7]


def test_same_blob_twice_in_one_writer_is_stored_once(objects: ObjectStore, index: BlobIndex) -> None:
    writer = BlobWriter(objects, index)
    a = writer.add(b"same bytes")
    b = writer.add(b"same bytes")
    writer.flush()
    assert a == b
    assert writer.bytes_written == len(b"same bytes")


def test_appending_to_a_big_file_stores_little_new_data(objects: ObjectStore, index: BlobIndex) -> None:
    data = _rand(3, 20 * MiB)
    first = BlobWriter(objects, index)
    original = first.add_bytes(data)
    first.flush()
    assert first.bytes_written >= 20 * MiB

    second = BlobWriter(objects, index)
    grown = second.add_bytes(data + _rand(4, MiB))
    second.flush()
    assert grown.size == 21 * MiB
    assert grown.id != original.id
    assert second.bytes_written < 10 * MiB
    shared = set(original.chunks) & set(grown.chunks)
    assert len(shared) >= len(original.chunks) - 2


@pytest.mark.parametrize("how", ["bytes", "stream", "path"])
def test_the_three_ways_in_give_the_same_content(how: str, tmp_path: Path) -> None:
    data = _rand(5, 5 * MiB + 17)
    writer = BlobWriter(MemoryObjectStore(), MemoryBlobIndex())
    expected = writer.add_bytes(data)
    if how == "bytes":
        got = writer.add_bytes(memoryview(data))
    elif how == "stream":
        got = writer.add_stream(io.BytesIO(data))
    else:
        path = tmp_path / "f"
        path.write_bytes(data)
        got = writer.add_path(str(path), len(data))
    assert got == expected
    assert len(got.chunks) > 1
    assert got.id == content.combine(list(got.chunks))


@pytest.mark.parametrize("size", [0, 1, 1000, content.SINGLE_BLOB_MAX])
def test_small_files_are_one_blob_whose_id_is_their_digest(size: int) -> None:
    data = _rand(6, size)
    writer = BlobWriter(MemoryObjectStore(), MemoryBlobIndex())
    for got in (writer.add_bytes(data), writer.add_stream(io.BytesIO(data))):
        assert got.chunks == (content.digest(data),)
        assert got.id == content.digest(data)
        assert got.size == size


# -- verified reads ---------------------------------------------------------------------
def _stored(objects: ObjectStore, index: BlobIndex, data: bytes) -> tuple[str, Part]:
    writer = BlobWriter(objects, index)
    blob_id = writer.add(data, indexed=True)
    writer.flush()
    return blob_id, writer.part(blob_id)


@pytest.mark.parametrize(
    "data",
    [_rand(7, PACK_BELOW + 5), _rand(8, 1000), b"compressible text; " * 500],
    ids=["chunk", "packed", "packed-zstd"],
)
def test_a_flipped_byte_is_detected(objects: ObjectStore, index: BlobIndex, data: bytes) -> None:
    _, part = _stored(objects, index, data)
    neighbour_id, _ = _stored(objects, index, b"neighbour blob")  # in another pack: intact
    _corrupt(objects, part.key, part.offset + part.length // 2)
    reader = BlobReader(objects, index)
    with pytest.raises(Corrupt):
        reader.read_part(part)
    with pytest.raises(Corrupt):
        list(reader.read_parts([part]))
    assert reader.read(neighbour_id) == b"neighbour blob"


def test_a_flipped_byte_in_a_local_object_file_is_detected(tmp_path: Path) -> None:
    objects = LocalObjectStore(tmp_path / "objects")
    index = MemoryBlobIndex()
    blob_id, part = _stored(objects, index, _rand(9, PACK_BELOW * 2))
    path = tmp_path / "objects" / part.key
    raw = bytearray(path.read_bytes())
    raw[12345] ^= 0x80
    path.write_bytes(bytes(raw))
    with pytest.raises(Corrupt, match="does not match"):
        BlobReader(objects, index).read(blob_id)
    assert BlobReader(objects, index).read_part(part, verify=False) == bytes(raw)


def test_a_truncated_object_is_corrupt(objects: ObjectStore, index: BlobIndex) -> None:
    blob_id, part = _stored(objects, index, _rand(10, 5000))
    objects.put(part.key, objects.get(part.key)[: part.offset + part.length - 1])
    with pytest.raises(Corrupt):
        BlobReader(objects, index).read(blob_id)


def test_a_missing_object_raises_object_missing(objects: ObjectStore, index: BlobIndex) -> None:
    small_id, small = _stored(objects, index, b"small blob")
    big_id, big = _stored(objects, index, _rand(11, PACK_BELOW))
    objects.delete(small.key)
    objects.delete(big.key)
    reader = BlobReader(objects, index)
    for blob_id in (small_id, big_id):
        with pytest.raises(ObjectMissing):
            reader.read(blob_id)


def test_an_unknown_blob_raises_object_missing(objects: ObjectStore, index: BlobIndex) -> None:
    with pytest.raises(ObjectMissing):
        BlobReader(objects, index).read(content.digest(b"never stored"))


def test_object_missing_is_a_kind_of_corrupt() -> None:
    assert issubclass(ObjectMissing, Corrupt)


# -- concurrency ------------------------------------------------------------------------
def test_one_writer_shared_by_threads(objects: ObjectStore, index: BlobIndex) -> None:
    from concurrent.futures import ThreadPoolExecutor

    writer = BlobWriter(objects, index)
    payloads: list[bytes] = [f"blob {i}".encode() * (i % 7 + 1) for i in range(2000)]
    payloads += [_rand(100 + i, PACK_BELOW + i) for i in range(4)]
    add: Callable[[bytes], str] = writer.add
    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(add, payloads + payloads))
    writer.flush()
    reader = BlobReader(objects, index)
    assert ids[: len(payloads)] == ids[len(payloads):]
    for blob_id, data in zip(ids, payloads, strict=False):
        assert reader.read_part(writer.part(blob_id)) == data


# -- crash safety -----------------------------------------------------------------------
class _FullDisk(MemoryObjectStore):
    def put(self, key: str, data: bytes | memoryview) -> None:
        raise OSError("no space left on device")


def test_the_index_never_points_at_an_object_that_was_not_written(index: BlobIndex) -> None:
    writer = BlobWriter(_FullDisk(), index)
    with pytest.raises(OSError):
        writer.add(_rand(12, PACK_BELOW))
    writer.add(b"a small indexed blob", indexed=True)
    with pytest.raises(OSError):
        writer.flush()
    assert list(index.all_parts()) == []
