"""What the Ray and Dask executors share: the submit-and-wait loop on the caller's side,
and the long-lived ``DatumWorker`` on the engine's side.

The caller's side (``EngineExecutor``) keeps at most ``parallelism`` datum sets in
flight, yields each set's results as it finishes, checks before submitting that some
node of the cluster can satisfy the sets' resource requests (a request no node meets
would wait forever), and keeps asking the engine whether it is still there, so a dead
head or scheduler ends the job with a reason instead of leaving it running.

The engine's side (``run_set_here``, shipped to Ray/Dask by reference, so every node
needs loxo installed) keeps one ``DatumWorker`` per worker thread for its whole life:
the sandbox and the store are opened once per engine worker, not once per set. A worker
reads its inputs from and writes its outputs to the object store itself; the caller only
gets the small ``DatumResult`` records back (and user code's log lines in them).

Failures are told apart: user code that fails is a "failed" datum with its exit code, as
with the local executor; an engine worker that dies is retried by the engine on another
worker, and once the engine gives up the set's datums fail with an error that starts
with ``infrastructure failure:`` and a ``system`` log line that says the same.
"""

from __future__ import annotations

import atexit
import contextlib
import itertools
import os
import shutil
import socket
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from loxo.executors.local import _remove_dead
from loxo.pfs.store import StoreLocation
from loxo.worker.datum_worker import DatumWorker
from loxo.worker.task import DatumResult, DatumSet, LogLine, TaskResources

START_TRIES = 3
KEPT_STORES = 2
"""How many stores' ``DatumWorker``s an engine worker thread keeps open at once."""
INFRASTRUCTURE = "infrastructure failure: "
"""How the error of a datum that failed outside user code begins."""

H = TypeVar("H")
_T = TypeVar("_T")


class EngineUnavailable(RuntimeError):
    """The engine (its head node or scheduler) cannot be reached, or stopped answering."""


class Unschedulable(RuntimeError):
    """No node of the cluster can satisfy a datum set's resource requests."""


class MissingExtra(RuntimeError):
    """The Python package of an engine is not installed."""


@dataclass(frozen=True)
class SetReply:
    """What a worker sends back for one datum set."""

    results: list[DatumResult]
    warning: str | None  # the worker's sandbox warning, if any
    worker: str  # host:pid, for messages


class Engine(Protocol[H]):
    """One engine's verbs; ``H`` is its handle of a submitted set (a Ray ObjectRef, a
    Dask Future)."""

    description: str
    """E.g. ``the Ray cluster at ray://10.0.0.5:10001``: used in messages."""

    def start(self) -> float:
        """Connect (or start a local cluster) if not done yet; seconds it took (0 when
        already connected)."""

    def check(self, need: TaskResources) -> None:
        """Raise ``Unschedulable`` when no live node can satisfy ``need``."""

    def submit(self, work: DatumSet) -> H: ...

    def wait(self, pending: list[H], timeout: float) -> list[H]:
        """Those of ``pending`` that are done (maybe none, after ``timeout`` seconds)."""

    def reply(self, handle: H) -> SetReply:
        """A finished set's reply; raises ``TaskLost`` when the engine gave up on it."""

    def cancel(self, pending: list[H]) -> None: ...

    def ping(self) -> None:
        """Return if the engine answers; raise otherwise."""

    def close(self) -> None: ...


class TaskLost(Exception):
    """The engine could not run a set (workers died, retries used up): its datums fail
    as an infrastructure failure with this message."""


