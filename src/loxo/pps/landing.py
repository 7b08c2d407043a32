"""Landing a job: its output commit, built from the previous output, with provenance
and file lineage, in one transaction.

The skipped datums' files stay where they are in the previous output tree; only the
outputs of datums that changed, vanished or ran now are touched, so a job that skipped
100,000 datums and ran one edits a handful of entries.
"""

from __future__ import annotations

from sqlalchemy import Connection, delete, insert, literal, select

from loxo.errors import PathConflict
from loxo.meta import schema
from loxo.meta.db import bulk_insert, utcnow
from loxo.model.address import parts_of
from loxo.model.jobs import DatumState
from loxo.model.refs import Origin
from loxo.pfs import Pfs
from loxo.pfs.lookup import repo_row
from loxo.pfs.tree import Change, Entry, apply_changes
from loxo.pfs.writes import set_branch_head
from loxo.pps import datum_sets
from loxo.pps.job_run import JobRun

J, D = schema.jobs, schema.datums
_ROW_BATCH = 2000


def land(pfs: Pfs, job: JobRun) -> None:
    """Build the output tree from the previous one and land the commit, its provenance
    and the owners of its files. A job stored as a delta (``datum_sets``) records only
    the owners that changed; a whole job lists every owner."""
    with pfs.store.db.read() as conn:
        base = _parent_tree(conn, job)
        mine = datum_sets.layout(conn, job.pk)
        parent = datum_sets.layout(conn, job.parent_pk) if job.parent_pk is not None else None
        gone, kept = _superseded(conn, job, mine, parent)
        made = [(r[0], r[1]) for r in conn.execute(  # .all(): one fetch, not one per row
            select(D.c.datum_id, D.c.output_tree).where(
                D.c.job_pk == job.pk, D.c.state == DatumState.SUCCESS.value,
                D.c.output_tree.is_not(None)).order_by(D.c.datum_id)).all()]
    changes = [Change(parts_of(p), "delete") for p in gone]
    new_owners = _new_outputs(pfs, job, parent, made, gone, changes)
    writer = pfs.store.writer()
    tree, size = apply_changes(pfs.store.trees, base, changes, writer)
    writer.flush()
    with pfs.store.db.write() as conn:
        _commit_output(conn, job, tree, size)
        _record_owners(conn, job, parent, kept, new_owners)


def _superseded(
    conn: Connection, job: JobRun, mine: datum_sets.Layout, parent: datum_sets.Layout | None
) -> tuple[dict[str, str], dict[str, str] | None]:
    """(the previous output's files whose datum changed or vanished, and for a whole job
    the owners of the files that stay)."""
    if parent is None:
        return {}, {}
    if mine.base_pk is not None:  # what changed since the parent has rows that are not skips
        redone = [r.datum_id for r in conn.execute(select(D.c.datum_id).where(
            D.c.job_pk == job.pk, D.c.state != DatumState.SKIPPED.value))]
        return datum_sets.owners_of_datums(conn, parent, redone), None
    skipped = {r.datum_id for r in conn.execute(select(D.c.datum_id).where(
        D.c.job_pk == job.pk, D.c.state == DatumState.SKIPPED.value))}
    owners = datum_sets.all_owners(conn, parent)
    gone = {p: d for p, d in owners.items() if d not in skipped}
    return gone, {p: d for p, d in owners.items() if d in skipped}


