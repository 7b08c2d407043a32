"""A job's datums and output owners, stored whole or as a delta over an earlier job.

A job planned by diff (``loxo.pps.incremental``) does not copy the rows of the datums
it skips: it names a *base* job (``jobs.datums_base``, a job stored whole) and stores
only the datums that changed since that base: rows for datums that ran or were skipped
from a previous delta, and ``gone`` tombstones for datums that vanished. A base row
whose datum has no row of its own in the job is one of the job's skipped datums, with
the base's outputs. Output owners (``output_files``) follow the same rule: a base
owner row counts while its datum has no row in the job. So skipping 100,000 unchanged
datums writes nothing per datum, and every read goes through this module.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, func, literal, null, select

from loxo.meta import schema
from loxo.model.jobs import DatumState

J, D, OF = schema.jobs, schema.datums, schema.output_files
OWN = D.alias("own")  # the job's own rows, beside the base's
GONE = "gone"  # a tombstone: the datum vanished since the base (never shown)
_BATCH = 500


@dataclass(frozen=True)
class Layout:
    """Where a job's rows are: its own, and a base's (with the commit to rename)."""

    job_pk: int
    base_pk: int | None
    base_commit: str = ""
    commit: str = ""


def layout(conn: Connection, job_pk: int) -> Layout:
    row = conn.execute(select(J.c.datums_base, J.c.inputs).where(J.c.pk == job_pk)).one()
    if row.datums_base is None:
        return Layout(job_pk, None)
    base_inputs = conn.execute(select(J.c.inputs).where(J.c.pk == row.datums_base)).scalar_one()
    return Layout(job_pk, row.datums_base, _commit(base_inputs), _commit(row.inputs))


def _commit(inputs: str) -> str:
    items = json.loads(inputs)
    return str(items[0]["commit"]) if len(items) == 1 else ""


def _shadowed(where: Layout, datum_id: Any) -> Any:
    """The job has a row of its own for ``datum_id``: the base's does not count."""
    return select(OWN.c.pk).where(OWN.c.job_pk == where.job_pk, OWN.c.datum_id == datum_id).exists()


def _inherited(where: Layout) -> Any:
    """The base's rows as this job's skipped datums."""
    assert where.base_pk is not None
    inputs = (func.replace(D.c.inputs, where.base_commit, where.commit)
              if where.base_commit and where.commit else D.c.inputs)
    return select(
        D.c.pk, D.c.datum_id, D.c.hash, literal(DatumState.SKIPPED.value).label("state"),
        D.c.output_tree, D.c.output_size, inputs.label("inputs"), literal("").label("error"),
        literal(0).label("attempts"), null().label("started_at"), null().label("finished_at"),
        literal(0.0).label("download_seconds"), literal(0.0).label("process_seconds"),
        literal(0.0).label("upload_seconds"),
    ).where(D.c.job_pk == where.base_pk, ~_shadowed(where, D.c.datum_id))


def _own() -> Any:
    return select(D.c.pk, D.c.datum_id, D.c.hash, D.c.state, D.c.output_tree, D.c.output_size,
                  D.c.inputs, D.c.error, D.c.attempts, D.c.started_at, D.c.finished_at,
                  D.c.download_seconds, D.c.process_seconds, D.c.upload_seconds)


def datums(conn: Connection, where: Layout) -> Iterator[Row[Any]]:
    """Every datum of the job: inherited ones (in the base's order), then its own."""
    if where.base_pk is not None:
        yield from conn.execute(_inherited(where).order_by(D.c.pk))
    yield from conn.execute(_own().where(D.c.job_pk == where.job_pk, D.c.state != GONE)
                            .order_by(D.c.pk))


def find_datum(conn: Connection, where: Layout, prefix: str) -> Row[Any] | None:
    """The datum whose id starts with ``prefix`` (its own row first)."""
    own = conn.execute(_own().where(
        D.c.job_pk == where.job_pk, D.c.datum_id.startswith(prefix), D.c.state != GONE)).first()
    if own is not None or where.base_pk is None:
        return own
    return conn.execute(_inherited(where).where(D.c.datum_id.startswith(prefix))).first()


def owners_of_paths(conn: Connection, where: Layout, paths: list[str]) -> dict[str, str]:
    """Which datum wrote each of ``paths`` (those the job has), its own rows first."""
    out: dict[str, str] = {}
    for i in range(0, len(paths), _BATCH):
        batch = paths[i : i + _BATCH]
        if where.base_pk is not None:
            out.update(_pairs(conn, select(OF.c.path, OF.c.datum_id).where(
                OF.c.job_pk == where.base_pk, OF.c.path.in_(batch), ~_shadowed(where, OF.c.datum_id))))
        out.update(_pairs(conn, select(OF.c.path, OF.c.datum_id).where(
            OF.c.job_pk == where.job_pk, OF.c.path.in_(batch))))
    return out


def owners_of_datums(conn: Connection, where: Layout, datum_ids: list[str]) -> dict[str, str]:
    """Every output path written by one of ``datum_ids`` in this job."""
    out: dict[str, str] = {}
    for i in range(0, len(datum_ids), _BATCH):
        batch = datum_ids[i : i + _BATCH]
        if where.base_pk is not None:
            out.update(_pairs(conn, select(OF.c.path, OF.c.datum_id).where(
                OF.c.job_pk == where.base_pk, OF.c.datum_id.in_(batch),
                ~_shadowed(where, OF.c.datum_id))))
        out.update(_pairs(conn, select(OF.c.path, OF.c.datum_id).where(
            OF.c.job_pk == where.job_pk, OF.c.datum_id.in_(batch))))
    return out


def all_owners(conn: Connection, where: Layout) -> dict[str, str]:
    """Every output path of the job and the datum that wrote it."""
    out: dict[str, str] = {}
    if where.base_pk is not None:
        out.update(_pairs(conn, select(OF.c.path, OF.c.datum_id).where(
            OF.c.job_pk == where.base_pk, ~_shadowed(where, OF.c.datum_id))))
    out.update(_pairs(conn, select(OF.c.path, OF.c.datum_id).where(OF.c.job_pk == where.job_pk)))
    return out


def _pairs(conn: Connection, query: Any) -> Iterable[tuple[str, str]]:
    return ((r.path, r.datum_id) for r in conn.execute(query))


def own_row_count(conn: Connection, job_pk: int) -> int:
    return int(conn.execute(select(func.count()).select_from(D).where(D.c.job_pk == job_pk)).scalar_one())