class EngineExecutor(Generic[H]):
    """The ``Executor`` over any ``Engine``: at most ``parallelism`` sets in flight.

    ``timeout`` bounds how long an engine may go without answering a heartbeat (sent
    every ``heartbeat`` seconds while sets are in flight) before the run ends with
    ``EngineUnavailable``; the engine is then dropped and reconnected by the next run.
    """

    def __init__(self, engine: Engine[H], timeout: float = 60.0, heartbeat: float = 5.0,
                 scratch_root: Path | None = None) -> None:
        self.engine = engine
        self.scratch_root = scratch_root
        self.timeout = timeout
        self.heartbeat = heartbeat
        self.startup_seconds = 0.0
        self.retry_pause = 2.0  # seconds before the second try to start, twice that before the third
        self._warning: str | None = None

    @property
    def warning(self) -> str | None:
        return self._warning

    def close(self) -> None:
        """Disconnect (and stop a local cluster); with ``scratch_root`` (a local cluster's),
        then remove the scratch of its workers, which are killed without cleaning up."""
        self.engine.close()
        root = self.scratch_root
        if root is None or not root.is_dir():
            return
        deadline = time.monotonic() + 3.0  # stopped workers may take a moment to be reaped
        while True:
            _remove_dead(root)
            if not any(root.glob("worker-*-engine*")) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        with contextlib.suppress(OSError):  # only if nothing else lives there
            root.rmdir()

    def warm(self, parallelism: int) -> None:
        """Nothing: the engine starts (or is reached) when a run needs it."""

    takes_stream = False  # every set's resources are checked with the cluster first
    keeps_batch_processes = False  # a set is a task, anywhere in the cluster

    def run(self, sets: Iterable[DatumSet], parallelism: int) -> Iterator[list[DatumResult]]:
        """Run ``sets``, at most ``parallelism`` at a time, yielding each set's results."""
        todo = list(sets)
        if not todo:
            return
        self._start()
        for need in {s.resources for s in todo}:
            self._guarded(partial(self.engine.check, need))
        yield from self._loop(todo, max(1, parallelism))

    def _start(self) -> None:
        """Connect, or start the local cluster; a refused connection is tried again
        (a busy Ray Client server can fail one), ``START_TRIES`` times in all."""
        for attempt in range(1, START_TRIES + 1):
            try:
                self.startup_seconds += self.engine.start()
                return
            except MissingExtra:
                raise
            except Exception as exc:
                self._drop()
                if attempt == START_TRIES:
                    raise EngineUnavailable(
                        f"could not reach {self.engine.description} ({attempt} tries): {_brief(exc)}"
                    ) from exc
                time.sleep(self.retry_pause * attempt)

    def _loop(self, todo: list[DatumSet], parallelism: int) -> Iterator[list[DatumResult]]:
        todo.reverse()  # pop() from the end: first set first
        flight: dict[H, DatumSet] = {}  # handles are hashable, equal by task (not identity)
        last_beat = time.monotonic()
        finished = False
        try:
            while todo or flight:
                while todo and len(flight) < parallelism:
                    work = todo.pop()
                    handle = self._guarded(partial(self.engine.submit, work))
                    flight[handle] = work
                done = self._guarded(lambda: self.engine.wait(list(flight), 1.0))
                for handle in done:
                    work = flight.pop(handle)
                    yield self._results(handle, work)
                    last_beat = time.monotonic()
                if not done and time.monotonic() - last_beat > self.heartbeat:
                    self._probe()
                    for need in {w.resources for w in flight.values()}:
                        self._guarded(partial(self.engine.check, need))
                    last_beat = time.monotonic()
            finished = True
        finally:
            if not finished and flight:  # stopped early (job timeout, kill, engine gone)
                with contextlib.suppress(Exception):  # the engine may be gone: nothing to stop
                    self.engine.cancel(list(flight))

    def _results(self, handle: H, work: DatumSet) -> list[DatumResult]:
        try:
            reply = self._guarded(partial(self.engine.reply, handle))
        except TaskLost as exc:
            return failed_results(work, str(exc))
        if reply.warning is not None:
            self._warning = reply.warning
        return reply.results

    def _guarded(self, call: Callable[[], _T]) -> _T:
        """``call()``, with the engine's own connection errors as ``EngineUnavailable``."""
        try:
            return call()
        except (TaskLost, Unschedulable, EngineUnavailable):
            raise
        except Exception as exc:
            self._drop()
            raise EngineUnavailable(f"lost {self.engine.description}: {_brief(exc)}") from exc

    def _probe(self) -> None:
        """Ask the engine whether it is alive, giving up after ``timeout`` seconds."""
        outcome: list[BaseException | None] = []

        def ping() -> None:
            try:
                self.engine.ping()
                outcome.append(None)
            except BaseException as exc:  # reported below
                outcome.append(exc)

        thread = threading.Thread(target=ping, daemon=True, name="loxo-engine-ping")
        thread.start()
        thread.join(self.timeout)
        if not outcome:
            self._drop()
            raise EngineUnavailable(f"{self.engine.description} did not answer for {self.timeout:g} s")
        if outcome[0] is not None:
            self._drop()
            raise EngineUnavailable(f"lost {self.engine.description}: {_brief(outcome[0])}")

    def _drop(self) -> None:
        """Forget the connection: the next run connects again (the engine may be back)."""
        with contextlib.suppress(Exception):
            self.engine.close()


