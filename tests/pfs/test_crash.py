"""Crash safety: ``kill -9`` a writer at random moments, again and again.

After every kill the store must be consistent (``fsck`` finds no error), every commit
visible on ``master`` must be complete and byte-identical to what was put, and no
partial commit may be visible. At the end a normal put must work.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import blake3
import pytest

import loxo
from loxo.model import FileKind
from loxo.storage import content

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

MiB = 1 << 20
BIG_SIZE = 150 * MiB
SMALL_COUNT = 3000

WRITER = """
import sys
import loxo

home, big, small, n, what = sys.argv[1:]
with loxo.Client(home) as c:
    if "big" in what:
        c.put_path(f"data@master:/big-{n}", big)
    if "small" in what:
        c.put_path(f"data@master:/small-{n}", small, recursive=True)
print("done", flush=True)
"""


@dataclass(frozen=True)
class Payload:
    big: Path
    big_id: str  # loxo's content id of the big file
    small: Path
    small_ids: dict[str, str]  # relative path -> content id
    small_sizes: dict[str, int]

    @property
    def small_total(self) -> int:
        return sum(self.small_sizes.values())


@pytest.fixture(scope="module")
def payload(tmp_path_factory: pytest.TempPathFactory) -> Payload:
    root = tmp_path_factory.mktemp("payload")
    rng = random.Random(99)
    big = root / "big.bin"
    with open(big, "wb") as f:
        for _ in range(BIG_SIZE // (10 * MiB)):
            f.write(rng.randbytes(10 * MiB))
    big_id = content.combine([content.digest(c) for c in content.cut_file(str(big))])

    small = root / "small"
    ids: dict[str, str] = {}
    sizes: dict[str, int] = {}
    for i in range(SMALL_COUNT):
        rel = f"d{i % 30:02}/f{i:05}.dat"
        data = rng.randbytes(rng.randrange(0, 4000)) if i % 3 else (b"text %d\n" % i) * rng.randrange(1, 300)
        path = small / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        ids[rel] = content.digest(data)
        sizes[rel] = len(data)
    return Payload(big, big_id, small, ids, sizes)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Path]:
    home = tmp_path / "store"
    with loxo.Client(home) as c:
        c.create_repo("data")
    yield home


def _start_writer(home: Path, payload: Payload, n: int, what: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(home), str(payload.big), str(payload.small), str(n), what],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=home.parent,
    )


def _same_bytes(client: loxo.Client, address: str, local: Path) -> bool:
    h = blake3.blake3()
    for chunk in client.read_file(address):
        h.update(chunk)
    return h.hexdigest() == blake3.blake3(local.read_bytes()).hexdigest()


def _check_consistent(home: Path, payload: Payload, read_back: bool) -> int:
    """Everything a reader can see is complete; returns how many commits master has."""
    with loxo.Client(home) as c:
        errors = [p for p in c.fsck() if p.severity == "error"]
        assert errors == [], errors
        branches = {b.name: b for b in c.list_branch("data")}
        if "master" not in branches:
            return 0
        assert branches["master"].open_commit is None  # puts never leave an open commit
        commits = c.list_commit("data@master")
        assert all(not ci.is_open for ci in commits)
        assert [ci.id for ci in commits] == [ci.id for ci in c.list_commit("data")]
        for ci in commits:
            files = {f.path: f for f in c.walk_file(f"data@{ci.id}") if f.kind is FileKind.FILE}
            tops = {p.split("/")[1] for p in files}
            expected_size = 0
            for top in tops:
                if top.startswith("big-"):
                    f = files[f"/{top}"]
                    assert (f.size_bytes, f.hash) == (BIG_SIZE, payload.big_id), f"{ci.id}: {top} partial"
                    expected_size += BIG_SIZE
                else:
                    assert top.startswith("small-"), top
                    got = {p.removeprefix(f"/{top}/"): f.hash for p, f in files.items()
                           if p.startswith(f"/{top}/")}
                    assert got == payload.small_ids, f"{ci.id}: {top} has {len(got)} of {SMALL_COUNT} files"
                    expected_size += payload.small_total
            assert ci.size_bytes == expected_size
        if read_back and commits:
            head = commits[0]
            files = [f for f in c.walk_file(f"data@{head.id}") if f.kind is FileKind.FILE]
            bigs = [f for f in files if f.path.startswith("/big-")]
            if bigs:
                assert _same_bytes(c, f"data@{head.id}:{bigs[-1].path}", payload.big)
            smalls = [f for f in files if f.path.startswith("/small-")]
            for f in random.Random(len(commits)).sample(smalls, min(50, len(smalls))):
                rel = f.path.split("/", 2)[2]
                assert c.get_file(f"data@{head.id}:{f.path}") == (payload.small / rel).read_bytes()
        return len(commits)


@pytest.mark.parametrize(("what", "iterations"), [("big+small", 8), ("small", 10)])
def test_kill_9_leaves_a_consistent_store(store: Path, payload: Payload, what: str, iterations: int) -> None:
    rng = random.Random(f"{what}-{iterations}")
    # How long one whole run takes on this machine now (on a scratch store), so that the
    # kills land inside runs however loaded the machine is.
    scratch = store.parent / "scratch"
    with loxo.Client(scratch) as c:
        c.create_repo("data")
    started = time.monotonic()
    proc = _start_writer(scratch, payload, 0, what)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err.decode()
    full_run = time.monotonic() - started

    killed = 0
    for n in range(iterations):
        proc = _start_writer(store, payload, n, what)
        time.sleep(rng.uniform(0.15, 1.1) * full_run)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        _, err = proc.communicate(timeout=60)
        if proc.returncode != 0:
            assert proc.returncode == -signal.SIGKILL, err.decode()
            killed += 1
        commits = _check_consistent(store, payload, read_back=True)
        print(f"iteration {n}: exit {proc.returncode}, master has {commits} commits (run {full_run:.1f} s)")
    assert killed >= 1, "every writer finished before its kill: nothing was tested"

    # after all that, a normal put works and its result is complete
    proc = _start_writer(store, payload, iterations, what)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err.decode()
    assert b"done" in out
    commits = _check_consistent(store, payload, read_back=True)
    assert commits >= 1
    with loxo.Client(store) as c:
        names = {f.path for f in c.list_file("data@master")}
        if "big" in what:
            assert f"/big-{iterations}" in names
        assert f"/small-{iterations}" in names
        c.put_file("data@master:/after", b"after the crashes")
        assert c.get_file("data@master:/after") == b"after the crashes"
        c.fsck(fix=True)
        assert all(p.severity == "warning" and "unreferenced" in p.problem for p in c.fsck())
