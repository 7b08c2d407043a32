"""The controller: notice what changed and create and run the jobs it calls for.

It compares each pipeline's input branch heads and spec commit with those of its last
job; any difference makes a job, under the global id of the commit that changed (the
user's commit, passed down the chain by each output commit). Pipelines are visited in
dependency order and a pipeline waits while an upstream job is unfinished, so one change
runs pre_process, then train, then inference. A failed job marks every job it would
have triggered downstream "unrunnable" under the same id. State lives in the database:
calling ``reconcile`` again after a crash picks up where things stopped.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from loxo.meta import schema
from loxo.meta.db import as_utc, utcnow
from loxo.model.jobs import JobState, PipelineState
from loxo.pfs import Pfs
from loxo.pfs.lookup import branch_row, commit_by_id, repo_row
from loxo.pps.cron import tick_crons
from loxo.pps.datums import cron_as_pfs
from loxo.pps.inputs import CronInput, PfsInput, leaves
from loxo.pps.leases import abandoned
from loxo.pps.runner import Progress, run_job
from loxo.pps.spec import PipelineSpec, spec_from_dict

J, P = schema.jobs, schema.pipelines
JobStarted = Callable[[str, str], Progress | None]
"""Told (pipeline, job id) when a job starts; may return a progress callback for it."""


def topo_order(pipelines: dict[str, list[str]]) -> list[str]:
    """Pipeline names so that every pipeline comes after those whose output it reads."""
    order: list[str] = []
    seen: set[str] = set()

    def visit(name: str) -> None:
        if name in seen:
            return
        seen.add(name)
        for repo in pipelines.get(name, []):
            if repo in pipelines:
                visit(repo)
        order.append(name)

    for name in sorted(pipelines):
        visit(name)
    return order


def reconcile(pfs: Pfs) -> list[int]:
    """Create the jobs that current heads call for; returns their keys, in run order."""
    created: list[int] = []
    with pfs.store.db.read() as conn:  # most writes to a store with no pipeline: no writer lock
        if conn.execute(select(P.c.id).where(P.c.state == PipelineState.RUNNING.value)).first() is None:
            return created
    with pfs.store.db.write() as conn:
        rows = {r.name: r for r in conn.execute(select(P))}
        graph = {n: json.loads(r.input_repos) for n, r in rows.items()}
        busy = _busy(conn)
        for name in topo_order(graph):
            row = rows[name]
            if row.state != PipelineState.RUNNING.value or name in busy:
                continue
            if any(repo in busy for repo in graph[name]):
                busy.add(name)  # wait for upstream; and so must everything downstream
                continue
            pk = _maybe_create(conn, row)
            if pk is not None:
                created.append(pk)
                busy.add(name)
    return created


def _busy(conn: Connection) -> set[str]:
    """Pipelines with an unfinished job."""
    done = [s.value for s in JobState if s.done]
    rows = conn.execute(
        select(P.c.name).join(J, J.c.pipeline_id == P.c.id).where(J.c.state.not_in(done))
    )
    return {r.name for r in rows}


def leaf_heads(conn: Connection, spec: PipelineSpec) -> list[tuple[PfsInput, str | None]]:
    """Every input of ``spec`` (cron inputs as the pfs inputs they read) with the commit
    it reads now: its pinned commit, or its branch's head (None: no commit yet)."""
    heads: list[tuple[PfsInput, str | None]] = []
    for leaf in leaves(spec.input):
        pfs_leaf = cron_as_pfs(leaf) if isinstance(leaf, CronInput) else leaf
        repo = repo_row(conn, pfs_leaf.repo)
        branch = branch_row(conn, repo.id, pfs_leaf.branch)
        heads.append((pfs_leaf, pfs_leaf.commit or (branch.head if branch is not None else None)))
    return heads


def _leaf_heads(conn: Connection, row: Any) -> list[dict[str, str]] | None:
    """The head commit of every input branch, or None if one has no commit yet."""
    heads = leaf_heads(conn, spec_from_dict(json.loads(row.spec)))
    if any(head is None for _, head in heads):
        return None
    return [{"name": leaf.name, "repo": leaf.repo, "branch": leaf.branch, "commit": str(head)}
            for leaf, head in heads]


