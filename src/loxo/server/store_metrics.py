"""The store's metrics, read from the metadata database when Prometheus scrapes.

The job runner (``loxo.pps``) writes job and datum rows and knows nothing of the server;
this collector turns the rows into metrics:

- ``loxo_datums_total{pipeline,outcome}``: datums by outcome, ``processed`` (ran and
  succeeded), ``skipped`` (an identical datum succeeded before), ``failed``,
  ``recovered`` (failed, then ``err_cmd`` accepted it).
- ``loxo_datum_download_seconds``, ``loxo_datum_process_seconds``,
  ``loxo_datum_upload_seconds`` ``{pipeline}``: histograms over the datums that ran
  (skipped datums took no time and would only drag the quantiles down).
- ``loxo_jobs{pipeline,state}``: jobs in each state now (every state, zeros included).
- ``loxo_repo_size_bytes{repo,kind}``: each repo's logical size, as ``loxo list repo``
  shows it: the bytes of the files in its largest branch head. Cheap (one row per
  branch) and honest about what users see; it is not the bytes the object store holds,
  which deduplication makes smaller and history makes larger.
- ``loxo_metrics_store_up`` (1: the last scrape read the database) and
  ``loxo_metrics_store_scan_seconds`` (what that read cost).

Datums are read incrementally. The runner inserts a job's datum rows when it plans the
job (state ``starting``, or ``skipped`` at once) and updates each to its final state
when it has run. Rows get their primary keys in commit order (one writer at a time:
SQLite's lock, PostgreSQL's advisory lock), so the collector keeps a watermark: every
row below it is counted, or never will be (its job ended without running it). A scrape
reads at most ``SCAN_BATCH`` rows from the watermark on, an indexed range, and counts
the rows that reached a final state; rows above the first unsettled one are remembered
so that they are not counted twice. Counts live in memory: a restarted server counts
every row again from the first, so the counters are totals since the store began (rows
of deleted pipelines excepted); a long history is caught up ``SCAN_BATCH`` rows a scrape.
A job planned by diff has no rows for the datums it inherits from its base job
(``loxo.pps.datum_sets``); those skips are added from the job rows at each scrape.
"""

from __future__ import annotations

import threading
import time
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import structlog
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.utils import floatToGoString
from sqlalchemy import Connection, func, select

from loxo.meta import schema
from loxo.meta.db import Database
from loxo.model.jobs import DatumState, JobState

SCAN_BATCH = 50_000
"""Datum rows read per scrape at most: bounds a scrape's cost after a restart on a long
history (measured on SQLite: ~5 µs of CPU a row, query included; 20,000 rows ~100 ms)."""
OUTCOMES = {DatumState.SUCCESS.value: "processed", DatumState.SKIPPED.value: "skipped",
            DatumState.FAILED.value: "failed", DatumState.RECOVERED.value: "recovered"}
PHASES = ("download", "process", "upload")
BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
          300.0, 900.0, 3600.0)
"""Datum time buckets (seconds): a ``cp`` takes milliseconds, a training step hours."""
_LE = [*map(floatToGoString, BOUNDS), "+Inf"]
_DONE_JOBS = frozenset(s.value for s in JobState if s.done)
_STARTING = DatumState.STARTING.value

log = structlog.get_logger("loxo.metrics")


class _Timings:
    """One histogram series: per-bucket counts (not cumulative) and the sum."""

    __slots__ = ("counts", "total")

    def __init__(self) -> None:
        self.counts = [0] * (len(BOUNDS) + 1)
        self.total = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect_left(BOUNDS, seconds)] += 1  # le: a value on a bound is in it
        self.total += seconds

    def cumulative(self) -> list[tuple[str, float]]:
        running, buckets = 0, []
        for le, n in zip(_LE, self.counts, strict=True):
            running += n
            buckets.append((le, float(running)))
        return buckets


