"""Running one job: cut datums, skip what was already done, run the rest, and land the
output commit.

Incremental by construction: the output commit starts from the previous successful
job's output tree; only the outputs of datums that changed or vanished are removed and
only the outputs of datums processed now are added, so an unchanged datum costs a hash
and a dictionary lookup. Everything the job produces (output commit, provenance,
lineage, final state) lands in one transaction: a crash leaves the job unfinished and
the output branch as it was.
"""

from __future__ import annotations

import contextlib
import gc
import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import delete, func, select, update

from loxo.errors import PathConflict
from loxo.meta import schema
from loxo.meta.db import bulk_insert, bulk_update, utcnow
from loxo.model.jobs import DatumState, JobState
from loxo.model.refs import Commit, File
from loxo.pfs import Pfs
from loxo.pfs.lookup import repo_row, resolve
from loxo.pps import datum_sets
from loxo.pps.datums import (
    Datum,
    Match,
    datum_env,
    datum_hash,
    datum_id,
    iter_datums,
    pfs_datum,
    tree_resolver,
)
from loxo.pps.egress import egress
from loxo.pps.incremental import changed_datums, diff_basis, record_delta
from loxo.pps.inputs import CronInput, CrossInput, GroupInput, Input, JoinInput, PfsInput, UnionInput
from loxo.pps.job_run import JobRun
from loxo.pps.landing import land
from loxo.pps.leases import Heartbeat, claim
from loxo.pps.set_stream import Cancelled, SetStream, set_sizes
from loxo.pps.spec import PipelineSpec, spec_from_dict
from loxo.worker.task import DatumResult, DatumSet, DatumTask, TaskInput, TaskResources, Transform

J, D = schema.jobs, schema.datums
Progress = Callable[[int, int], None]
"""Called with (datums done, datums in total) as a job advances."""

_ROW_BATCH = 2000
_WARM_AT = 100  # datums to do found while planning: start the workers now
_STREAM_AT = 1000  # datums to do recorded while planning: workers may start on them
_EARLY_SET = 1000  # the most a set handed out while planning gets


def run_job(pfs: Pfs, executor: Any, job_pk: int, progress: Progress | None = None) -> JobState | None:
    """Run a job to a final state and return it; None if another runner holds it.

    A job interrupted by a crash is resumed: datums it finished keep their results and
    only the rest run again.
    """
    if not claim(pfs, job_pk):
        return None
    with Heartbeat(pfs, job_pk), _objects_kept_out_of_gc():
        job = _load(pfs, job_pk)
        if _landed(pfs, job):  # crashed after its output commit landed
            return _finish(pfs, job, JobState.SUCCESS, "")
        _resume(pfs, job)
        try:
            return _run(pfs, executor, job, progress)
        except (OSError, RuntimeError, EOFError) as exc:  # the machinery, not user code
            return _finish(pfs, job, JobState.FAILURE, f"could not run datums: {exc}")


@contextlib.contextmanager
def _objects_kept_out_of_gc() -> Iterator[None]:
    """While a job runs, full garbage collections skip the objects that were there
    before it (modules, the SDK, the caller's own): a job makes ~100 objects a datum,
    enough to trigger several full collections, each walking all of them (0.35 s of a
    10,000-datum job). They are handed back to the collector afterwards, so nothing is
    kept longer than the job. A caller that freezes objects itself (a pre-fork server)
    is left alone: unfreezing would hand its objects back too."""
    if gc.get_freeze_count():
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


def _run(pfs: Pfs, executor: Any, job: JobRun, progress: Progress | None) -> JobState:
    started = time.monotonic()
    try:
        stream = _set_stream(pfs, executor, job)
        planner = threading.Thread(target=_plan_into, args=(pfs, job, executor, stream),
                                   name=f"plan-{job.id}", daemon=True)
        planner.start()
        try:
            failed, stopped = _process(pfs, executor, job, stream, started, progress)
        finally:
            stream.cancel()  # the job stopped early: the planner stops too
            planner.join()
        if stream.error is not None and not isinstance(stream.error, Cancelled):
            raise stream.error
        stream.clear()  # 100,000 tasks are ~100 MiB: not kept while landing
        if stopped:
            return _finish(pfs, job, JobState.KILLED, stopped)
        if failed:
            return _finish(pfs, job, JobState.FAILURE, failed)
        land(pfs, job)
    except PathConflict as exc:
        return _finish(pfs, job, JobState.FAILURE, exc.message)
    if job.spec.egress:
        _set(pfs, job.pk, state=JobState.EGRESSING.value)
        try:
            egress(pfs, Commit(job.pipeline, job.id), job.spec.egress)
        except OSError as exc:
            return _finish(pfs, job, JobState.FAILURE, f"egress to {job.spec.egress} failed: {exc}")
    return _finish(pfs, job, JobState.SUCCESS, "")


