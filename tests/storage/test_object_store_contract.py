"""One contract for every ``ObjectStore`` backend.

To add a backend, add a factory to ``BACKENDS``; every test below then runs on it. A
factory gets the test's ``request`` (to ask for fixtures such as ``s3_server``) and
``tmp_path``, and returns a fresh, empty store. Backends that start a server are marked
``slow`` in ``_MARKS``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from loxo.errors import InvalidArgument, ObjectMissing
from loxo.storage.objects import (
    LocalObjectStore,
    MemoryObjectStore,
    ObjectStore,
    open_object_store,
)
from loxo.storage.s3 import S3ObjectStore


def _s3(request: pytest.FixtureRequest, tmp: Path) -> ObjectStore:
    """A prefix of its own in the session's SeaweedFS bucket: empty, like the others."""
    return open_object_store(request.getfixturevalue("s3_server").url("contract"))


BACKENDS: dict[str, Callable[[pytest.FixtureRequest, Path], ObjectStore]] = {
    "local": lambda request, tmp: LocalObjectStore(tmp / "objects"),
    "local-fsync": lambda request, tmp: LocalObjectStore(tmp / "objects", fsync=True),
    "memory": lambda request, tmp: MemoryObjectStore(),
    "s3": _s3,
}
_MARKS = {"s3": [pytest.mark.slow]}