def _maybe_create(conn: Connection, row: Any) -> int | None:
    heads = _leaf_heads(conn, row)
    if heads is None:
        return None
    last = conn.execute(
        select(J).where(J.c.pipeline_id == row.id).order_by(J.c.pk.desc()).limit(1)
    ).first()
    if last is not None and last.spec_commit == row.spec_commit and json.loads(last.inputs) == heads:
        return None
    job_id = _global_id(conn, row, heads, last)
    taken = conn.execute(select(J.c.pk).where(J.c.pipeline_id == row.id, J.c.id == job_id)).first()
    if taken is not None:
        job_id = uuid.uuid4().hex
    result = conn.execute(J.insert().values(
        pipeline_id=row.id, id=job_id, version=row.version, spec_commit=row.spec_commit,
        salt=row.salt, inputs=json.dumps(heads), state=JobState.CREATED.value, reason="",
        created_at=utcnow(), data_total=0, data_processed=0, data_skipped=0, data_failed=0,
        data_recovered=0, download_bytes=0, upload_bytes=0, restart=0,
    ))
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def _global_id(conn: Connection, row: Any, heads: list[dict[str, str]], last: Any) -> str:
    """The id of the newest thing that changed: a spec commit (create or update, as
    Pachyderm) or an input commit. Output commits carry their job's id, so the id of a
    user's commit passes down the whole chain."""
    before = {(h["repo"], h["commit"]) for h in json.loads(last.inputs)} if last else set()
    changed = [h for h in heads if (h["repo"], h["commit"]) not in before]
    if last is None or last.spec_commit != row.spec_commit:
        changed.append({"repo": f"{row.name}.spec", "commit": row.spec_commit})
    newest = max(changed or heads, key=lambda h: _started(conn, h))
    return newest["commit"]


def _started(conn: Connection, head: dict[str, str]) -> Any:
    repo = repo_row(conn, head["repo"])
    commit = commit_by_id(conn, repo.id, head["commit"])
    return as_utc(commit.started_at) if commit is not None else utcnow()


def mark_unrunnable(pfs: Pfs, failed_pipeline: str, job_id: str) -> list[str]:
    """Record an unrunnable job under ``job_id`` for every pipeline downstream."""
    marked: list[str] = []
    with pfs.store.db.write() as conn:
        rows = {r.name: r for r in conn.execute(select(P))}
        graph = {n: json.loads(r.input_repos) for n, r in rows.items()}
        dead = {failed_pipeline}
        for name in topo_order(graph):
            if name in dead or not dead.intersection(graph[name]):
                continue
            dead.add(name)
            row = rows[name]
            heads = _leaf_heads(conn, row) or []
            exists = conn.execute(select(J.c.pk).where(J.c.pipeline_id == row.id, J.c.id == job_id)).first()
            if exists is None:
                conn.execute(J.insert().values(
                    pipeline_id=row.id, id=job_id, version=row.version, spec_commit=row.spec_commit,
                    salt=row.salt, inputs=json.dumps(heads), state=JobState.UNRUNNABLE.value,
                    reason=f"upstream job {failed_pipeline}@{job_id} failed", created_at=utcnow(),
                    finished_at=utcnow(), data_total=0, data_processed=0, data_skipped=0,
                    data_failed=0, data_recovered=0, download_bytes=0, upload_bytes=0, restart=0,
                ))
                marked.append(name)
    return marked


def run_pending(
    pfs: Pfs, executor: Any, on_start: JobStarted | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> list[tuple[str, str, JobState]]:
    """Commit the cron ticks due at ``clock()``, then create and run jobs until nothing
    is left to do; returns (pipeline, id, state).

    Jobs another live process holds are left to it. Ticks are committed once per call,
    not between jobs: one falling due while jobs run waits for the next call, so a
    frequent schedule cannot keep this from returning.
    """
    tick_crons(pfs, clock())
    ran: list[tuple[str, str, JobState]] = []
    while True:
        pending = reconcile(pfs) + _resumable(pfs)
        progressed = False
        for pk in dict.fromkeys(pending):
            with pfs.store.db.read() as conn:
                row = conn.execute(
                    select(J.c.id, P.c.name).join(P, P.c.id == J.c.pipeline_id).where(J.c.pk == pk)
                ).one()
            progress = on_start(row.name, row.id) if on_start else None
            state = run_job(pfs, executor, pk, progress)
            if state is None:
                continue
            progressed = True
            ran.append((row.name, row.id, state))
            if state in (JobState.FAILURE, JobState.KILLED):
                mark_unrunnable(pfs, row.name, row.id)
        if not progressed:
            return ran


def _resumable(pfs: Pfs) -> list[int]:
    """Jobs created but not started, and jobs whose runner died (lease expired)."""
    with pfs.store.db.read() as conn:
        rows = conn.execute(select(J.c.pk).where(
            J.c.state.in_([JobState.CREATED.value, JobState.STARTING.value]),
        ).order_by(J.c.pk))
        waiting = [r.pk for r in rows]
    return waiting + abandoned(pfs)
