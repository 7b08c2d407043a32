"""Cron inputs: when ticks fall due, and committing them to the cron repo.

Pure functions first (no clock, no store): ``next_tick`` and ``due_ticks`` over a spec,
``tick_name`` / ``parse_tick`` for the files. Then the effectful part: ``tick`` commits
one tick, ``tick_crons`` the due ticks of every running pipeline (the controller calls it
at the start of ``run_pending``; a server loop only has to call it periodically).

Semantics, as Pachyderm (robfig/cron ``ParseStandard``, every time in UTC, whole seconds):

- ``spec``: 5 fields (minute hour day-of-month month day-of-week), 6 fields (seconds
  first, as robfig's 6-field form), ``@yearly @annually @monthly @weekly @daily
  @midnight @hourly``, or ``@every <Go duration>`` (ticks ``d`` apart from the last
  one, ``d`` cut to whole seconds and at least 1 s). When day-of-month and day-of-week
  are both restricted, either matching is enough (cron's rule).
- A tick is an empty file named by its RFC 3339 UTC time (``/2026-11-22T01:00:00Z``)
  committed to ``master`` of the cron repo; with ``overwrite`` the same commit deletes
  everything else there, so the repo holds only the latest tick. A tick already there
  makes no commit.
- The schedule runs from the later of the newest tick file and ``start``; ``start``
  defaults to the pipeline's creation time (Pachyderm sets it to "now" at creation),
  so no tick falls at or before it.
- Catching up: Pachyderm's tick loop would commit every missed tick one after another
  after a downtime; loxo commits at most ``CATCH_UP`` (1) per call, the latest due one,
  keeping the schedule's phase. Ticks that fell due while a pipeline was stopped are
  caught up the same way when it starts.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from cronsim import CronSim, CronSimError
from sqlalchemy import select

from loxo.errors import InvalidArgument
from loxo.meta import schema
from loxo.meta.db import as_utc
from loxo.model.jobs import PipelineState
from loxo.model.refs import Commit, CommitInfo, FileKind
from loxo.pfs import Pfs, Source
from loxo.pfs.lookup import branch_row, commit_by_id, repo_row
from loxo.pfs.sources import store_sources
from loxo.pfs.tree import Change, Entry
from loxo.pfs.writes import write_changes
from loxo.pps.inputs import CronInput, Input, leaves
from loxo.pps.spec import spec_from_dict
from loxo.pps.spec_values import ValueProblem, parse_duration
from loxo.storage.blobs import BlobWriter

CATCH_UP = 1
"""At most this many due ticks per cron input per ``tick_crons`` call (the latest ones)."""

BRANCH = "master"
_SECOND = timedelta(seconds=1)
_NAMED = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_EVERY = "@every "
_HELP = '"*/10 * * * *", "0 30 * * * *" (seconds first), "@daily", "@every 1h"'


# -- pure: schedules -------------------------------------------------------------------
def check_spec(spec: str) -> None:
    """Raise ``InvalidArgument`` unless ``spec`` is a schedule loxo can compute."""
    _parse(spec)


def _parse(spec: str) -> str | int:
    """A 5- or 6-field expression for cronsim, or the seconds between ``@every`` ticks."""
    text = " ".join(spec.split())
    if text.startswith(_EVERY):
        try:
            seconds = parse_duration(text[len(_EVERY):])
        except ValueProblem as exc:
            raise InvalidArgument(f"cron spec {spec!r}: {exc}") from None
        if seconds <= 0:
            raise InvalidArgument(f"cron spec {spec!r}: @every needs a duration above zero")
        return max(1, int(seconds))  # robfig: whole seconds, at least one
    expr = _NAMED.get(text.lower(), text).replace("?", "*")  # robfig reads ? as *
    if text.startswith("@") and text.lower() not in _NAMED:
        raise InvalidArgument(f"cron spec {spec!r}: unknown descriptor; use one of {_HELP}")
    try:
        CronSim(expr, datetime(2000, 1, 1, tzinfo=UTC))
    except (CronSimError, ValueError) as exc:
        raise InvalidArgument(f"cron spec {spec!r}: {exc}; use one of {_HELP}") from None
    return expr


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _floor(moment: datetime) -> datetime:
    return _utc(moment).replace(microsecond=0)


def next_tick(spec: str, after: datetime) -> datetime:
    """The first tick of ``spec`` strictly after ``after`` (naive means UTC), in UTC.

    For ``@every d`` that is ``after`` cut to the second plus ``d``, as robfig/cron.
    """
    schedule = _parse(spec)
    if isinstance(schedule, int):
        return _floor(after) + timedelta(seconds=schedule)
    return next(CronSim(schedule, _floor(after)))


def due_ticks(
    spec: str, start: datetime | None, last_tick: datetime | None, now: datetime,
    limit: int = CATCH_UP,
) -> list[datetime]:
    """The ticks after the later of ``start`` and ``last_tick`` and at or before ``now``.

    Only the ``limit`` latest of them, oldest first: after a long downtime this is the
    latest due tick alone, not hundreds (their phase is kept: an ``@every 1h`` from
    10:20 catches up to the last xx:20 before ``now``). With neither ``start`` nor
    ``last_tick`` there is nothing to count from: no ticks.
    """
    known = [_utc(t) for t in (start, last_tick) if t is not None]
    if not known or limit < 1:
        return []
    base = max(known)
    schedule = _parse(spec)
    if isinstance(schedule, int):
        first = _floor(base)
        count = int((_floor(now) - first).total_seconds()) // schedule
        return [first + timedelta(seconds=schedule * k) for k in range(max(1, count - limit + 1), count + 1)]
    newest: list[datetime] = []
    for moment in _backwards(schedule, now):
        if moment <= base or len(newest) == limit:
            break
        newest.append(moment)
    return newest[::-1]


def _backwards(expr: str, now: datetime) -> Iterator[datetime]:
    """Ticks at or before ``now``, newest first (cronsim yields strictly before its start)."""
    return iter(CronSim(expr, _floor(now) + _SECOND, reverse=True))


def tick_name(moment: datetime) -> str:
    """``/2026-11-22T01:00:00Z``: the file of the tick at ``moment`` (cut to the second)."""
    return "/" + _floor(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_tick(name: str) -> datetime | None:
    """The time a tick file's name (with or without the leading ``/``) stands for."""
    text = name.rsplit("/", 1)[-1]
    try:
        moment = datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        try:
            moment = datetime.fromisoformat(text)  # another offset, as RFC 3339 allows
        except ValueError:
            return None
    return _utc(moment)