def _landed(pfs: Pfs, job: JobRun) -> bool:
    with pfs.store.db.read() as conn:
        repo = repo_row(conn, job.pipeline)
        C = schema.commits
        return conn.execute(
            select(C.c.pk).where(C.c.repo_id == repo.id, C.c.id == job.id)
        ).first() is not None


def _resume(pfs: Pfs, job: JobRun) -> None:
    """Forget datums an interrupted run left unfinished; recount the finished ones."""
    unfinished = D.c.state == DatumState.STARTING.value
    with pfs.store.db.write() as conn:
        gone = [r.datum_id for r in conn.execute(
            select(D.c.datum_id).where(D.c.job_pk == job.pk, unfinished))]
        delta = conn.execute(select(J.c.datums_base).where(J.c.pk == job.pk)).scalar() is not None
        if gone:
            L = schema.logs
            conn.execute(delete(L).where(L.c.job_pk == job.pk, L.c.datum_id.in_(gone)))
            if not delta:  # a delta job's plan is not made again: _replan runs these
                conn.execute(delete(D).where(D.c.job_pk == job.pk, unfinished))
        counts: dict[str, int] = {r[0]: r[1] for r in conn.execute(
            select(D.c.state, func.count()).where(D.c.job_pk == job.pk).group_by(D.c.state))}
        restarted = J.c.restart + (1 if counts or gone else 0)
        conn.execute(update(J).where(J.c.pk == job.pk).values(
            state=JobState.RUNNING.value, started_at=utcnow(), restart=restarted,
            data_processed=counts.get(DatumState.SUCCESS.value, 0),
            data_failed=counts.get(DatumState.FAILED.value, 0),
            data_recovered=counts.get(DatumState.RECOVERED.value, 0),
        ))


def spec_at(pfs: Pfs, pipeline: str, spec_commit: str) -> PipelineSpec:
    data = b"".join(pfs.read_file(File(Commit(f"{pipeline}.spec", spec_commit), "/spec.json")))
    return spec_from_dict(json.loads(data))


def _load(pfs: Pfs, job_pk: int) -> JobRun:
    with pfs.store.db.read() as conn:
        row = conn.execute(select(J).where(J.c.pk == job_pk)).one()
        pipeline = conn.execute(
            select(schema.pipelines).where(schema.pipelines.c.id == row.pipeline_id)
        ).one()
        parent = conn.execute(
            select(J.c.pk).where(
                J.c.pipeline_id == row.pipeline_id, J.c.pk < row.pk,
                J.c.state == JobState.SUCCESS.value,
            ).order_by(J.c.pk.desc()).limit(1)
        ).first()
    spec = spec_at(pfs, pipeline.name, row.spec_commit)
    job = JobRun(row.pk, row.id, pipeline.name, pipeline.id, spec, row.salt,
               json.loads(row.inputs), parent.pk if parent else None)
    with pfs.store.db.read() as conn:
        for item in job.inputs:
            _, commit = resolve(conn, Commit(item["repo"], item["commit"]))
            job.trees[item["commit"]] = commit.tree
    return job


def resolved_input(node: Input, inputs: Sequence[dict[str, str]]) -> Input:
    """``node`` with every leaf pinned to the commit recorded for the job."""
    pinned = iter(inputs)

    def pin(n: Input) -> Input:
        if isinstance(n, PfsInput):
            return replace(n, commit=next(pinned)["commit"])
        if isinstance(n, CronInput):
            next(pinned)
            return n
        if isinstance(n, (CrossInput, UnionInput)):
            return type(n)(tuple(pin(c) for c in n.inputs))
        assert isinstance(n, (JoinInput, GroupInput))
        return type(n)(tuple(replace(c, commit=next(pinned)["commit"]) for c in n.inputs))

    return pin(node)


