"""``fsck``: verify every object hash and every reference."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, NamedTuple

from sqlalchemy import select

from loxo.errors import LoxoError
from loxo.meta import schema
from loxo.model.refs import FsckProblem
from loxo.pfs.dirblobs import SHARD_ABOVE, Dir, DirIndex, Entry, ends_shard, read_node, read_shard
from loxo.pfs.store import Store
from loxo.storage import content
from loxo.storage.objects import LocalObjectStore


class FsckOps:
    store: Store

    def fsck(self, fix: bool = False) -> list[FsckProblem]:
        """Everything wrong with the store; empty means consistent.

        Problems with severity ``warning`` (objects left by interrupted writes) do not
        make the store inconsistent; ``fix`` removes leftover temporary files.
        """
        return list(_Checker(self.store, fix).run())


class _Checker:
    def __init__(self, store: Store, fix: bool) -> None:
        self.store = store
        self.fix = fix
        self.seen_dirs: set[str] = set()
        self.seen_shards: dict[str, _ShardFacts] = {}  # a shard is shared by many versions
        self.seen_blobs: set[str] = set()
        self.seen_keys: set[str] = set()

    def run(self) -> Iterator[FsckProblem]:
        with self.store.db.read() as conn:
            repos = {r.id: r.name for r in conn.execute(select(schema.repos))}
            commits = conn.execute(select(schema.commits)).all()
            branches = conn.execute(select(schema.branches)).all()
        ids = {(c.repo_id, c.id): c for c in commits}
        for b in branches:
            where = f"{repos[b.repo_id]}@{b.name}"
            head = ids.get((b.repo_id, b.head)) if b.head else None
            if b.head and head is None:
                yield FsckProblem(where, f"branch head {b.head} does not exist")
            elif head is not None and head.finished_at is None:
                yield FsckProblem(where, f"branch head {b.head} is not finished")
        for c in commits:
            where = f"{repos.get(c.repo_id, '?')}@{c.id}"
            if c.parent and (c.repo_id, c.parent) not in ids:
                yield FsckProblem(where, f"parent commit {c.parent} does not exist")
            if c.tree is not None:
                yield from self._check_dir(where, c.tree, c.size_bytes)
        yield from self._check_datum_outputs()
        yield from self._check_objects()

    def _check_datum_outputs(self) -> Iterator[FsckProblem]:
        """Each datum's output tree: its rows refer to it (lineage, a resumed job's
        landing), and where its files equal data stored before, no commit does."""
        D, J, P = schema.datums, schema.jobs, schema.pipelines
        with self.store.db.read() as conn:
            rows = conn.execute(
                select(D.c.output_tree, D.c.output_size, D.c.datum_id, J.c.id, P.c.name)
                .join(J, J.c.pk == D.c.job_pk).join(P, P.c.id == J.c.pipeline_id)
                .where(D.c.output_tree.is_not(None))).all()
        for tree, size, datum, job, pipeline in rows:
            yield from self._check_dir(f"{pipeline} job {job} datum {datum}", tree, size)

    def _check_dir(self, where: str, dir_id: str, size: int) -> Iterator[FsckProblem]:
        if dir_id in self.seen_dirs:
            return
        self.seen_dirs.add(dir_id)
        try:
            # straight from the store: the tree cache would hide a directory corrupted since
            node = read_node(self.store.blobs, dir_id)
        except LoxoError as exc:
            yield FsckProblem(where, f"directory {dir_id}: {exc.message}")
            return
        if isinstance(node, DirIndex):
            yield from self._check_index(where, dir_id, node)
            total = node.size
        else:
            total = sum(e.size for e in node.values())
            yield from self._check_entries(where, node)
        if total != size:
            yield FsckProblem(where, f"directory {dir_id} holds {total} bytes, recorded {size}")

    def _check_index(self, where: str, dir_id: str, index: DirIndex) -> Iterator[FsckProblem]:
        """Every shard present and matching its row, and the shards cut where the shard
        rule cuts: otherwise equal content could have two ids, and edits would cut
        differently from a fresh write."""
        bad = f"directory {dir_id}"
        if index.count <= SHARD_ABOVE:
            yield FsckProblem(where, f"{bad} is sharded but holds only {index.count} entries")
        last = len(index.shards) - 1
        previous = ""
        for i, row in enumerate(index.shards):
            facts = self.seen_shards.get(row.id)
            if facts is None:
                try:
                    entries = read_shard(self.store.blobs, row.id)
                except LoxoError as exc:
                    yield FsckProblem(where, f"{bad}: shard {row.id}: {exc.message}")
                    continue
                facts = self.seen_shards[row.id] = _shard_facts(entries)
                yield from self._check_entries(where, entries)
            first, final, length, size, inner_cut, closes = facts
            if (first, length, size) != (row.first, row.length, row.size):
                yield FsckProblem(where, f"{bad}: shard {row.id} does not match its index row")
            if i and first <= previous:
                yield FsckProblem(where, f"{bad}: shard {row.id} is out of name order")
            if inner_cut or (i < last and not closes):
                yield FsckProblem(where, f"{bad}: shard {row.id} is not cut by the shard rule")
            previous = final

    def _check_entries(self, where: str, entries: Dir) -> Iterator[FsckProblem]:
        for e in entries.values():
            if e.is_dir:
                yield from self._check_dir(f"{where}/{e.name}", e.id, e.size)
            else:
                yield from self._check_file(f"{where}/{e.name}", e)

    def _check_file(self, where: str, e: Entry) -> Iterator[FsckProblem]:
        if content.combine([p.id for p in e.parts]) != e.id:
            yield FsckProblem(where, f"file id {e.id} does not match its chunks")
        if sum(p.size for p in e.parts) != e.size:
            yield FsckProblem(where, "file size does not match its chunks")
        for part in e.parts:
            self.seen_keys.add(part.key)
            if part.id in self.seen_blobs:
                continue
            self.seen_blobs.add(part.id)
            try:
                self.store.blobs.read_part(part)
            except LoxoError as exc:
                yield FsckProblem(where, exc.message)

    def _check_objects(self) -> Iterator[FsckProblem]:
        keys = set(self.seen_keys)
        for part in self.store.index.all_parts():
            keys.add(part.key)
            try:
                if self.store.objects.size(part.key) < part.offset + part.length:
                    yield FsckProblem(part.key, f"object too short for blob {part.id}")
            except LoxoError as exc:
                yield FsckProblem(part.key, exc.message)
        for key in self.store.objects.list():
            if key not in keys:
                yield _warning(
                    key, "unreferenced object (an interrupted write, or a copy of data stored "
                    "earlier); harmless"
                )
        objects: Any = self.store.objects
        if isinstance(objects, LocalObjectStore):
            leftovers = sum(1 for _ in objects._tmp.iterdir())
            if leftovers:
                if self.fix:
                    objects.clean_temporary()
                yield _warning(
                    str(objects._tmp),
                    f"{leftovers} temporary file(s) from interrupted writes"
                    + (" removed" if self.fix else "; loxo fsck --fix removes them"),
                )


class _ShardFacts(NamedTuple):
    first: str
    final: str
    length: int
    size: int
    inner_cut: bool  # the rule cuts before its last entry
    closes: bool  # the rule cuts after its last entry


def _shard_facts(entries: Dir) -> _ShardFacts:
    names = sorted(entries)
    if not names:
        return _ShardFacts("", "", 0, 0, True, False)
    inner = any(ends_shard(n, i) for i, n in enumerate(names[:-1], start=1))
    return _ShardFacts(
        names[0], names[-1], len(names), sum(e.size for e in entries.values()), inner,
        ends_shard(names[-1], len(names)),
    )


def _warning(where: str, problem: str) -> FsckProblem:
    return FsckProblem(where, problem, severity="warning")