def cron_inputs(node: Input | None) -> list[CronInput]:
    """The cron inputs of an input tree, left to right."""
    if node is None:
        return []
    return [leaf for leaf in leaves(node) if isinstance(leaf, CronInput)]


# -- effectful: committing ticks --------------------------------------------------------
def _head_tree(pfs: Pfs, repo: str) -> str | None:
    """The tree of the cron repo's master head (None: no commit, or empty)."""
    with pfs.store.db.read() as conn:
        row = repo_row(conn, repo)
        branch = branch_row(conn, row.id, BRANCH)
        if branch is None or branch.head is None:
            return None
        commit = commit_by_id(conn, row.id, branch.head)
        return commit.tree if commit is not None else None


def _tick_files(pfs: Pfs, tree: str | None) -> list[str]:
    """Names of the entries at the top of ``tree``."""
    root = pfs.store.trees.lookup(tree, ()) if tree is not None else None
    if root is None or not root.is_dir:
        return []
    return [e.name for e in pfs.store.trees.children(root)]


def last_tick(pfs: Pfs, repo: str) -> datetime | None:
    """The newest tick in ``repo``'s master head, or None before the first."""
    times = [t for t in map(parse_tick, _tick_files(pfs, _head_tree(pfs, repo))) if t is not None]
    return max(times, default=None)


def tick(pfs: Pfs, pipeline: str, cron: CronInput, when: datetime) -> CommitInfo | None:
    """Commit the tick at ``when`` to ``cron.repo``'s master, in one commit; with
    ``overwrite`` that commit also deletes what was there. None if the tick is there."""
    name = tick_name(when)
    parts = (name[1:],)
    base = _head_tree(pfs, cron.repo)
    present = _tick_files(pfs, base)
    if parts[0] in present:
        return None
    deletes = [Change((old,), "delete") for old in present] if cron.overwrite else []
    plan = [*deletes, Change(parts, "put", Entry(parts[0], FileKind.FILE, "", 0))]

    def produce(writer: BlobWriter, _base: str | None) -> list[Change]:
        [content] = store_sources(writer, [Source(name, data=b"")])
        writer.flush()
        entry = Entry(parts[0], FileKind.FILE, content.id, content.size, writer.parts(content.chunks))
        return [*deletes, Change(parts, "put", entry)]

    return write_changes(
        pfs.store, Commit(cron.repo, BRANCH), plan, produce,
        description=f"cron tick {name[1:]} of pipeline {pipeline}",
    )


def tick_crons(pfs: Pfs, now: datetime) -> list[CommitInfo]:
    """Commit the due ticks of every cron input of every running (not paused) pipeline
    as of ``now``; returns the commits made."""
    P = schema.pipelines
    with pfs.store.db.read() as conn:
        rows = conn.execute(
            select(P.c.name, P.c.spec, P.c.created_at).where(P.c.state == PipelineState.RUNNING.value)
        ).all()
    made: list[CommitInfo] = []
    for row in rows:
        if '"cron"' not in row.spec:  # most pipelines: skip parsing their spec
            continue
        for cron in cron_inputs(spec_from_dict(json.loads(row.spec)).input):
            start = cron.start or as_utc(row.created_at)
            for moment in due_ticks(cron.spec, start, last_tick(pfs, cron.repo), now):
                commit = tick(pfs, row.name, cron, moment)
                if commit is not None:
                    made.append(commit)
    return made