def _set_stream(pfs: Pfs, executor: Any, job: JobRun) -> SetStream:
    """Where the plan's datums go, cut into sets; streamed to workers while planning
    where the executor takes a stream and there is more than one worker."""
    location = pfs.store.location
    assert location is not None
    workers = max(1, job.spec.parallelism)
    transform, resources = _transform(job.spec), _resources(job.spec)

    def make_set(chunk: tuple[DatumTask, ...]) -> DatumSet:
        return DatumSet(location, job.id, job.pipeline, transform, chunk, resources)

    streams = workers > 1 and executor.takes_stream
    # equal sets where each one starts the user's batch process again
    restarts = transform.datum_batching and not executor.keeps_batch_processes
    return SetStream(make_set, lambda n: set_sizes(n, workers, restarts),
                     _STREAM_AT if streams else None, _EARLY_SET)


def _plan_into(pfs: Pfs, job: JobRun, executor: Any, stream: SetStream) -> None:
    """The planner's thread: the plan goes to ``stream``, and so does its failure."""
    try:
        todo, total, done = _plan(pfs, job, lambda: executor.warm(job.spec.parallelism),
                                  stream.publish)
        stream.finish(todo, total, done)
    except BaseException as exc:  # re-raised by the runner's thread (Cancelled: quietly)
        stream.fail(exc)


def _plan(
    pfs: Pfs, job: JobRun, warm: Callable[[], None],
    publish: Callable[[list[DatumTask], int], None] = lambda todo, total: None,
) -> tuple[list[DatumTask], int, int]:
    """Record every datum, skipped or to do; returns (to do, total, already done).
    ``warm`` is called once there are enough datums to do for workers to be worth
    starting while the rest is planned; ``publish`` with the datums to do so far each
    time their rows are recorded."""
    fast = _plan_by_diff(pfs, job)
    if fast is not None:
        return fast
    prior = _prior(pfs, job)
    node = resolved_input(job.spec.input, job.inputs)
    commits = {i["name"]: i["commit"] for i in job.inputs}

    def tree_of(leaf: PfsInput) -> str | None:  # cron inputs are not pinned: by name
        return job.trees.get(leaf.commit or commits[leaf.name])

    resolver = tree_resolver(pfs.store.trees, tree_of)
    every = job.spec.reprocess_spec == "every_job"
    with pfs.store.db.read() as conn:
        mine = {r.datum_id: r.state for r in conn.execute(
            select(D.c.datum_id, D.c.state).where(D.c.job_pk == job.pk))}
    todo: list[DatumTask] = []
    rows: list[dict[str, Any]] = []
    total = skipped = kept = 0
    empty = {leaf.name for leaf in _pfs_leaves(job.spec.input) if leaf.empty_files}
    for d in iter_datums(node, resolver, commits):
        total += 1
        did, h = datum_id(d), datum_hash(d, job.salt)
        if did in mine:  # finished before an interruption: keep it
            kept += 1
            skipped += mine[did] == DatumState.SKIPPED.value
            continue
        done = None if every else prior.get(h)
        row = {"job_pk": job.pk, "datum_id": did, "hash": h, "inputs": _inputs_json(d), **_ZERO}
        if done is not None:
            skipped += 1
            row.update(state=_SKIPPED, output_tree=done[0], output_size=done[1])
        else:
            row.update(state=_STARTING, output_tree=None, output_size=0)
            todo.append(_task(d, did, job, empty))
            if len(todo) == _WARM_AT:
                warm()
        rows.append(row)
        if len(rows) >= _ROW_BATCH:
            _insert(pfs, rows)
            publish(todo, total)
    _insert(pfs, rows)
    _set(pfs, job.pk, data_total=total, data_skipped=skipped)
    fresh_skips = skipped - sum(1 for s in mine.values() if s == DatumState.SKIPPED.value)
    return todo, total, kept + fresh_skips