@pytest.fixture(params=[pytest.param(name, marks=_MARKS.get(name, [])) for name in sorted(BACKENDS)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStore:
    return BACKENDS[request.param](request, tmp_path)


def test_put_then_get(store: ObjectStore) -> None:
    store.put("chunks/ab/abcdef", b"hello")
    assert store.get("chunks/ab/abcdef") == b"hello"
    assert store.exists("chunks/ab/abcdef")
    assert store.size("chunks/ab/abcdef") == 5


def test_put_accepts_memoryview_and_empty_data(store: ObjectStore) -> None:
    data = bytearray(b"0123456789")
    store.put("view", memoryview(data)[2:6])
    store.put("empty", b"")
    assert store.get("view") == b"2345"
    assert store.get("empty") == b""
    assert store.size("empty") == 0
    assert store.exists("empty")


def test_stored_bytes_do_not_alias_the_callers_buffer(store: ObjectStore) -> None:
    data = bytearray(b"original")
    store.put("k", data)
    data[:] = b"changed!"
    assert store.get("k") == b"original"


def test_binary_data_round_trips(store: ObjectStore) -> None:
    data = bytes(range(256)) * 1000
    store.put("packs/bin", data)
    assert store.get("packs/bin") == data


def test_get_range(store: ObjectStore) -> None:
    store.put("r", b"0123456789")
    assert store.get_range("r", 0, 3) == b"012"
    assert store.get_range("r", 4, 2) == b"45"
    assert store.get_range("r", 7, 3) == b"789"
    assert store.get_range("r", 8, 100) == b"89"  # short read at the end, never padding
    assert store.get_range("r", 10, 5) == b""
    assert store.get_range("r", 3, 0) == b""


def test_range_reads_follow_overwrites_and_deletes(store: ObjectStore) -> None:
    """Readers may keep objects open between range reads (a datum worker's local store
    does); a replaced object reads new bytes and a deleted one is missing, as with no
    cache."""
    if isinstance(store, LocalObjectStore):
        store.keep_open = 2
    store.put("packs/p", b"first version")
    assert store.get_range("packs/p", 0, 5) == b"first"
    store.put("packs/p", b"second")
    assert store.get_range("packs/p", 0, 6) == b"second"
    store.delete("packs/p")
    with pytest.raises(ObjectMissing):
        store.get_range("packs/p", 0, 1)


def test_missing_key_raises_object_missing(store: ObjectStore) -> None:
    assert not store.exists("nope")
    with pytest.raises(ObjectMissing):
        store.get("nope")
    with pytest.raises(ObjectMissing):
        store.get_range("nope", 0, 1)
    with pytest.raises(ObjectMissing):
        store.size("nope")
    with pytest.raises(ObjectMissing):
        store.get("chunks/zz/nope")  # missing directory too


def test_delete_is_idempotent(store: ObjectStore) -> None:
    store.put("a/b", b"x")
    store.delete("a/b")
    assert not store.exists("a/b")
    with pytest.raises(ObjectMissing):
        store.get("a/b")
    store.delete("a/b")
    store.delete("never/there")


def test_list_with_prefix(store: ObjectStore) -> None:
    keys = {"chunks/ab/ab1", "chunks/ab/ab2", "chunks/cd/cd1", "packs/p1", "packs/p2", "top"}
    for k in keys:
        store.put(k, k.encode())
    assert set(store.list()) == keys
    assert set(store.list("")) == keys
    assert set(store.list("chunks/")) == {"chunks/ab/ab1", "chunks/ab/ab2", "chunks/cd/cd1"}
    assert set(store.list("chunks/ab")) == {"chunks/ab/ab1", "chunks/ab/ab2"}
    assert set(store.list("packs/p2")) == {"packs/p2"}
    assert set(store.list("zzz")) == set()
    store.delete("packs/p1")
    assert set(store.list("packs/")) == {"packs/p2"}


def test_list_of_empty_store(store: ObjectStore) -> None:
    assert list(store.list()) == []


def test_overwrite_replaces_the_whole_object(store: ObjectStore) -> None:
    store.put("k", b"a much longer first version")
    store.put("k", b"short")
    assert store.get("k") == b"short"
    assert store.size("k") == 5
    assert list(store.list()) == ["k"]


def test_readers_never_see_a_partial_object(store: ObjectStore) -> None:
    """While one thread rewrites a key, another only ever reads one complete version."""
    size = 1 << 20
    versions = [bytes([v]) * size for v in range(4)]
    store.put("hot", versions[0])
    stop = threading.Event()
    bad: list[str] = []

    def read() -> None:
        while not stop.is_set():
            data = store.get("hot")
            if len(data) != size or data.count(data[:1]) != size:
                bad.append(f"read {len(data)} bytes, mixed={data.count(data[:1]) != size}")
                return

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for i in range(40):
            store.put("hot", versions[i % 4])
    finally:
        stop.set()
        reader.join()
    assert bad == []


@pytest.mark.parametrize(
    "key",
    ["", "/", "/abs", "/abs/key", "a/", "a//b", "..", "../x", "a/../b", "a/..", ".", "./a", "a/./b",
     ".tmp/x", ".tmp"],
)
def test_invalid_keys_are_refused_by_every_method(store: ObjectStore, key: str) -> None:
    with pytest.raises(InvalidArgument):
        store.put(key, b"x")
    with pytest.raises(InvalidArgument):
        store.get(key)
    with pytest.raises(InvalidArgument):
        store.get_range(key, 0, 1)
    with pytest.raises(InvalidArgument):
        store.exists(key)
    with pytest.raises(InvalidArgument):
        store.size(key)
    with pytest.raises(InvalidArgument):
        store.delete(key)
    assert list(store.list()) == []


def test_concurrent_writers_of_distinct_keys(store: ObjectStore) -> None:
    def write(t: int) -> None:
        for i in range(50):
            store.put(f"t{t}/k{i}", f"{t}:{i}".encode())

    threads = [threading.Thread(target=write, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(set(store.list())) == 200
    assert store.get("t3/k49") == b"3:49"


# -- local backend specifics ------------------------------------------------------------
def test_local_objects_are_plain_files_under_their_key(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "objects")
    store.put("chunks/ab/abc", b"data")
    assert (tmp_path / "objects" / "chunks" / "ab" / "abc").read_bytes() == b"data"


def test_local_interrupted_write_leaves_nothing_under_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The write goes to ``.tmp`` first; if the rename never happens the key stays absent."""
    store = LocalObjectStore(tmp_path / "objects")
    store.put("packs/p", b"old version")

    def crash(src: object, dst: object) -> None:
        raise OSError("simulated crash before rename")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="simulated crash"):
        store.put("packs/new", b"x" * 100_000)
    with pytest.raises(OSError, match="simulated crash"):
        store.put("packs/p", b"new version")
    monkeypatch.undo()

    assert not store.exists("packs/new")
    assert not (tmp_path / "objects" / "packs" / "new").exists()
    assert store.get("packs/p") == b"old version"
    assert sorted(store.list()) == ["packs/p"]  # temporary files are never listed
    leftovers = list((tmp_path / "objects" / ".tmp").iterdir())
    assert len(leftovers) == 2
    assert store.clean_temporary() == 2
    assert list((tmp_path / "objects" / ".tmp").iterdir()) == []


def test_local_store_survives_reopen(tmp_path: Path) -> None:
    LocalObjectStore(tmp_path / "o").put("a/b/c", b"kept")
    again = LocalObjectStore(tmp_path / "o")
    assert again.get("a/b/c") == b"kept"
    assert list(again.list()) == ["a/b/c"]


def test_open_object_store_by_url(tmp_path: Path) -> None:
    local = open_object_store(str(tmp_path / "a"))
    assert isinstance(local, LocalObjectStore)
    assert isinstance(open_object_store(f"file://{tmp_path / 'b'}"), LocalObjectStore)
    assert isinstance(open_object_store("memory://"), MemoryObjectStore)
    s3 = open_object_store("s3://bucket/some/prefix?endpoint=http://127.0.0.1:1")
    assert isinstance(s3, S3ObjectStore)  # opening does no I/O: nothing listens there
    assert s3.url == "s3://bucket/some/prefix?endpoint=http://127.0.0.1:1"
    with pytest.raises(InvalidArgument):
        open_object_store("gopher://host/bucket")
