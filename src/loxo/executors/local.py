"""The local executor: ``parallelism`` worker processes on this machine.

Each worker process (``python -m loxo.worker.serve``) keeps one sandbox and one store
connection for its whole life and takes datum sets one at a time, so starting Python,
opening the store and starting bubblewrap is paid once per worker, not per datum. They
are plain subprocesses rather than ``multiprocessing`` children, so a user's script
that calls the SDK is never re-imported in them. With parallelism 1 the worker runs in
this process.
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Protocol

from loxo.pfs.store import StoreLocation
from loxo.worker.datum_worker import DatumWorker
from loxo.worker.serve import IDLE, WorkerFailure, receive, send
from loxo.worker.task import DatumResult, DatumSet


class Executor(Protocol):
    """Runs datum sets and yields each set's results as soon as it is done."""

    takes_stream: bool
    """Whether ``run`` takes sets that come while the job is still planned (an iterable
    that blocks until the next set is cut); if not, it gets a finished plan's sets."""

    keeps_batch_processes: bool
    """Whether a worker keeps a datum batching process from one set of a job to the
    next (if not, each set starts it again, so sets are cut equal and few)."""

    def run(self, sets: Iterable[DatumSet], parallelism: int) -> Iterator[list[DatumResult]]: ...

    def close(self) -> None:
        """Stop any workers kept between runs."""

    def warm(self, parallelism: int) -> None:
        """Start workers for a run about to come, without waiting for them (a no-op
        where starting is cheap or belongs to the engine)."""

    @property
    def warning(self) -> str | None:
        """A one-line note on how user code runs (e.g. without a sandbox), if any."""


class LocalExecutor:
    """Keeps its workers between jobs (starting one costs ~0.2 s: Python, loxo, the
    sandbox), so a chain of jobs in one command pays for them once."""

    takes_stream = True
    keeps_batch_processes = True

    def __init__(self, location: StoreLocation, scratch_root: Path, use_sandbox: bool = True,
                 pin_workers: bool = True) -> None:
        self.location = location
        self.scratch_root = scratch_root
        self.use_sandbox = use_sandbox
        self.pin_workers = pin_workers  # see worker_cores
        self._warning: str | None = None
        self._inline_worker: DatumWorker | None = None
        self._procs: list[_Process] = []

    @property
    def warning(self) -> str | None:
        return self._warning

    def _scratch(self, number: int) -> Path:
        """A worker's own scratch directory: unique to this process, so two commands
        running jobs on one store never share one."""
        return self.scratch_root / f"worker-{os.getpid()}-{number}"

    def run(self, sets: Iterable[DatumSet], parallelism: int) -> Iterator[list[DatumResult]]:
        """Run ``sets`` on at most ``parallelism`` workers (a sequence of one set needs
        only one; a stream gets them all)."""
        count = len(sets) if isinstance(sets, Sequence) else parallelism
        workers = max(1, min(parallelism, count))
        if workers == 1:
            yield from self._inline(sets)
        else:
            yield from self._pool(sets, workers)

    def close(self) -> None:
        if self._inline_worker is not None:
            self._inline_worker.close()
            self._inline_worker = None
        for p in self._procs:  # EOF to all first, then wait: they shut down together
            p.stop()
        for p in self._procs:
            p.close()
        self._procs = []
        for entry in self.scratch_root.glob(f"worker-{os.getpid()}-*"):
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            elif entry.stat().st_size == 0:  # an empty worker log says nothing
                entry.unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # only if nothing else lives there
            self.scratch_root.rmdir()

    def warm(self, parallelism: int) -> None:
        """Start the worker processes a pool of ``parallelism`` lacks; they import and
        open the store while the caller is still planning."""
        if parallelism > 1:
            self._grow(parallelism)

    def _grow(self, parallelism: int) -> list[_Process]:
        """Processes up to ``parallelism`` (started, maybe not ready yet)."""
        if not self._procs:
            self._prepare()
        cores = worker_cores(parallelism) if self.pin_workers else None
        self._procs += [_Process(self, n + 1, None if cores is None else {cores[n % len(cores)]})
                        for n in range(len(self._procs), parallelism)]
        return self._procs[:parallelism]

    def _prepare(self) -> None:
        self.scratch_root.mkdir(parents=True, exist_ok=True)
        _remove_dead(self.scratch_root)

    def _inline(self, sets: Iterable[DatumSet]) -> Iterator[list[DatumResult]]:
        if self._inline_worker is None:
            self._prepare()
            self._inline_worker = DatumWorker(self.location, self._scratch(0), self.use_sandbox)
            self._warning = self._inline_worker.warning
        worker, source = self._inline_worker, iter(sets)
        ahead: list[DatumSet | None] = []

        def upcoming() -> DatumSet | None:
            if not ahead:
                ahead.append(next(source, None))
            return ahead[0]

        try:
            while (work := ahead.pop() if ahead else next(source, None)) is not None:
                yield worker.run_set(work, upcoming)
        finally:  # stopped early: a batch process kept for the next set ends now
            worker.release()

    def _pool(self, sets: Iterable[DatumSet], parallelism: int) -> Iterator[list[DatumResult]]:
        workers = self._grow(parallelism)
        try:
            for p in workers:  # all started before any is waited for: they start in parallel
                p.hello()
        except BaseException:
            self._drop(workers)
            raise
        source = iter(sets)
        lock = threading.Lock()
        results: queue.Queue[list[DatumResult] | BaseException | None] = queue.Queue()

        def take() -> DatumSet | None:
            with lock:
                return next(source, None)

        def feed(proc: _Process) -> None:
            try:
                work = take()
                while work is not None:
                    done, work = proc.run(work, take)
                    results.put(done)
            except BaseException as exc:  # surfaces in the consumer, below
                results.put(exc)
            finally:
                results.put(None)

        threads = [threading.Thread(target=feed, args=(p,), daemon=True) for p in workers]
        for t in threads:
            t.start()
        finished = False
        try:
            running = len(threads)
            while running:
                item = results.get()
                if item is None:
                    running -= 1
                elif isinstance(item, BaseException):
                    raise item
                else:
                    yield item
            finished = True
        finally:
            if not finished:  # stopped early (timeout, error): these workers are mid-set
                self._drop(workers)

    def _drop(self, workers: list[_Process]) -> None:
        for p in workers:
            p.close(kill=True)
        self._procs = [p for p in self._procs if p not in workers]


