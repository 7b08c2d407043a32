"""Datum batching: one user process works through whole datum sets.

The process is started once, with ``/pfs/<input>`` pointing into ``in/cur``, a
directory each datum's inputs are materialised in, and ``/pfs/out`` at ``out/cur``, a
symlink to the datum's own output directory. Each time it asks for the next datum, the
worker marks the datum in hand done (its inputs removed), materialises the next one and
repoints ``out/cur`` before it answers. Requests are lines on the ``req`` FIFO; answers
go out on ``resp``:

- ``next`` (the ``loxo next datum`` shell shim): ``export`` lines or ``end``, on ``resp``
  opened and closed for each answer, so the shim's ``cat`` ends at end-of-file;
- ``json`` (``loxo.batch``, which keeps both FIFOs open): a length line and a JSON
  object of the datum's variables (``null`` for the end), on ``resp`` held open; a
  datum then costs a write and a read on each side, not four opens.

A worker that learns its next set when a set ends (the local executor tells it) keeps
the process for that set if it ``fits`` (same job, inputs it has under /pfs, no
``datum_timeout``): the request for the next datum waits while the set's results go
back, and is answered with the next set's first datum. So a model is loaded once per
worker and job, and a set boundary costs no process start.

If the process dies with a datum in hand, that datum fails (and is retried in a fresh
process, up to ``datum_tries``); datums it never took are run in a fresh process too.
Output lines are attributed to the datum in hand when they were printed: lines printed
before the first datum go to the first, those after the last to the last.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import select
import shlex
import shutil
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from loxo.worker.logs import LogRanges, read_logs
from loxo.worker.sandbox import RunRequest, RunResult
from loxo.worker.scratch import remove_made
from loxo.worker.task import DatumSet, DatumTask, Ran

if TYPE_CHECKING:
    from loxo.worker.datum_worker import DatumWorker

_POLL_MS = 20
_SESSIONS = itertools.count()


_SHIM = """#!/bin/sh
if [ "$1 $2" != "next datum" ]; then
  echo "inside a pipeline only 'loxo next datum' is available" >&2
  exit 2
