"""The job controller of a server: one thread that runs what commits call for.

Every write through the API pokes it, so a commit starts its jobs at once; it also wakes
every ``interval`` seconds for cron ticks and for jobs whose runner died (their lease
expires). Job state lives in the database, so a restarted server resumes where the last
one stopped. ``wait_idle`` lets a caller wait until everything its write triggered ran.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from datetime import datetime

import structlog

from loxo.meta.db import utcnow
from loxo.model.jobs import JobState

RunPending = Callable[[datetime], list[tuple[str, str, JobState]]]
JobFinished = Callable[[str, str, JobState], None]
"""Told (pipeline, job id, state) after a job finished and was logged."""
log = structlog.get_logger("loxo.controller")


class Controller:
    def __init__(
        self, run_pending: RunPending, interval: float = 1.0, on_finish: JobFinished | None = None
    ) -> None:
        self._run_pending = run_pending
        self._on_finish = on_finish
        self._interval = interval
        self._cond = threading.Condition()
        self._requested = 0  # pokes so far
        self._covered = 0  # pokes whose work a finished pass has done
        self._stopping = False
        self._finished: deque[tuple[int, tuple[str, str, JobState]]] = deque(maxlen=10_000)
        self._count = 0  # jobs finished so far
        self._thread = threading.Thread(target=self._loop, name="loxo-controller", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread.ident is not None:  # never started: nothing to wait for
            self._thread.join(timeout)

    def poke(self) -> int:
        """Ask for a pass soon; returns a ticket for ``wait_idle``."""
        with self._cond:
            self._requested += 1
            self._cond.notify_all()
            return self._requested

    def wait_idle(self, ticket: int, timeout: float) -> bool:
        """True once a pass that started after poke ``ticket`` has finished."""
        with self._cond:
            return self._cond.wait_for(lambda: self._covered >= ticket, timeout)

    def mark(self) -> int:
        """A point in the history of finished jobs, for ``finished_since``."""
        with self._cond:
            return self._count

    def finished_since(self, mark: int) -> list[tuple[str, str, JobState]]:
        """``(pipeline, job id, state)`` of the jobs finished after ``mark``, in order."""
        with self._cond:
            return [run for n, run in self._finished if n > mark]

    def job_started(self, pipeline: str, job: str) -> None:
        """The ``on_job`` hook of the client that runs jobs: log the start (no progress
        callback; progress is in the job's row)."""
        log.info("job started", pipeline=pipeline, job=job)

    def _loop(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._stopping or self._requested > self._covered,
                                    self._interval)
                if self._stopping:
                    return
                target = self._requested
            self._pass()
            with self._cond:
                self._covered = max(self._covered, target)
                self._cond.notify_all()

    def _pass(self) -> None:
        try:
            runs = self._run_pending(utcnow())
        except Exception:  # a bad pass must not kill the controller; the next one retries
            log.exception("controller pass failed")
            return
        with self._cond:
            for run in runs:
                self._count += 1
                self._finished.append((self._count, run))
        for pipeline, job, state in runs:
            level = logging.INFO if state is JobState.SUCCESS else logging.WARNING
            log.log(level, "job finished", pipeline=pipeline, job=job, state=state.value)
            self._told(pipeline, job, state)

    def _told(self, pipeline: str, job: str, state: JobState) -> None:
        if self._on_finish is None:
            return
        try:
            self._on_finish(pipeline, job, state)
        except Exception:  # a hook that fails (e.g. the database went away) only loses lines
            log.exception("job finished hook failed", pipeline=pipeline, job=job)