def worker_cores(parallelism: int) -> list[int] | None:
    """The CPUs to keep a pool's workers on, one each in turn; None to let the kernel
    place them.

    With at least one worker per CPU, each worker stays on one core with its sandbox and
    every command it starts: they hand a datum to each other on a warm core instead of
    migrating between cores. Measured on 2 cores, 10,000 one-process datums took ~15%
    less time and ~7% less CPU (bench/datums.py). With fewer workers than CPUs they are
    left free, so user code can use more than one core. The executor ``local?pin=0``
    never pins them.
    """
    if not hasattr(os, "sched_getaffinity"):
        return None
    cpus = sorted(os.sched_getaffinity(0))
    return cpus if 1 < len(cpus) <= parallelism else None


def _remove_dead(root: Path) -> None:
    """Remove scratch left by processes that were killed (their pid is gone)."""
    for entry in root.glob("worker-*"):
        pid = entry.name.split("-")[1].split(".")[0]
        if pid.isdigit() and not _alive(int(pid)):
            if entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _Process:
    def __init__(self, owner: LocalExecutor, number: int, cpus: set[int] | None = None) -> None:
        self.owner = owner
        self.scratch = owner._scratch(number + 1)
        self.cpus = cpus
        self.ahead: DatumSet | None = None  # the next set, sent before it is run
        self._start()

    def _start(self) -> None:
        owner, scratch = self.owner, self.scratch
        shutil.rmtree(scratch, ignore_errors=True)  # a dead predecessor's leftovers
        scratch.mkdir(parents=True, exist_ok=True)
        self.log = open(scratch.with_suffix(".log"), "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "loxo.worker.serve"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None
        if self.cpus:  # before it gets its first message, so its sandbox inherits it
            with contextlib.suppress(OSError):
                os.sched_setaffinity(self.proc.pid, self.cpus)
        self.inp: IO[bytes] = self.proc.stdin
        self.out: IO[bytes] = self.proc.stdout
        self._ready = False
        self.closed = False
        send(self.inp, (owner.location, str(scratch), owner.use_sandbox))

    def hello(self) -> None:
        """Wait until the worker is ready (its answer: the sandbox warning, or None)."""
        if not self._ready:
            self.owner._warning = receive(self.out)
            self._ready = True

    def run(self, work: DatumSet, take: Callable[[], DatumSet | None],
            ) -> tuple[list[DatumResult], DatumSet | None]:
        """The set's results, and the set to run next: taken when the worker says this
        set's datums are done (before it sends their results), and sent to it at once,
        so it knows what comes next (a datum batching process is kept for it).

        A failure outside user code fails the set's datums with the worker's reason; a
        worker that died is replaced (and gets the next set afresh)."""
        after: DatumSet | None = None
        asked = False
        try:
            if self.ahead is not work:
                send(self.inp, work)
            self.ahead = None
            if receive(self.out) != IDLE:
                raise EOFError  # out of step: treated as a dead worker
            asked, after = True, take()
            send(self.inp, after)
            self.ahead = after
            reply = receive(self.out)
        except (EOFError, OSError):  # it died
            self.ahead = None
            if self.closed:  # stopped on purpose (its job ended early): no replacement
                return _failed(work, "worker stopped: the job ended"), None
            self.close()
            code = self.proc.returncode
            how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
            reason = f"worker process {self.proc.pid} {how} while running this datum"
            self._start()
            self.hello()
            return _failed(work, reason), after if asked else take()
        if isinstance(reply, WorkerFailure):
            return _failed(work, f"worker failed: {reply.message}"), after
        return list(reply), after

    def stop(self) -> None:
        """Ask the worker to finish (EOF on its input) without waiting."""
        with contextlib.suppress(OSError):
            self.inp.close()

    def close(self, kill: bool = False) -> None:
        self.closed = True
        if kill:
            self.proc.kill()
        self.stop()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def _failed(work: DatumSet, reason: str) -> list[DatumResult]:
    now = time.time()
    return [DatumResult(d.datum_id, "failed", None, {}, (), 0, reason, 1, now, now, 0.0, 0.0, 0.0, 0, ())
            for d in work.datums]