def _plan_by_diff(pfs: Pfs, job: JobRun) -> tuple[list[DatumTask], int, int] | None:
    """``_plan`` for a single pfs input diffed against the previous job (see
    ``loxo.pps.incremental``); None where that does not apply."""
    leaf = job.spec.input
    if (job.parent_pk is None or not isinstance(leaf, PfsInput)
            or job.spec.reprocess_spec == "every_job"):
        return None
    commit = job.inputs[0]["commit"]
    with pfs.store.db.read() as conn:
        row = conn.execute(select(J.c.datums_base, J.c.data_total).where(J.c.pk == job.pk)).one()
        if row.datums_base is not None:  # planned before an interruption
            return _replan(pfs, job, leaf, row.data_total)
        if conn.execute(select(D.c.pk).where(D.c.job_pk == job.pk).limit(1)).first():
            return None  # resumed whole: the general planner keeps what already ran
        spec_commit = conn.execute(select(J.c.spec_commit).where(J.c.pk == job.parent_pk)).scalar_one()
        own_commit = conn.execute(select(J.c.spec_commit).where(J.c.pk == job.pk)).scalar_one()
    parent_input = (leaf if spec_commit == own_commit
                    else spec_at(pfs, job.pipeline, spec_commit).input)
    if not isinstance(parent_input, PfsInput):
        return None
    with pfs.store.db.read() as conn:
        basis = diff_basis(conn, job.parent_pk, job.salt, leaf, parent_input)
    if basis is None:
        return None
    new_tree = job.trees.get(commit) if commit else None
    changes = changed_datums(pfs.store.trees, leaf, commit, new_tree, basis.old_tree)
    ids = [datum_id(d) for d in changes.fresh]
    rows = [{"job_pk": job.pk, "datum_id": did, "hash": datum_hash(d, job.salt),
             "inputs": _inputs_json(d), "state": DatumState.STARTING.value, "output_tree": None,
             "output_size": 0, **_ZERO} for d, did in zip(changes.fresh, ids, strict=True)]
    with pfs.store.db.write() as conn:
        total, skipped = record_delta(conn, job.pk, basis, commit, changes, rows)
    empty = {leaf.name} if leaf.empty_files else set()
    todo = [_task(d, did, job, empty) for d, did in zip(changes.fresh, ids, strict=True)]
    return todo, total, skipped


def _replan(pfs: Pfs, job: JobRun, leaf: PfsInput, total: int) -> tuple[list[DatumTask], int, int]:
    """The datums a delta job still has to run after an interruption: its own rows that
    never finished (``_resume`` kept them for this)."""
    empty = {leaf.name} if leaf.empty_files else set()
    commit = job.inputs[0]["commit"]
    with pfs.store.db.read() as conn:
        rows = list(conn.execute(select(D.c.datum_id, D.c.inputs).where(
            D.c.job_pk == job.pk, D.c.state == DatumState.STARTING.value)))
    todo = []
    for r in rows:
        (item,) = json.loads(r.inputs)
        d = pfs_datum(leaf, commit, Match(item["path"], item["id"], 0, False))
        todo.append(_task(d, r.datum_id, job, empty))
    return todo, total, total - len(todo)


_SKIPPED, _STARTING = DatumState.SKIPPED.value, DatumState.STARTING.value  # an enum's .value costs ~1 us
_ZERO = {"error": "", "attempts": 0, "download_seconds": 0.0, "process_seconds": 0.0,
         "upload_seconds": 0.0}


def _pfs_leaves(node: Input) -> Iterator[PfsInput]:
    if isinstance(node, PfsInput):
        yield node
    elif not isinstance(node, CronInput):
        for child in node.inputs:
            yield from _pfs_leaves(child)


def _task(d: Datum, did: str, job: JobRun, empty: set[str]) -> DatumTask:
    inputs = tuple(
        TaskInput(i.name, i.repo, i.commit, job.trees.get(i.commit), i.path, i.name in empty)
        for i in d.inputs
    )
    return DatumTask(did, inputs, datum_env(d, job.id, job.id, did=did))


def _inputs_json(d: Datum) -> str:
    return orjson.dumps([
        {"name": i.name, "repo": i.repo, "commit": i.commit, "path": i.path, "id": i.id}
        for i in d.inputs
    ]).decode()


def _insert(pfs: Pfs, rows: list[dict[str, Any]]) -> None:
    if rows:
        with pfs.store.db.write() as conn:
            bulk_insert(conn, D, rows)
        rows.clear()


def _prior(pfs: Pfs, job: JobRun) -> dict[str, tuple[str | None, int]]:
    """Datums done by the previous successful job: hash -> (output tree, size)."""
    if job.parent_pk is None:
        return {}
    done = (DatumState.SUCCESS.value, DatumState.SKIPPED.value)
    with pfs.store.db.read() as conn:
        rows = datum_sets.datums(conn, datum_sets.layout(conn, job.parent_pk))
        return {r.hash: (r.output_tree, r.output_size) for r in rows if r.state in done}


def _transform(spec: PipelineSpec) -> Transform:
    t = spec.transform
    return Transform(
        cmd=t.cmd, stdin=t.stdin, env=dict(t.env), err_cmd=t.err_cmd, err_stdin=t.err_stdin,
        accept_return_code=t.accept_return_code, working_dir=t.working_dir,
        datum_timeout=spec.datum_timeout, datum_tries=spec.datum_tries,
        datum_batching=t.datum_batching,
    )