def failed_results(work: DatumSet, reason: str) -> list[DatumResult]:
    """Every datum of ``work`` failed outside user code, with ``reason``."""
    now = time.time()
    error = reason if reason.startswith(INFRASTRUCTURE) else INFRASTRUCTURE + reason
    log = (LogLine(now, "system", error),)
    return [DatumResult(d.datum_id, "failed", None, {}, (), 0, error, 1, now, now, 0.0, 0.0, 0.0, 0, log)
            for d in work.datums]


def _brief(exc: BaseException) -> str:
    """An exception on one line: its type and the first line of its message."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def fits(offer: dict[str, float], need: dict[str, float]) -> bool:
    """Whether a node offering ``offer`` has at least ``need`` of every resource."""
    return all(offer.get(name, 0.0) >= amount for name, amount in need.items() if amount > 0)


# -- the engine's side -------------------------------------------------------------------
_local = threading.local()
_numbers = itertools.count()
_opened: list[tuple[DatumWorker, Path]] = []
_opened_lock = threading.Lock()


def run_set_here(work: DatumSet, scratch_root: str, use_sandbox: bool) -> SetReply:
    """Run one datum set in this engine worker, on its long-lived ``DatumWorker``.

    Runs inside a Ray task or a Dask task. A failure of loxo's own machinery here (the
    store unreachable, say) fails the set's datums as an infrastructure failure, and the
    worker is opened afresh for the next set.
    """
    where = f"{socket.gethostname()}:{os.getpid()}"
    key = (work.location, scratch_root, use_sandbox)
    cache: dict[tuple[StoreLocation, str, bool], DatumWorker] = _local.__dict__.setdefault("workers", {})
    worker = cache.pop(key, None)
    try:
        if worker is None:
            while len(cache) >= KEPT_STORES:  # the least recently used store's worker goes
                _close_worker(cache.pop(next(iter(cache))))
            worker = _open_worker(work.location, scratch_root, use_sandbox)
        cache[key] = worker  # last: the most recently used
        return SetReply(worker.run_set(work), worker.warning, where)
    except Exception:
        cache.pop(key, None)
        if worker is not None:
            _close_worker(worker)
        last = traceback.format_exc(limit=3).strip().splitlines()[-1]
        return SetReply(failed_results(work, f"engine worker {where} failed: {last}"), None, where)


def _open_worker(location: StoreLocation, scratch_root: str, use_sandbox: bool) -> DatumWorker:
    root = Path(scratch_root)
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError:  # a node without the caller's scratch place (no /dev/shm ...)
        root = Path(tempfile.gettempdir()) / "loxo-scratch-engine"
        root.mkdir(parents=True, exist_ok=True)
    _remove_dead(root)
    scratch = root / f"worker-{os.getpid()}-engine{next(_numbers)}"
    worker = DatumWorker(location, scratch, use_sandbox)
    with _opened_lock:
        if not _opened:
            atexit.register(_close_all)
        _opened.append((worker, scratch))
    return worker


def _close_worker(worker: DatumWorker) -> None:
    with _opened_lock:
        found = [entry for entry in _opened if entry[0] is worker]
        for entry in found:
            _opened.remove(entry)
    for _, scratch in found:
        _shut(worker, scratch)


def _close_all() -> None:
    """At the worker process's exit: stop sandboxes, remove scratch."""
    with _opened_lock:
        entries = list(_opened)
        _opened.clear()
    for worker, scratch in entries:
        _shut(worker, scratch)


def _shut(worker: DatumWorker, scratch: Path) -> None:
    with contextlib.suppress(Exception):
        worker.close()
    shutil.rmtree(scratch, ignore_errors=True)