def _record_owners(
    conn: Connection, job: JobRun, parent: datum_sets.Layout | None, kept: dict[str, str] | None,
    new_owners: dict[str, str],
) -> None:
    """Who wrote each output file: the job's own owner rows (see ``datum_sets``)."""
    OF = schema.output_files
    if kept is not None:  # a whole job
        bulk_insert(conn, OF, [{"job_pk": job.pk, "path": p, "datum_id": d}
                               for p, d in kept.items() if p not in new_owners])
    elif parent is not None and parent.base_pk is not None:  # carry the parent's delta
        redone = select(D.c.pk).where(D.c.job_pk == job.pk, D.c.datum_id == OF.c.datum_id,
                                      D.c.state != DatumState.SKIPPED.value)
        conn.execute(insert(OF).from_select(["job_pk", "path", "datum_id"], select(
            literal(job.pk), OF.c.path, OF.c.datum_id).where(
                OF.c.job_pk == parent.job_pk, ~redone.exists())))
        paths = list(new_owners)
        for i in range(0, len(paths), _ROW_BATCH):  # appended to: the new datum owns it now
            conn.execute(delete(OF).where(OF.c.job_pk == job.pk, OF.c.path.in_(paths[i : i + _ROW_BATCH])))
    bulk_insert(conn, OF, [{"job_pk": job.pk, "path": p, "datum_id": d} for p, d in new_owners.items()])


def _parent_tree(conn: Connection, job: JobRun) -> str | None:
    """The previous successful job's output tree."""
    if job.parent_pk is None:
        return None
    parent = conn.execute(select(J.c.id).where(J.c.pk == job.parent_pk)).one()
    repo = repo_row(conn, job.pipeline)
    row = conn.execute(select(schema.commits.c.tree).where(
        schema.commits.c.repo_id == repo.id, schema.commits.c.id == parent.id)).first()
    return row.tree if row else None


def _new_outputs(
    pfs: Pfs, job: JobRun, parent: datum_sets.Layout | None, made: list[tuple[str, str]],
    gone: dict[str, str], changes: list[Change],
) -> dict[str, str]:
    """Add puts for the files of the datums that ran to ``changes``; returns their owners.

    Two datums writing one path is an error unless the spec asks for 1.x append merging;
    the other may be one that ran now or a skipped one whose file stays.
    """
    append = job.spec.output_merge == "append"
    owners: dict[str, str] = {}
    files: list[tuple[str, str, Entry]] = []
    pfs.store.trees.preload([output for _, output in made])  # cold after a restart, say
    for did, output in made:
        for path, entry in pfs.store.trees.files(output):
            other = owners.get(path)
            if other is not None and not append:
                raise _overlap(other, did, path)
            owners[path] = did
            files.append((path, did, entry))
    kept: dict[str, str] = {}
    if parent is not None:
        with pfs.store.db.read() as conn:
            kept = datum_sets.owners_of_paths(conn, parent, [p for p in owners if p not in gone])
    for path, did, entry in files:
        other = kept.get(path)
        if other is not None and not append:
            raise _overlap(other, did, path)
        # appending to no file is a put, so "append" is right for every file
        changes.append(Change(parts_of(path), "append" if append else "put", entry))
    return owners


def _overlap(other: str, did: str, path: str) -> PathConflict:
    return PathConflict(
        f"datums {other} and {did} both wrote {path}; outputs must not overlap "
        "(write to /pfs/out/$PACH_DATUM_ID/... or set output_merge: append)"
    )


def _commit_output(conn: Connection, job: JobRun, tree: str | None, size: int) -> None:
    C = schema.commits
    repo = repo_row(conn, job.pipeline)
    branch = job.spec.output_branch
    head = conn.execute(select(schema.branches.c.head).where(
        schema.branches.c.repo_id == repo.id, schema.branches.c.name == branch)).scalar()
    now = utcnow()
    conn.execute(C.insert().values(
        repo_id=repo.id, id=job.id, branch=branch, parent=head, origin=Origin.AUTO.value,
        description=f"output of job {job.id}", started_at=now, finished_at=now, tree=tree,
        size_bytes=size,
    ))
    set_branch_head(conn, repo.id, branch, job.id)
    sources = {(i["repo"], i["commit"]) for i in job.inputs}
    spec_commit = conn.execute(select(J.c.spec_commit).where(J.c.pk == job.pk)).scalar_one()
    sources.add((f"{job.pipeline}.spec", spec_commit))
    for from_repo, from_commit in sorted(sources):
        conn.execute(schema.commit_provenance.insert().values(
            repo_id=repo.id, commit_id=job.id,
            from_repo_id=repo_row(conn, from_repo).id, from_commit_id=from_commit,
        ))