class _PipelineTally:
    """One pipeline's datum counts by outcome and its three timing histograms. Made on
    its first datum with every series at zero: a series that appears at 1 loses that
    first increment to ``rate()``."""

    __slots__ = ("outcomes", "timings")

    def __init__(self) -> None:
        self.outcomes = dict.fromkeys(OUTCOMES.values(), 0)
        self.timings = [_Timings() for _ in PHASES]

    def count(self, state: str, download: float, process: float, upload: float) -> None:
        outcome = OUTCOMES.get(state)
        if outcome is None:  # a state this server does not know: settled, not counted
            return
        self.outcomes[outcome] += 1
        if outcome != "skipped":  # skipped datums took no time
            for timings, seconds in zip(self.timings, (download, process, upload), strict=True):
                timings.observe(seconds)


class DatumTally:
    """Datum counts and timings per pipeline, fed datum rows in primary key order:
    ``(pk, state, download, process, upload seconds, job state, pipeline)``."""

    def __init__(self) -> None:
        self.next_pk = 0  # every row below is counted or never will be
        self.pipelines: dict[str, _PipelineTally] = {}
        self._counted: set[int] = set()  # counted rows at or above next_pk

    def feed(self, rows: Sequence[Sequence[Any]]) -> None:
        """Count the rows that reached a final state; move the watermark to the first
        row still waiting for a live job. (Plain tuples and locals: this loop is most
        of a scrape's cost.)"""
        waiting: int | None = None
        counted, pipelines = self._counted, self.pipelines
        for pk, state, download, process, upload, job_state, pipeline in rows:
            if state != _STARTING:
                if pk in counted:
                    continue
                if waiting is not None:  # below the new watermark needs no remembering
                    counted.add(pk)
                tally = pipelines.get(pipeline)
                if tally is None:
                    tally = pipelines[pipeline] = _PipelineTally()
                tally.count(state, download, process, upload)
            elif waiting is None and job_state not in _DONE_JOBS:
                waiting = pk
        if rows:
            self.next_pk = rows[-1][0] + 1 if waiting is None else waiting
            self._counted = {pk for pk in counted if pk >= self.next_pk}

    def families(self, inherited: dict[str, int] | None = None) -> list[Metric]:
        """``inherited``: skips of finished delta jobs that have no row (per pipeline)."""
        inherited = inherited or {}
        for name in inherited:
            if name not in self.pipelines:
                self.pipelines[name] = _PipelineTally()
        datums = CounterMetricFamily("loxo_datums", "Datums finished, by outcome.",
                                     labels=["pipeline", "outcome"])
        timings = [HistogramMetricFamily(f"loxo_datum_{p}_seconds",
                                         f"Time datums that ran spent in {p}.",
                                         labels=["pipeline"]) for p in PHASES]
        for name, tally in sorted(self.pipelines.items()):
            for outcome, n in tally.outcomes.items():
                extra = inherited.get(name, 0) if outcome == "skipped" else 0
                datums.add_metric([name, outcome], n + extra)
            for family, t in zip(timings, tally.timings, strict=True):
                family.add_metric([name], t.cumulative(), t.total)
        return [datums, *timings]


def datum_rows(conn: Connection, start: int, limit: int) -> Sequence[Any]:
    """Datum rows from primary key ``start`` on, with their pipeline and job state."""
    D, J, P = schema.datums, schema.jobs, schema.pipelines
    query = (
        select(D.c.pk, D.c.state, D.c.download_seconds, D.c.process_seconds,
               D.c.upload_seconds, J.c.state.label("job_state"), P.c.name.label("pipeline"))
        .join(J, J.c.pk == D.c.job_pk).join(P, P.c.id == J.c.pipeline_id)
        .where(D.c.pk >= start).order_by(D.c.pk).limit(limit)
    )
    return conn.execute(query).all()


