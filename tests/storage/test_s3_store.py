"""The S3 backend beyond the shared contract: its URL, big objects, long listings, failures,
and a whole loxo store on S3 — all against a real server (SeaweedFS), never a mock."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import obstore
import pytest
from obstore.store import S3Store

import loxo
from loxo.errors import InvalidArgument, ObjectMissing, StorageUnavailable
from loxo.storage.objects import open_object_store
from loxo.storage.s3 import S3Location, S3ObjectStore, parse_s3_url
from tests.support.seaweed import S3Server

MiB = 1 << 20


@pytest.fixture
def store(s3_server: S3Server) -> S3ObjectStore:
    opened = open_object_store(s3_server.url("s3-test"))
    assert isinstance(opened, S3ObjectStore)
    return opened


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- URLs: pure, no server -------------------------------------------------------------
def test_url_parts_and_canonical_form() -> None:
    loc = parse_s3_url("s3://my-bucket/a/b/?endpoint=http://127.0.0.1:8333/&region=eu-west-1")
    assert loc == S3Location("my-bucket", "a/b", "http://127.0.0.1:8333", "eu-west-1", allow_http=True)
    assert loc.url == "s3://my-bucket/a/b?endpoint=http://127.0.0.1:8333&region=eu-west-1"
    assert parse_s3_url(loc.url) == loc
    assert parse_s3_url("s3://bucket") == S3Location("bucket")
    assert parse_s3_url("s3://bucket/").prefix == ""
    https = parse_s3_url("s3://bucket/p?endpoint=https://s3.example.com")
    assert not https.allow_http
    from_env = parse_s3_url("s3://bucket/p?allow_http=true")  # the endpoint comes from AWS_ENDPOINT_URL
    assert from_env.allow_http and from_env.endpoint is None
    assert parse_s3_url(from_env.url) == from_env


@pytest.mark.parametrize(
    "url",
    [
        "s3://", "s3:///prefix", "s3://Upper_Case/x", "s3://ab/x", "s3://bucket/a//b", "s3://bucket/a/../b",
        "s3://bucket/x?endpoint=ftp://host", "s3://bucket/x?endpoint=http://", "s3://bucket/x?endpoint=nohost",
        "s3://bucket/x?endpoint=http://h:99999", "s3://bucket/x?colour=blue", "s3://bucket/x?region=",
        "s3://bucket/x?endpoint=http://a&endpoint=http://b", "s3://bucket/x?allow_http=maybe",
        "s3://key:secret@bucket/x", "s3://bucket:9000/x", "s3://bucket:port/x", "s3://[bucket/x",
        "s3://bucket/x#frag", "s3://bucket/x?novalue",
    ],
)
def test_bad_urls_are_refused_in_one_line(url: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        open_object_store(url)
    assert "\n" not in caught.value.message


# -- big objects and long listings ------------------------------------------------------
@pytest.mark.slow
@pytest.mark.timeout(120)
def test_big_object_goes_up_in_parts_and_reads_back(store: S3ObjectStore) -> None:
    data = os.urandom(12 * MiB)  # above the multipart threshold (8 MiB parts)
    store.put("packs/big", data)
    assert store.size("packs/big") == len(data)
    assert store.get("packs/big") == data
    boundary = 8 * MiB
    assert store.get_range("packs/big", boundary - 10, 20) == data[boundary - 10 : boundary + 10]
    assert store.get_range("packs/big", 11 * MiB, 2 * MiB) == data[11 * MiB :]  # short at the end
    store.put("packs/view", memoryview(data)[1:])  # a writer's buffer, not bytes
    assert store.get("packs/view") == data[1:]
    assert sorted(store.list("packs/")) == ["packs/big", "packs/view"]


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_interrupted_multipart_upload_leaves_nothing_visible(s3_server: S3Server) -> None:
    """What the backend relies on: S3 shows no object until the upload completes."""
    store = S3ObjectStore.from_url(s3_server.url("multipart"))
    loc = store.location
    raw = S3Store(loc.bucket, prefix=loc.prefix, endpoint=loc.endpoint, client_options={"allow_http": True})

    def parts_then_crash() -> Iterator[bytes]:
        yield os.urandom(6 * MiB)
        yield os.urandom(6 * MiB)
        raise RuntimeError("writer killed mid-upload")

    with pytest.raises(RuntimeError, match="killed"):
        obstore.put(raw, "packs/torn", parts_then_crash(), chunk_size=5 * MiB)
    assert not store.exists("packs/torn")
    with pytest.raises(ObjectMissing):
        store.get("packs/torn")
    assert list(store.list()) == []


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_list_streams_many_keys_under_nested_prefixes(store: S3ObjectStore) -> None:
    keys = {f"chunks/{i % 7:02x}/{i:06d}" for i in range(2100)} | {f"packs/p{i}" for i in range(400)}
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: store.put(k, b"."), keys))
    assert set(store.list()) == keys
    assert set(store.list("chunks/03/")) == {k for k in keys if k.startswith("chunks/03/")}
    assert set(store.list("packs/p1")) == {k for k in keys if k.startswith("packs/p1")}  # not a whole segment
    assert set(store.list("chunks/0")) == {k for k in keys if k.startswith("chunks/")}
    assert list(store.list("chunks/99/")) == []
    assert list(store.list("chunks/../packs/")) == []  # nothing valid lies there

    # Pages are fetched as the caller goes (1,000 keys each), never the whole listing at
    # once: a key written after the first page was read still shows up at the end.
    listing = store.list()
    next(listing)
    store.put("zz/late", b".")
    assert "zz/late" in set(listing)


# -- failures: each one loxo error, in one line, quickly ---------------------------------
@pytest.mark.slow
@pytest.mark.timeout(120)
def test_missing_object_names_the_store(store: S3ObjectStore) -> None:
    with pytest.raises(ObjectMissing, match=r"chunks/ab/nope is missing from s3://loxo-test/s3-test-"):
        store.get("chunks/ab/nope")
    assert not store.exists("chunks/ab/nope")
    store.delete("chunks/ab/nope")  # absent keys are ignored


@pytest.mark.slow
@pytest.mark.timeout(60)
def test_unreachable_endpoint_fails_fast_with_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # Credentials present, so obstore goes straight to the endpoint (without any it would
    # first ask the EC2 metadata service for some).
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "someone")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    store = open_object_store(f"s3://bucket/p?endpoint={endpoint}")
    calls: dict[str, Callable[[], object]] = {
        "put": lambda: store.put("k", b"x"), "get": lambda: store.get("k"),
        "get_range": lambda: store.get_range("k", 0, 1), "exists": lambda: store.exists("k"),
        "size": lambda: store.size("k"), "delete": lambda: store.delete("k"),
        "list": lambda: list(store.list()),
    }
    for name, call in calls.items():
        began = time.monotonic()
        with pytest.raises(StorageUnavailable) as caught:
            call()
        assert time.monotonic() - began < 10, f"{name} took too long to give up"
        assert not isinstance(caught.value, ObjectMissing), name  # not reachable is not "missing"
        message = caught.value.message
        assert "\n" not in message and endpoint in message and "check the endpoint" in message, message


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_wrong_credentials_say_so(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
    store = open_object_store(s3_server.url())
    with pytest.raises(StorageUnavailable, match="check the credentials") as caught:
        store.put("k", b"x")
    assert not isinstance(caught.value, ObjectMissing)


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_missing_bucket_is_not_a_missing_object(s3_server: S3Server) -> None:
    store = open_object_store(f"s3://no-such-bucket/p?endpoint={s3_server.endpoint}")
    with pytest.raises(StorageUnavailable, match="bucket 'no-such-bucket' does not exist") as caught:
        store.put("k", b"x")
    assert not isinstance(caught.value, ObjectMissing)


# -- the URL is all another process needs ---------------------------------------------
@pytest.mark.slow
@pytest.mark.timeout(120)
def test_endpoint_and_region_may_come_from_the_environment(
    s3_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server.endpoint)
    store = open_object_store(f"s3://{s3_server.bucket}/from-env?allow_http=true")
    store.put("k", b"env")
    assert store.get("k") == b"env"


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_a_subprocess_reopens_the_store_from_its_url(s3_server: S3Server) -> None:
    url = s3_server.url("worker")
    open_object_store(url).put("chunks/ab/abc", b"from the parent")
    script = (
        "import sys; from loxo.storage.objects import open_object_store\n"
        "s = open_object_store(sys.argv[1]); sys.stdout.write(s.get('chunks/ab/abc').decode())\n"
        "s.put('packs/child', b'from the child')\n"
    )
    done = subprocess.run([sys.executable, "-c", script, url], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "from the parent"
    assert open_object_store(url).get("packs/child") == b"from the child"


# -- a whole loxo store with its objects on S3 ----------------------------------------
@pytest.mark.slow
@pytest.mark.timeout(120)
def test_loxo_store_on_s3_round_trips_and_passes_fsck(s3_server: S3Server, home: Path) -> None:
    url = s3_server.url("client")
    big = os.urandom(20 * MiB)
    small = {f"/small/{i // 100}/f{i}.txt": f"file {i}\n".encode() * (1 + i % 7) for i in range(500)}
    with loxo.Client(home, storage=url) as client:
        client.create_repo("data")
        client.put_file("data@master:/big.bin", big)
        client.put_files("data@master", [loxo.Source(path, data=data) for path, data in small.items()])
    assert any(True for _ in open_object_store(url).list("chunks/")), "objects went elsewhere"
    assert not any((home / "objects").rglob("chunks")), "objects went to the local directory"

    with loxo.Client(home, storage=url) as client:  # reopened: nothing cached in memory
        assert client.get_file("data@master:/big.bin") == big
        for path in ("/small/0/f0.txt", "/small/2/f257.txt", "/small/4/f499.txt"):
            assert client.get_file(f"data@master:{path}") == small[path]
        out = home.parent / "out"
        assert client.get_files("data@master:/small", out) == 500
        for path, data in small.items():
            assert (out / path.removeprefix("/small/")).read_bytes() == data
        assert client.fsck() == []
