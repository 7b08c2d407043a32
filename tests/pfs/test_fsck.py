"""``fsck`` finds flipped bytes, missing objects and broken references; leftovers of
interrupted writes are warnings only."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

import loxo
from loxo.meta import schema
from loxo.storage.blobs import PACK_BELOW

MiB = 1 << 20


def _errors(client: loxo.Client) -> list[loxo.FsckProblem]:
    return [p for p in client.fsck() if p.severity == "error"]


def _object_files(home: Path) -> list[Path]:
    root = home / "objects"
    return sorted(p for p in root.rglob("*") if p.is_file() and ".tmp" not in p.relative_to(root).parts)


@pytest.fixture
def filled(client: loxo.Client, repo: str) -> loxo.Client:
    """A repo with a chunked big file, small packed files and a few commits."""
    client.put_file(f"{repo}@master:/big.bin", random.Random(1).randbytes(3 * MiB))
    client.put_files(f"{repo}@master", [loxo.Source(f"/small/{i}", data=b"s%d" % i) for i in range(50)])
    client.put_file(f"{repo}@master:/text.txt", b"some compressible text\n" * 1000)
    client.create_branch(f"{repo}@dev", head=f"{repo}@master^")
    return client


def test_clean_store_has_no_problems(filled: loxo.Client) -> None:
    assert filled.fsck() == []


def test_empty_store_has_no_problems(client: loxo.Client) -> None:
    assert client.fsck() == []


def test_flipped_byte_in_a_chunk_object(filled: loxo.Client, home: Path) -> None:
    chunk = next(p for p in _object_files(home) if p.parts[-3] == "chunks")
    data = bytearray(chunk.read_bytes())
    data[len(data) // 2] ^= 0x01
    chunk.write_bytes(bytes(data))
    errors = _errors(filled)
    assert errors
    assert any("does not match" in p.problem and chunk.name in p.problem for p in errors), errors
    assert any("big.bin" in p.where for p in errors), errors


@pytest.mark.parametrize("seed", range(6))
def test_flipped_byte_anywhere_in_any_object(filled: loxo.Client, home: Path, seed: int) -> None:
    """Whichever object and byte: fsck reports an error (and never crashes)."""
    rng = random.Random(seed)
    victim = rng.choice(_object_files(home))
    data = bytearray(victim.read_bytes())
    data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    victim.write_bytes(bytes(data))
    assert _errors(filled), f"flipping a byte in {victim.name} went unnoticed"


def test_flipped_byte_in_every_pack(filled: loxo.Client, home: Path) -> None:
    for pack in (p for p in _object_files(home) if p.parent.name == "packs"):
        data = bytearray(pack.read_bytes())
        data[-1] ^= 0xFF
        pack.write_bytes(bytes(data))
    assert _errors(filled)


def test_deleted_object(filled: loxo.Client, home: Path) -> None:
    chunk = next(p for p in _object_files(home) if p.parts[-3] == "chunks")
    chunk.unlink()
    errors = _errors(filled)
    assert any(chunk.name in p.where or chunk.name in p.problem for p in errors), errors
    assert any("missing" in p.problem for p in errors), errors


def test_every_deleted_object_is_noticed(filled: loxo.Client, home: Path) -> None:
    objects = _object_files(home)
    assert len(objects) >= 3
    for victim in objects:
        saved = victim.read_bytes()
        victim.unlink()
        assert _errors(filled), f"deleting {victim.relative_to(home)} went unnoticed"
        victim.write_bytes(saved)
    assert filled.fsck() == []


def test_truncated_object(filled: loxo.Client, home: Path) -> None:
    chunk = next(p for p in _object_files(home) if p.parts[-3] == "chunks")
    chunk.write_bytes(chunk.read_bytes()[: PACK_BELOW // 2])
    assert _errors(filled)


@pytest.mark.embedded_only
def test_unreferenced_objects_are_warnings_only(filled: loxo.Client, home: Path) -> None:
    filled.pfs.store.objects.put("packs/leftover-from-a-killed-writer", b"junk")
    filled.pfs.store.objects.put("chunks/ab/abandoned", b"junk")
    problems = filled.fsck()
    assert problems
    assert all(p.severity == "warning" for p in problems)
    assert {p.where for p in problems} >= {"packs/leftover-from-a-killed-writer", "chunks/ab/abandoned"}


def test_temporary_files_are_warnings_and_fix_removes_them(filled: loxo.Client, home: Path) -> None:
    tmp = home / "objects" / ".tmp"
    (tmp / "half-written").write_bytes(b"partial")
    problems = filled.fsck()
    assert [p.severity for p in problems] == ["warning"]
    filled.fsck(fix=True)
    assert list(tmp.iterdir()) == []
    assert filled.fsck() == []


@pytest.mark.embedded_only
def test_dangling_branch_head_and_parent(filled: loxo.Client, repo: str) -> None:
    db = filled.pfs.store.db
    with db.write() as conn:
        conn.execute(schema.branches.update().where(schema.branches.c.name == "dev")
                     .values(head="f" * 32))
    errors = _errors(filled)
    assert any(p.where == f"{repo}@dev" and "does not exist" in p.problem for p in errors), errors
    with db.write() as conn:
        first = filled.inspect_commit(f"{repo}@master.1").id
        conn.execute(schema.commits.update().where(schema.commits.c.id == first).values(parent="e" * 32))
    assert any("parent commit" in p.problem for p in _errors(filled))


@pytest.mark.embedded_only
def test_wrong_recorded_size(filled: loxo.Client, repo: str) -> None:
    head = filled.inspect_commit(f"{repo}@master").id
    with filled.pfs.store.db.write() as conn:
        conn.execute(schema.commits.update().where(schema.commits.c.id == head).values(size_bytes=1))
    assert any("recorded" in p.problem for p in _errors(filled))


def test_deleting_history_leaves_the_store_consistent(filled: loxo.Client, repo: str) -> None:
    filled.delete_branch(f"{repo}@dev")
    filled.squash_commit(f"{repo}@master^")
    filled.delete_commit(f"{repo}@master")
    assert _errors(filled) == []
    filled.delete_repo(repo)
    assert _errors(filled) == []


@pytest.mark.embedded_only
def test_fsck_reads_directories_from_the_store_not_a_cache(filled: loxo.Client, repo: str,
                                                          home: Path) -> None:
    """A long-lived client has every directory cached; fsck must still see corruption."""
    root_id = filled.inspect_file(f"{repo}@master:/").hash
    assert [f.path for f in filled.list_file(f"{repo}@master")]  # the root is now cached
    part = filled.pfs.store.index.lookup([root_id])[root_id]
    path = home / "objects" / part.key
    data = bytearray(path.read_bytes())
    data[part.offset + part.length // 2] ^= 0x04
    path.write_bytes(bytes(data))
    errors = _errors(filled)
    assert any(root_id in p.problem for p in errors), errors