def inherited_skips(conn: Connection) -> dict[str, int]:
    """Per pipeline, the skipped datums of finished jobs stored as deltas that have no
    row of their own (see ``loxo.pps.datum_sets``): the row scan cannot see them. Delta
    jobs hold few rows, so this reads little."""
    D, J, P = schema.datums, schema.jobs, schema.pipelines
    done = [s.value for s in JobState if s.done]
    delta = (J.c.datums_base.is_not(None)) & J.c.state.in_(done)
    skipped = {r.name: int(r.n) for r in conn.execute(
        select(P.c.name, func.sum(J.c.data_skipped).label("n"))
        .join(P, P.c.id == J.c.pipeline_id).where(delta).group_by(P.c.name))}
    for r in conn.execute(
        select(P.c.name, func.count().label("n")).select_from(D)
        .join(J, J.c.pk == D.c.job_pk).join(P, P.c.id == J.c.pipeline_id)
        .where(delta, D.c.state == DatumState.SKIPPED.value).group_by(P.c.name)
    ):
        skipped[r.name] -= int(r.n)
    return skipped


def jobs_family(conn: Connection) -> GaugeMetricFamily:
    J, P = schema.jobs, schema.pipelines
    counts = {(r.name, r.state): r.n for r in conn.execute(
        select(P.c.name, J.c.state, func.count().label("n"))
        .join(P, P.c.id == J.c.pipeline_id).group_by(P.c.name, J.c.state))}
    family = GaugeMetricFamily("loxo_jobs", "Jobs in each state.", labels=["pipeline", "state"])
    for pipeline in sorted({p for p, _ in counts}):
        for state in JobState:
            family.add_metric([pipeline, state.value], counts.get((pipeline, state.value), 0))
    return family


def repo_sizes_family(conn: Connection) -> GaugeMetricFamily:
    R, B, C = schema.repos, schema.branches, schema.commits
    heads = R.outerjoin(B, B.c.repo_id == R.c.id).outerjoin(
        C, (C.c.repo_id == B.c.repo_id) & (C.c.id == B.c.head))
    rows = conn.execute(
        select(R.c.name, R.c.kind, func.coalesce(func.max(C.c.size_bytes), 0).label("size"))
        .select_from(heads).group_by(R.c.name, R.c.kind).order_by(R.c.name))
    family = GaugeMetricFamily("loxo_repo_size_bytes",
                               "Bytes of the files in each repo's largest branch head.",
                               labels=["repo", "kind"])
    for r in rows:
        family.add_metric([r.name, r.kind], r.size)
    return family


class StoreCollector:
    """A prometheus-client collector over the store's metadata database."""

    def __init__(self, db: Callable[[], Database | None], batch: int = SCAN_BATCH) -> None:
        self._db = db
        self._batch = batch
        self._tally = DatumTally()
        self._lock = threading.Lock()  # scrapes at once: no row counted twice, no torn read

    def collect(self) -> Iterable[Metric]:
        with self._lock:
            started = time.perf_counter()
            read, inherited = self._read()
            took = time.perf_counter() - started
            datums = self._tally.families(inherited)
        up = GaugeMetricFamily("loxo_metrics_store_up",
                               "1 if this scrape read the metadata database, else 0.",
                               value=0 if read is None else 1)
        cost = GaugeMetricFamily("loxo_metrics_store_scan_seconds",
                                 "Time this scrape spent reading the metadata database.",
                                 value=took)
        return [*datums, *(read or []), up, cost]

    def _read(self) -> tuple[list[Metric] | None, dict[str, int] | None]:
        """Feed new datum rows to the tally; the job and repo gauges and the skips rows
        do not show (None, None: no database)."""
        db = self._db()
        if db is None:  # the app has not started (or has stopped)
            return None, None
        try:
            with db.read() as conn:
                self._tally.feed(datum_rows(conn, self._tally.next_pk, self._batch))
                return [jobs_family(conn), repo_sizes_family(conn)], inherited_skips(conn)
        except Exception as exc:  # a failed read must not hide the HTTP metrics
            log.warning("store metrics unavailable", error=f"{type(exc).__name__}: {exc}")
            return None, None
