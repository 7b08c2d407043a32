"""Datum sets handed to workers while the job is still being planned.

Planning 10,000 datums takes ~0.7 s and a million a minute; workers that are ready
meanwhile need not wait for the whole plan. The planner publishes the datums to do as
their rows are recorded (a datum is never run before its row exists); once enough are
in, the job's runner starts the executor on this stream, whose workers take what is
planned so far. When the plan is complete, what is left is cut as a finished plan is
(``sizes``), so the end of a job is balanced the same way.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence

from loxo.worker.task import DatumSet, DatumTask

Sizes = Callable[[int], list[int]]
"""Set sizes for n datums known to be all that is left."""


# Sets per worker (the first sets' size; see set_sizes): each boundary costs a round
# trip and, with datum batching on an executor that does not keep the user's process
# between sets, a start of it (a model is loaded once per set), while more sets balance
# uneven datums and report progress more often. Two equal sets a worker measured
# fastest on bench/datums.py (4 and 8 were 5-15% slower).
_SETS_PER_WORKER = 2


def set_sizes(n: int, workers: int, restarts: bool) -> list[int]:
    """How many datums each set gets. Where each set starts the user's datum batching
    process again (a model is loaded once per set), equal sets. Otherwise each set gets
    its share of what is left, down to a sixteenth of a worker's share: the last sets
    are small, so workers finish together instead of one idling while another ends a big
    set."""
    share = max(1, math.ceil(n / (workers * _SETS_PER_WORKER)))
    if restarts:
        return [min(share, n - i) for i in range(0, n, share)]
    floor = max(1, math.ceil(n / (workers * 16)))
    sizes: list[int] = []
    left = n
    while left:
        size = min(left, max(floor, math.ceil(left / (workers * _SETS_PER_WORKER))))
        sizes.append(size)
        left -= size
    return sizes


class Cancelled(Exception):
    """The job stopped while it was being planned (raised in the planner)."""


class SetStream:
    """Thread-safe: the planner calls ``publish`` and ``finish`` (or ``fail``); the
    executor's feeder threads iterate; the runner waits for ``wait_ready``."""

    def __init__(self, make_set: Callable[[tuple[DatumTask, ...]], DatumSet], sizes: Sizes,
                 start_at: int | None, early: int) -> None:
        """``start_at``: datums to do that make streaming worth starting (None: never;
        the runner then gets the sets once the plan is complete); ``early``: the most a
        set handed out while planning gets (a worker taking all that is planned when it
        comes would be left with a big share while the others run out)."""
        self._make_set = make_set
        self._sizes_for = sizes
        self._start_at = start_at
        self._early = early
        self._cond = threading.Condition()
        self._tasks: Sequence[DatumTask] = ()
        self._ready = 0  # how many of ``_tasks`` have their rows recorded (it grows meanwhile)
        self._given = 0
        self._sizes: list[int] | None = None
        self.streaming = False
        self.finished = False
        self.cancelled = False
        self.error: BaseException | None = None
        self.total = 0  # datums planned so far (skipped or not); all of them once finished
        self.done = 0  # of those, done already (skipped, or finished before a restart)

    # -- the planner's side -----------------------------------------------------------
    def publish(self, todo: Sequence[DatumTask], total: int) -> None:
        """``todo``: every datum to do planned so far, each with its row recorded (the
        planner may append more to it; only these are handed out)."""
        with self._cond:
            if self.cancelled:
                raise Cancelled()
            self._tasks, self._ready, self.total = todo, len(todo), total
            if self._start_at is not None and len(todo) >= self._start_at:
                self.streaming = True
            self._cond.notify_all()

    def finish(self, todo: Sequence[DatumTask], total: int, done: int) -> None:
        with self._cond:
            self._tasks, self._ready, self.total, self.done = todo, len(todo), total, done
            self.finished = True
            self._cond.notify_all()

    def fail(self, error: BaseException) -> None:
        with self._cond:
            self.error = error
            self.finished = True
            self._cond.notify_all()

    # -- the runner's side ------------------------------------------------------------
    def wait_ready(self) -> None:
        """Until the plan is complete (or failed), or streaming may start."""
        with self._cond:
            self._cond.wait_for(lambda: self.finished or self.streaming)

    def cancel(self) -> None:
        """Stop handing out sets (the job stopped); the planner stops at its next
        ``publish``."""
        with self._cond:
            self.cancelled = True
            self._cond.notify_all()

    def clear(self) -> None:
        """Let go of the tasks (100,000 are ~100 MiB) once they ran."""
        with self._cond:
            self._tasks, self._ready, self._given = (), 0, 0

    def __iter__(self) -> SetStream:
        return self

    def __next__(self) -> DatumSet:
        """The next set: while planning, some of what is planned and not handed out
        (waiting for some); once planned, the rest cut by ``sizes``."""
        with self._cond:
            self._cond.wait_for(lambda: self.finished or self.cancelled or self._given < self._ready)
            if self.cancelled or self.error is not None:
                raise StopIteration
            left = self._ready - self._given
            if not self.finished:
                size = min(left, self._early)
            else:
                if self._sizes is None:
                    self._sizes = self._sizes_for(left)
                if not self._sizes:
                    raise StopIteration
                size = self._sizes.pop(0)
            chunk = tuple(self._tasks[self._given : self._given + size])
            self._given += size
        return self._make_set(chunk)