fi
echo next > "$LOXO_BATCH_DIR/req"
reply=$(cat "$LOXO_BATCH_DIR/resp")
[ "$reply" = "end" ] && exit 1
printf '%s\\n' "$reply"
"""


class _InHand:
    def __init__(self, datum: DatumTask, inp: str, created: list[tuple[str, bool]], out: str,
                 started: float, fetched: float, downloaded: int) -> None:
        self.datum = datum
        self.inp = inp
        self.created = created
        self.out = out
        self.started = started
        self.fetched = fetched
        self.downloaded = downloaded


class BatchProcess:
    """One user process and the datums it takes."""

    def __init__(self, worker: DatumWorker, work: DatumSet, pending: deque[DatumTask],
                 keep: Callable[[Ran], None], tries: dict[str, int]) -> None:
        self.worker = worker
        self.keep = keep
        self.tries = tries  # datum id -> tries that failed (in earlier processes)
        self.kept = 0  # how many of ``done`` went to ``keep``
        self.work = work
        self.pending = pending
        root = worker.scratch
        self.cur_in = f"{root}/in/cur"
        self.cur_out = f"{root}/out/cur"
        self.logs = root / "logs" / f"batch-{os.getpid()}-{next(_SESSIONS)}"
        self.logs.mkdir(parents=True)
        for stream in ("stdout", "stderr"):  # made now, so they can be held open for reading
            (self.logs / stream).touch()
        self.ranges = LogRanges(str(self.logs / "stdout"), str(self.logs / "stderr"))
        self.done: list[Ran] = []
        self.hand: _InHand | None = None
        self.ended = False  # told "end": the datum in hand is done once the process exits
        self.stream = -1  # ``resp`` held open for writing, once a ``json`` client asked
        self.held: str | None = None  # a request kept for the next set's first datum
        self.names = {i.name for d in work.datums for i in d.inputs}
        self.box: list[RunResult] = []
        shutil.rmtree(self.cur_in, ignore_errors=True)  # an earlier session's, if any
        os.mkdir(self.cur_in)
        self._start()

    def _start(self) -> None:
        shim = self._shim()
        t = self.work.transform
        env = self.worker.environment(t, {})
        env["PATH"] = f"{shim.parent}:{env['PATH']}"
        env["LOXO_BATCH_DIR"] = str(self.logs)
        env.setdefault("PYTHONUNBUFFERED", "1")  # print()s land on the datum in hand
        links = {f"/pfs/{n}": f"{self.cur_in}/{n}" for n in self.names}
        links["/pfs/out"] = self.cur_out
        timeout = None if t.datum_timeout is None else t.datum_timeout * (len(self.pending) + 1)
        req = RunRequest(t.cmd, t.stdin, env, links, t.working_dir, timeout,
                         str(self.logs / "stdout"), str(self.logs / "stderr"))
        for fifo in ("req", "resp"):
            os.mkfifo(self.logs / fifo)
        self.thread = threading.Thread(target=lambda: self.box.append(self.worker.sandbox.run(req)))
        # Held open for reading and writing all along: writers never block on it and it
        # never reports end-of-file, so each request costs one read, not an open.
        self.requests = os.open(self.logs / "req", os.O_RDWR | os.O_NONBLOCK)
        self.thread.start()

    def serve(self) -> str | None:
        """Answer user code's requests until it asks for a datum when this set has none
        left (that request is returned, not answered) or exits (None)."""
        if self.held is not None:
            held, self.held = self.held, None
            self._answer(held)
        while (kind := _wait_request(self.requests, self.thread)) is not None:
            if self.hand is not None and not self.pending and not self.ended:
                return kind
            self._answer(kind)
        return None

    def fits(self, work: DatumSet) -> bool:
        """Whether this process can go on with ``work``: the same job and transform, no
        time limit (it is set when the process starts) and only inputs it has under /pfs."""
        return (work.job_id == self.work.job_id and work.transform == self.work.transform
                and work.transform.datum_timeout is None
                and {i.name for d in work.datums for i in d.inputs} <= self.names)

    def hold(self, kind: str) -> None:
        """Keep the process for the next set: the datum in hand is done (user code asked
        for the next), and that request waits for ``take_on``."""
        self._finish(True, "")
        self._keep_done()
        self.held = kind

    def take_on(self, work: DatumSet, pending: deque[DatumTask], keep: Callable[[Ran], None],
                tries: dict[str, int]) -> None:
        """Go on with the next set (``serve`` answers the request held meanwhile)."""
        self.work, self.pending, self.keep, self.tries = work, pending, keep, tries
        self.done, self.kept = [], 0

    def end(self, kind: str | None) -> RunResult:
        """Answer ``kind`` (if any) with the end, wait for the process to exit, and finish
        the datum in hand with whatever it printed after its last datum."""
        if kind is not None:
            self._answer(kind)
            self.serve()
        self.thread.join()
        os.close(self.requests)
        if self.stream >= 0:
            os.close(self.stream)
        if self.ended and self.hand is not None:
            self._finish(True, "")
        self.ranges.close()
        self._keep_done()
        return self.box[0]

    def close(self) -> None:
        shutil.rmtree(self.logs, ignore_errors=True)

    def dismiss(self) -> None:
        """End a kept process that gets no more datums (its request: the end)."""
        kind, self.held = self.held, None
        try:
            self.end(kind)
        finally:
            self.close()

    def _answer(self, kind: str) -> None:
        env = self._advance()
        if kind == "json":
            if self.stream < 0:  # the client opened ``resp`` before asking: this cannot block
                self.stream = os.open(self.logs / "resp", os.O_WRONLY | os.O_CLOEXEC)
            body = orjson.dumps(env)  # the json module's costs ~20 us a datum
            with contextlib.suppress(BrokenPipeError):
                _write_all(self.stream, b"%d\n%s" % (len(body), body))
        else:
            text = "end\n" if env is None else "".join(
                f"export {k}={shlex.quote(v)}\n" for k, v in sorted(env.items()))
            _respond(self.logs / "resp", text, self.thread)
        self._keep_done()  # while user code works on the next datum

    def _keep_done(self) -> None:
        for ran in self.done[self.kept:]:
            self.keep(ran)
        self.kept = len(self.done)

    def _advance(self) -> dict[str, str] | None:
        """The datum in hand is done; set up the next one and return its variables (or
        None when there is none)."""
        if self.hand is not None and not self.pending:
            self.ended = True
            return None
        if self.hand is not None:
            self._finish(True, "")
        if not self.pending:
            return None
        datum = self.pending.popleft()
        out = self.worker.datum_out()
        started = time.time()
        created: list[tuple[str, bool]] = []
        _dirs, downloaded = self.worker.fetch(datum, self.cur_in, created)
        _repoint(self.cur_out, out)
        self.hand = _InHand(datum, self.cur_in, created, out, started, time.time(), downloaded)
        return self.worker.datum_variables(datum.env)

    def _finish(self, ok: bool, error: str, attempts: int | None = None) -> None:
        hand = self.hand
        assert hand is not None
        if attempts is None:
            attempts = self.tries.get(hand.datum.datum_id, 0) + 1
        now = time.time()
        lines = self.ranges.take(self.ranges.sizes(), now)
        self.done.append(Ran(
            hand.datum.datum_id, "success" if ok else "failed", ok, hand.out, error, attempts,
            hand.started, now, hand.fetched - hand.started, now - hand.fetched,
            hand.downloaded, lines,
        ))
        remove_made(hand.inp, hand.created, keep=True)
        self.hand = None

    def _shim(self) -> Path:
        """``loxo next datum`` for shell user code: plain sh over two FIFOs, so a shell
        loop pays no Python start per datum."""
        shim = self.worker.scratch / "logs" / "bin" / "loxo"
        if not shim.exists():
            shim.parent.mkdir(parents=True, exist_ok=True)
            shim.write_text(_SHIM)
            shim.chmod(0o755)
        return shim


def run_batched(
    worker: DatumWorker, work: DatumSet, done_with: Callable[[Ran], None],
    kept: BatchProcess | None = None, upcoming: Callable[[], DatumSet | None] | None = None,
) -> tuple[list[Ran], BatchProcess | None]:
    """Run a datum set through as few user processes as failures allow; ``done_with``
    gets each datum once it is done and user code has moved on.

    ``kept`` is a process of the previous set, waiting for a datum. At the end of the
    set, if ``upcoming`` (the set to come, if known) ``fits`` the process, it is kept
    for that set and returned, so a model is loaded once per worker, not once per set.
    """
    pending: deque[DatumTask] = deque(work.datums)
    tries: dict[str, int] = {}
    done: list[Ran] = []
    limit = max(1, work.transform.datum_tries)
    session = kept
    if session is not None:
        session.take_on(work, pending, done_with, tries)
    while session is not None or pending:
        if session is None:
            session = BatchProcess(worker, work, pending, done_with, tries)
        kind = session.serve()
        after = upcoming() if kind is not None and upcoming is not None else None
        if kind is not None and after is not None and session.fits(after):
            session.hold(kind)
            done.extend(session.done)
            return _in_order(work, done), session
        result = session.end(kind)
        done.extend(session.done)
        _after_exit(session, pending, limit, result, done)
        session.close()
        session = None
    return _in_order(work, done), None


def _after_exit(session: BatchProcess, pending: deque[DatumTask], limit: int, result: RunResult,
                done: list[Ran]) -> None:
    """The process has exited: a datum it had in hand failed (tried again, in a new
    process, until ``limit``; ``session.tries`` counts)."""
    tries = session.tries
    if session.hand is None:
        if pending and not session.done:  # ended without taking a datum: count a try
            _give_up_if_exhausted(session, pending, tries, limit, result, done)
        return
    datum = session.hand.datum
    tries[datum.datum_id] = tries.get(datum.datum_id, 0) + 1
    if tries[datum.datum_id] >= limit:
        why = f"batch process {_why(result)} with this datum in hand (tried {limit} times)"
        session._finish(False, why, limit)
        done.extend(session.done[-1:])
    else:
        shutil.rmtree(session.hand.out, ignore_errors=True)
        remove_made(session.hand.inp, session.hand.created, keep=True)
        pending.appendleft(datum)


def _in_order(work: DatumSet, done: list[Ran]) -> list[Ran]:
    order = {d.datum_id: i for i, d in enumerate(work.datums)}
    return sorted(done, key=lambda r: order[r.datum_id])


def _give_up_if_exhausted(
    session: BatchProcess, pending: deque[DatumTask], tries: dict[str, int], limit: int,
    result: RunResult, done: list[Ran],
) -> None:
    """The process ended without taking any datum: count it against the next one."""
    datum = pending[0]
    tries[datum.datum_id] = tries.get(datum.datum_id, 0) + 1
    if tries[datum.datum_id] < limit:
        return
    pending.popleft()
    now = time.time()
    done.append(Ran(datum.datum_id, "failed", False, session.worker.datum_out(),
                    f"batch process {_why(result)} without taking this datum (tried {limit} times)",
                    limit, now, now, 0.0, 0.0, 0, tuple(read_logs(session.logs))))


def _wait_request(fd: int, thread: threading.Thread) -> str | None:
    """Block until user code asks for the next datum (the request: ``next`` or
    ``json``) or has exited (None).

    Requests are single lines, one at a time (a client waits for its answer).
    """
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    while thread.is_alive():
        if poller.poll(_POLL_MS):
            with contextlib.suppress(BlockingIOError):
                if data := os.read(fd, 64):
                    return data.decode(errors="replace").strip()
    return None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _respond(fifo: Path, text: str, thread: threading.Thread) -> None:
    """Hand ``text`` to the client waiting on ``fifo`` (unless user code died meanwhile)."""
    while thread.is_alive():
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:
            if exc.errno != errno.ENXIO:  # ENXIO: the reader has not opened it yet
                raise
            time.sleep(0.0005)
            continue
        try:
            os.set_blocking(fd, True)
            os.write(fd, text.encode())
        except BrokenPipeError:
            pass
        finally:
            os.close(fd)
        return


def _why(result: RunResult) -> str:
    return "timed out" if result.timed_out else f"exited with code {result.code}"


def _repoint(link: str, target: str) -> None:
    """Atomically point ``link`` at ``target``."""
    tmp = link + ".new"
    try:
        os.symlink(target, tmp)
    except FileExistsError:  # left by an interrupted repoint
        os.unlink(tmp)
        os.symlink(target, tmp)
    os.replace(tmp, link)
