"""Diff-based planning: skipping unchanged datums without looking at them one by one.

When a job's input is one pfs input and the previous successful job of the pipeline cut
the same glob with the same salt, a datum is unchanged exactly when its match has the
same path and content id in both input commits. Equal subtrees have equal ids, so the
changed matches come from a tree diff that never reads what did not change
(``TreeReader.glob_diff``), and the job's rows are written as a delta over a base job
(``loxo.pps.datum_sets``): unchanged datums cost nothing per datum, in Python or in the
database. After one file changed among 100,000, planning touches one datum.

Everything else (cross, join, group, union, cron inputs; a changed glob; a resumed
job) goes through the general planner, which gives the same result one datum at a time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, case, delete, func, insert, literal, select, update

from loxo.meta import schema
from loxo.meta.db import bulk_insert
from loxo.model.jobs import DatumState
from loxo.model.refs import Commit
from loxo.pfs.glob import compile_glob
from loxo.pfs.lookup import resolve
from loxo.pfs.tree import TreeReader
from loxo.pps import datum_sets
from loxo.pps.datums import Datum, Match, datum_id, pfs_datum
from loxo.pps.inputs import PfsInput

D, J = schema.datums, schema.jobs
OWN = D.alias("own")
_BATCH = 500
_DELTA_MIN = 1000  # a delta this small is never worth storing whole


@dataclass(frozen=True)
class Basis:
    """The previous successful job a new one can be diffed against."""

    parent_pk: int
    parent_base: int | None  # the parent is itself a delta over this job
    parent_total: int
    old_commit: str
    old_tree: str | None


def diff_basis(conn: Connection, parent_pk: int, salt: str, leaf: PfsInput,
               parent_input: PfsInput | None) -> Basis | None:
    """The basis for diffing, or None when the previous job cut its datums differently
    (another glob or salt) or left datums that must run again (failed, recovered)."""
    J = schema.jobs
    parent = conn.execute(select(J.c.salt, J.c.inputs, J.c.datums_base, J.c.data_total,
                                 J.c.data_failed, J.c.data_recovered)
                          .where(J.c.pk == parent_pk)).one()
    inputs = json.loads(parent.inputs)
    if parent.salt != salt or parent_input != leaf or len(inputs) != 1:
        return None
    if parent.data_failed or parent.data_recovered:  # counted as they ran: no row scan
        return None
    old_commit = inputs[0]["commit"]
    tree = resolve(conn, Commit(leaf.repo, old_commit))[1].tree if old_commit else None
    return Basis(parent_pk, parent.datums_base, parent.data_total, old_commit, tree)


@dataclass
class Changes:
    """How a job's datums differ from the previous job's."""

    fresh: list[Datum] = field(default_factory=list)  # new or changed: to run
    added: int = 0  # of ``fresh``, those the previous job did not have
    gone: list[str] = field(default_factory=list)  # ids of datums that vanished


def changed_datums(
    trees: TreeReader, leaf: PfsInput, commit: str, new_tree: str | None, old_tree: str | None
) -> Changes:
    out = Changes()
    for path, new, old in trees.glob_diff(new_tree, old_tree, compile_glob(leaf.glob)):
        if new is not None:
            out.fresh.append(pfs_datum(leaf, commit, Match(path, new.id, new.size, new.is_dir)))
            out.added += old is None
        elif old is not None:
            out.gone.append(datum_id(pfs_datum(leaf, commit, Match(path, old.id, old.size, old.is_dir))))
    return out


def record_delta(conn: Connection, job_pk: int, basis: Basis, commit: str, changes: Changes,
                 fresh_rows: list[dict[str, Any]]) -> tuple[int, int]:
    """Write the job's datum rows as a delta over the base (or whole, when the delta has
    grown to a good part of the job); returns (total, skipped)."""
    drop = [r["datum_id"] for r in fresh_rows] + changes.gone
    carried = datum_sets.own_row_count(conn, basis.parent_pk) if basis.parent_base else 0
    whole = carried + len(drop) > max(_DELTA_MIN, basis.parent_total // 4)
    if whole:
        _copy_whole(conn, job_pk, basis, commit)
    elif basis.parent_base is not None:
        _copy_own(conn, job_pk, basis, commit)
    for i in range(0, len(drop), _BATCH):
        conn.execute(delete(D).where(D.c.job_pk == job_pk, D.c.datum_id.in_(drop[i : i + _BATCH])))
    if not whole:
        bulk_insert(conn, D, [_tombstone(job_pk, did) for did in changes.gone])
    bulk_insert(conn, D, fresh_rows)
    total = basis.parent_total + changes.added - len(changes.gone)
    skipped = total - len(fresh_rows)
    base = None if whole else (basis.parent_base or basis.parent_pk)
    conn.execute(update(J).where(J.c.pk == job_pk).values(
        data_total=total, data_skipped=skipped, datums_base=base))
    return total, skipped


_COLUMNS = ["job_pk", "datum_id", "hash", "state", "output_tree", "output_size", "inputs",
            "error", "attempts", "download_seconds", "process_seconds", "upload_seconds"]


def _copy_own(conn: Connection, job_pk: int, basis: Basis, commit: str) -> None:
    """Carry the parent's own rows (changed since the base) into this job, as skipped
    datums, tombstones staying tombstones."""
    state = case((D.c.state == datum_sets.GONE, datum_sets.GONE), else_=DatumState.SKIPPED.value)
    conn.execute(insert(D).from_select(_COLUMNS, _as_skipped(
        job_pk, state, _renamed(basis.old_commit, commit)).where(D.c.job_pk == basis.parent_pk)))


def _copy_whole(conn: Connection, job_pk: int, basis: Basis, commit: str) -> None:
    """Store every datum of the parent as a skipped datum of this job."""
    renamed = _renamed(basis.old_commit, commit)
    skipped = literal(DatumState.SKIPPED.value)
    conn.execute(insert(D).from_select(_COLUMNS, _as_skipped(job_pk, skipped, renamed).where(
        D.c.job_pk == basis.parent_pk, D.c.state != datum_sets.GONE)))
    if basis.parent_base is None:
        return
    base = datum_sets.layout(conn, basis.parent_pk)
    inherited = _as_skipped(job_pk, skipped, _renamed(base.base_commit, commit)).where(
        D.c.job_pk == basis.parent_base,
        ~select(OWN.c.pk).where(OWN.c.job_pk == basis.parent_pk, OWN.c.datum_id == D.c.datum_id).exists())
    conn.execute(insert(D).from_select(_COLUMNS, inherited))



def _renamed(old: str, new: str) -> Any:
    return func.replace(D.c.inputs, old, new) if old and new else D.c.inputs


def _as_skipped(job_pk: int, state: Any, inputs: Any) -> Any:
    return select(literal(job_pk), D.c.datum_id, D.c.hash, state, D.c.output_tree,
                  D.c.output_size, inputs, literal(""), literal(0), literal(0.0), literal(0.0),
                  literal(0.0))


def _tombstone(job_pk: int, did: str) -> dict[str, Any]:
    return {"job_pk": job_pk, "datum_id": did, "hash": "", "state": datum_sets.GONE,
            "output_tree": None, "output_size": 0, "inputs": "[]", "error": "", "attempts": 0,
            "download_seconds": 0.0, "process_seconds": 0.0, "upload_seconds": 0.0}