def _resources(spec: PipelineSpec) -> TaskResources:
    """What each datum set asks of a node: the requests, a limit where none is given."""
    req, lim = spec.resource_requests, spec.resource_limits
    return TaskResources(
        cpu=req.cpu if req.cpu is not None else lim.cpu,
        memory=req.memory if req.memory is not None else lim.memory,
        gpu=req.gpu or lim.gpu,
        gpu_type=req.gpu_type or lim.gpu_type,
    )


def _process(
    pfs: Pfs, executor: Any, job: JobRun, stream: SetStream, started: float,
    progress: Progress | None,
) -> tuple[str, str]:
    """Run the datums to do as the plan gives them; returns (failure reason or "", why
    it was stopped or "")."""
    stream.wait_ready()
    if stream.error is not None:
        return "", ""  # the planner failed before anything ran: _run raises it
    sets: SetStream | list[DatumSet] = stream if stream.streaming else list(stream)
    if progress is not None:
        progress(stream.done, stream.total)
    if not sets:
        return "", ""
    failures: list[DatumResult] = []
    ran = 0
    for results in executor.run(sets, max(1, job.spec.parallelism)):
        _record(pfs, job, results)
        failures.extend(r for r in results if r.state == DatumState.FAILED.value)
        ran += len(results)
        if progress is not None:
            progress(stream.done + ran, stream.total)
        if job.spec.job_timeout and time.monotonic() - started > job.spec.job_timeout:
            return "", f"job timed out after {job.spec.job_timeout} s"
        if _state(pfs, job) is JobState.KILLED:
            return "", "stopped by user"
    if not failures:
        return "", ""
    first = failures[0]
    return (
        f"{len(failures)} datum(s) failed; first {first.datum_id}: {first.error}; "
        f"see: loxo logs -p {job.pipeline} -j {job.id} --datum {first.datum_id}"
    ), ""


def _state(pfs: Pfs, job: JobRun) -> JobState:
    with pfs.store.db.read() as conn:
        return JobState(conn.execute(select(J.c.state).where(J.c.pk == job.pk)).scalar_one())


def _record(pfs: Pfs, job: JobRun, results: list[DatumResult]) -> None:
    """Index the output trees' directory blobs (a worker wrote them) and keep them
    decoded for landing, then record states, timings, logs and counters in one
    transaction."""
    pfs.store.index.add([p for r in results for p in r.tree_parts])
    for r in results:
        pfs.store.trees.remember(r.tree_nodes)
    processed = sum(1 for r in results if r.state == DatumState.SUCCESS.value)
    failed = sum(1 for r in results if r.state == DatumState.FAILED.value)
    recovered = sum(1 for r in results if r.state == DatumState.RECOVERED.value)
    with pfs.store.db.write() as conn:
        bulk_update(conn, D, ["job_pk", "datum_id"], [
            {"state": r.state, "output_tree": r.output_tree, "output_size": r.output_size,
             "error": r.error, "attempts": r.attempts, "started_at": _when(r.started),
             "finished_at": _when(r.finished), "download_seconds": r.download_seconds,
             "process_seconds": r.process_seconds, "upload_seconds": r.upload_seconds,
             "job_pk": job.pk, "datum_id": r.datum_id}
            for r in results
        ])
        bulk_insert(conn, schema.logs, [
            {"job_pk": job.pk, "datum_id": r.datum_id, "ts": _when(line.ts),
             "stream": line.stream, "line": line.line}
            for r in results for line in r.logs
        ])
        conn.execute(update(J).where(J.c.pk == job.pk).values(
            data_processed=J.c.data_processed + processed,
            data_failed=J.c.data_failed + failed,
            data_recovered=J.c.data_recovered + recovered,
            download_bytes=J.c.download_bytes + sum(r.download_bytes for r in results),
            upload_bytes=J.c.upload_bytes + sum(r.output_size for r in results),
        ))


def _when(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _set(pfs: Pfs, job_pk: int, **values: Any) -> None:
    with pfs.store.db.write() as conn:
        conn.execute(update(J).where(J.c.pk == job_pk).values(**values))


def _finish(pfs: Pfs, job: JobRun, state: JobState, reason: str) -> JobState:
    _set(pfs, job.pk, state=state.value, reason=reason, finished_at=utcnow())
    return state
