"""Jobs and datums as records: list, inspect, wait, stop; logs; provenance; lineage."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Connection, Row, select, update

from loxo.errors import DatumNotFound, FileNotFound, InvalidArgument, JobNotFound
from loxo.meta import schema
from loxo.meta.db import as_utc, utcnow
from loxo.model.address import normalize_path
from loxo.model.jobs import DatumInfo, DatumState, FileLineage, JobInfo, JobState, LogEntry
from loxo.model.refs import Commit, File
from loxo.pfs import Pfs
from loxo.pfs.lookup import resolve
from loxo.pps import datum_sets
from loxo.pps.pipelines import pipeline_row

J, D, P = schema.jobs, schema.datums, schema.pipelines


class JobOps:
    pfs: Pfs

    def list_job(self, pipeline: str | None = None, job_id: str | None = None) -> list[JobInfo]:
        """Newest first; of one pipeline, and/or of one global id."""
        with self.pfs.store.db.read() as conn:
            query = select(J, P.c.name.label("pipeline")).join(P, P.c.id == J.c.pipeline_id)
            if pipeline is not None:
                _pipeline_id(conn, pipeline)
                query = query.where(P.c.name == pipeline)
            if job_id is not None:
                query = query.where(J.c.id == job_id)
            return [_job_info(r) for r in conn.execute(query.order_by(J.c.pk.desc()))]

    def inspect_job(self, pipeline: str, job_id: str) -> JobInfo:
        with self.pfs.store.db.read() as conn:
            return _job_info(_job_row(conn, pipeline, job_id))

    def wait_job(self, pipeline: str, job_id: str, timeout: float | None = None) -> JobInfo:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            info = self.inspect_job(pipeline, job_id)
            if info.state.done:
                return info
            if deadline is not None and time.monotonic() > deadline:
                return info
            time.sleep(0.1)

    def stop_job(self, pipeline: str, job_id: str) -> JobInfo:
        """Mark an unfinished job killed (a running one stops at its next datum set)."""
        with self.pfs.store.db.write() as conn:
            row = _job_row(conn, pipeline, job_id)
            if not JobState(row.state).done:
                conn.execute(update(J).where(J.c.pk == row.pk).values(
                    state=JobState.KILLED.value, reason="stopped by user", finished_at=utcnow()))
        return self.inspect_job(pipeline, job_id)

    def list_datum(self, pipeline: str, job_id: str) -> list[DatumInfo]:
        with self.pfs.store.db.read() as conn:
            job = _job_row(conn, pipeline, job_id)
            rows = datum_sets.datums(conn, datum_sets.layout(conn, job.pk))
            return [_datum_info(pipeline, job_id, r) for r in rows]

    def inspect_datum(self, pipeline: str, job_id: str, datum_id: str) -> DatumInfo:
        with self.pfs.store.db.read() as conn:
            job = _job_row(conn, pipeline, job_id)
            row = datum_sets.find_datum(conn, datum_sets.layout(conn, job.pk), datum_id)
            if row is None:
                raise DatumNotFound(f"datum {datum_id} not found in job {pipeline}@{job_id}")
            return _datum_info(pipeline, job_id, row)

    def logs(
        self, pipeline: str, job_id: str | None = None, datum_id: str | None = None
    ) -> Iterator[LogEntry]:
        """User code's output lines, oldest first (every job's if ``job_id`` is None, as
        ``pachctl logs -p``)."""
        with self.pfs.store.db.read() as conn:
            pid = _pipeline_id(conn, pipeline)
            jobs = select(J.c.pk, J.c.id).where(J.c.pipeline_id == pid)
            if job_id is not None:
                jobs = jobs.where(J.c.id == job_id)
            rows = list(conn.execute(jobs.order_by(J.c.pk)))
            if job_id is not None and not rows:
                raise JobNotFound(f"job {pipeline}@{job_id} not found")
            L = schema.logs
            for job in rows:
                query = select(L).where(L.c.job_pk == job.pk)
                if datum_id is not None:
                    query = query.where(L.c.datum_id.startswith(datum_id))
                for r in conn.execute(query.order_by(L.c.pk)):
                    yield LogEntry(pipeline, job.id, r.datum_id, as_utc(r.ts), r.stream, r.line)

    def provenance(self, ref: Commit) -> list[tuple[str, str]]:
        """Every commit ``ref`` was computed from, transitively: (repo, commit id), in
        breadth-first order from the nearest."""
        return self._walk(ref, upstream=True)

    def subvenance(self, ref: Commit) -> list[tuple[str, str]]:
        """Every commit computed (directly or not) from ``ref``, nearest first."""
        return self._walk(ref, upstream=False)

    def _walk(self, ref: Commit, upstream: bool) -> list[tuple[str, str]]:
        CP = schema.commit_provenance
        here = (CP.c.repo_id, CP.c.commit_id)
        there = (CP.c.from_repo_id, CP.c.from_commit_id)
        near, far = (here, there) if upstream else (there, here)
        with self.pfs.store.db.read() as conn:
            repo, commit = resolve(conn, ref)
            names = {r.id: r.name for r in conn.execute(select(schema.repos.c.id, schema.repos.c.name))}
            out: list[tuple[str, str]] = []
            seen: set[tuple[int, str]] = set()
            frontier = [(repo.id, commit.id)]
            while frontier:
                nxt = []
                for rid, cid in frontier:
                    query = select(*far).where(near[0] == rid, near[1] == cid)
                    for found_repo, found_commit in conn.execute(query):
                        if (found_repo, found_commit) not in seen:
                            seen.add((found_repo, found_commit))
                            out.append((names[found_repo], found_commit))
                            nxt.append((found_repo, found_commit))
                frontier = nxt
            return out

    def lineage(self, ref: File) -> FileLineage:
        """Which job and datum wrote an output file, and from exactly which input files."""
        path = normalize_path(ref.path)
        with self.pfs.store.db.read() as conn:
            repo, commit = resolve(conn, ref.commit)
            job = conn.execute(select(J, P.c.name.label("pipeline")).join(P, P.c.id == J.c.pipeline_id)
                               .where(P.c.name == repo.name, J.c.id == commit.id)).first()
            if job is None:
                raise InvalidArgument(f"{ref.commit.repo}@{commit.id} was not made by a pipeline job")
            where = datum_sets.layout(conn, job.pk)
            owner = datum_sets.owners_of_paths(conn, where, [path]).get(path)
            if owner is None:
                raise FileNotFound(f"{ref} is not an output of job {repo.name}@{commit.id}")
            datum = datum_sets.find_datum(conn, where, owner)
            assert datum is not None
        files = tuple(self._input_files(json.loads(datum.inputs)))
        return FileLineage(ref.commit.repo, commit.id, path, repo.name, commit.id, owner, files)

    def _input_files(self, inputs: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for item in inputs:
            ref = File(Commit(item["repo"], item["commit"]), item["path"])
            for info in self.pfs.walk_file(ref):
                if info.kind.value == "file":
                    yield {"repo": item["repo"], "commit": item["commit"], "path": info.path,
                           "hash": info.hash}


def _pipeline_id(conn: Connection, pipeline: str) -> int:
    return int(pipeline_row(conn, pipeline).id)


def _job_row(conn: Connection, pipeline: str, job_id: str) -> Row[Any]:
    pid = _pipeline_id(conn, pipeline)
    row = conn.execute(
        select(J, P.c.name.label("pipeline")).join(P, P.c.id == J.c.pipeline_id)
        .where(J.c.pipeline_id == pid, J.c.id.startswith(job_id))
    ).first()
    if row is None:
        raise JobNotFound(f"job {pipeline}@{job_id} not found; see: loxo list job -p {pipeline}")
    return row


def _job_info(r: Row[Any]) -> JobInfo:
    finished = JobState(r.state) == JobState.SUCCESS
    return JobInfo(
        pipeline=r.pipeline, id=r.id, version=r.version, state=JobState(r.state), reason=r.reason,
        created=as_utc(r.created_at), started=as_utc(r.started_at) if r.started_at else None,
        finished=as_utc(r.finished_at) if r.finished_at else None, data_total=r.data_total,
        data_processed=r.data_processed, data_skipped=r.data_skipped, data_failed=r.data_failed,
        data_recovered=r.data_recovered, download_bytes=r.download_bytes,
        upload_bytes=r.upload_bytes, restart=r.restart,
        output_commit=r.id if finished else None, inputs=tuple(json.loads(r.inputs)), salt=r.salt,
    )


def _datum_info(pipeline: str, job_id: str, r: Row[Any]) -> DatumInfo:
    return DatumInfo(
        pipeline=pipeline, job=job_id, id=r.datum_id, state=DatumState(r.state), hash=r.hash,
        error=r.error, attempts=r.attempts,
        started=as_utc(r.started_at) if r.started_at else None,
        finished=as_utc(r.finished_at) if r.finished_at else None,
        download_seconds=r.download_seconds, process_seconds=r.process_seconds,
        upload_seconds=r.upload_seconds, inputs=tuple(json.loads(r.inputs)),
        output_size=r.output_size,
    )

