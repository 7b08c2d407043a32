"""Datum batching: one user process works through a whole datum set.

The process is started once, with ``/pfs/<input>`` and ``/pfs/out`` pointing at
``cur`` symlinks in the scratch space. Each time it asks for the next datum (``loxo next
datum`` or ``loxo.batch.next_datum()``, over two FIFOs: a request line in, ``export``
lines or ``end`` out), the worker marks the datum
in hand done, materialises the next one and repoints the ``cur`` links before it
answers. If the process dies with a datum in hand, that datum fails (and is retried in
a fresh process, up to ``datum_tries``); datums it never took are run in a fresh
process too. Output lines are attributed to the datum in hand when they were printed:
lines printed before the first datum go to the first, those after the last to the last.
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
from pathlib import Path
from typing import TYPE_CHECKING

from loxo.worker.logs import read_logs
from loxo.worker.sandbox import RunRequest, RunResult
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
    def __init__(self, datum: DatumTask, inp: Path, out: Path, started: float, fetched: float,
                 downloaded: int, offsets: dict[str, int]) -> None:
        self.datum = datum
        self.inp = inp
        self.out = out
        self.started = started
        self.fetched = fetched
        self.downloaded = downloaded
        self.offsets = offsets


class _Session:
    """One user process and the datums it takes."""

    def __init__(self, worker: DatumWorker, work: DatumSet, pending: deque[DatumTask]) -> None:
        self.worker = worker
        self.work = work
        self.pending = pending
        root = worker.scratch
        self.cur_in = root / "in" / "cur"
        self.cur_out = root / "out" / "cur"
        self.logs = root / "logs" / f"batch-{os.getpid()}-{next(_SESSIONS)}"
        self.logs.mkdir(parents=True)
        self.done: list[Ran] = []
        self.hand: _InHand | None = None
        self.ended = False  # told "end": the datum in hand is done once the process exits

    def run(self) -> RunResult:
        shim = self._shim()
        t = self.work.transform
        env = self.worker.environment(t, {})
        env["PATH"] = f"{shim.parent}:{env['PATH']}"
        env["LOXO_BATCH_DIR"] = str(self.logs)
        env.setdefault("PYTHONUNBUFFERED", "1")  # print()s land on the datum in hand
        names = {i.name for d in self.work.datums for i in d.inputs}
        links = {f"/pfs/{n}": str(self.cur_in / n) for n in names}
        links["/pfs/out"] = str(self.cur_out)
        timeout = None if t.datum_timeout is None else t.datum_timeout * (len(self.pending) + 1)
        req = RunRequest(t.cmd, t.stdin, env, links, t.working_dir, timeout,
                         str(self.logs / "stdout"), str(self.logs / "stderr"))
        for fifo in ("req", "resp"):
            os.mkfifo(self.logs / fifo)
        box: list[RunResult] = []
        thread = threading.Thread(target=lambda: box.append(self.worker.sandbox.run(req)))
        # Held open for reading and writing all along: writers never block on it and it
        # never reports end-of-file, so each request costs one read, not an open.
        requests = os.open(self.logs / "req", os.O_RDWR | os.O_NONBLOCK)
        try:
            thread.start()
            while _wait_request(requests, thread):
                _respond(self.logs / "resp", self._advance(), thread)
            thread.join()
        finally:
            os.close(requests)
        if self.ended and self.hand is not None:
            self._finish(True, "")  # with whatever the process printed after its last datum
        return box[0]

    def close(self) -> None:
        shutil.rmtree(self.logs, ignore_errors=True)

    def _advance(self) -> str:
        """The datum in hand is done; set up the next one and return its ``export`` lines
        (or ``end`` when there is none)."""
        if self.hand is not None and not self.pending:
            self.ended = True
            return "end\n"
        if self.hand is not None:
            self._finish(True, "")
        if not self.pending:
            return "end\n"
        datum = self.pending.popleft()
        inp, out, _logs = self.worker.slot(logs=False)
        started = time.time()
        _dirs, downloaded = self.worker.fetch(datum, inp)
        _repoint(self.cur_in, inp)
        _repoint(self.cur_out, out)
        offsets = self._offsets() if self.done else {"stdout": 0, "stderr": 0}
        self.hand = _InHand(datum, inp, out, started, time.time(), downloaded, offsets)
        env = self.worker.datum_variables(datum.env)
        return "".join(f"export {k}={shlex.quote(v)}\n" for k, v in sorted(env.items()))

    def _finish(self, ok: bool, error: str, attempts: int = 1) -> None:
        hand = self.hand
        assert hand is not None
        lines = tuple(read_logs(self.logs, hand.offsets))
        now = time.time()
        self.done.append(Ran(
            hand.datum.datum_id, "success" if ok else "failed", ok, str(hand.out), error, attempts,
            hand.started, now, hand.fetched - hand.started, now - hand.fetched,
            hand.downloaded, lines,
        ))
        shutil.rmtree(hand.inp, ignore_errors=True)
        self.hand = None

    def _offsets(self) -> dict[str, int]:
        out = {}
        for stream in ("stdout", "stderr"):
            path = self.logs / stream
            out[stream] = path.stat().st_size if path.exists() else 0
        return out

    def _shim(self) -> Path:
        """``loxo next datum`` for shell user code: plain sh over two FIFOs, so a shell
        loop pays no Python start per datum."""
        shim = self.worker.scratch / "logs" / "bin" / "loxo"
        if not shim.exists():
            shim.parent.mkdir(parents=True, exist_ok=True)
            shim.write_text(_SHIM)
            shim.chmod(0o755)
        return shim


def run_batched(worker: DatumWorker, work: DatumSet) -> list[Ran]:
    """Run a datum set through as few user processes as failures allow."""
    pending: deque[DatumTask] = deque(work.datums)
    tries: dict[str, int] = {}
    done: list[Ran] = []
    limit = max(1, work.transform.datum_tries)
    while pending:
        session = _Session(worker, work, pending)
        result = session.run()
        done.extend(session.done)
        if session.hand is None:
            if pending and not session.done:  # ended without taking a datum: count a try
                _give_up_if_exhausted(session, pending, tries, limit, result, done)
            session.close()
            continue
        datum = session.hand.datum
        tries[datum.datum_id] = tries.get(datum.datum_id, 0) + 1
        if tries[datum.datum_id] >= limit:
            why = f"batch process {_why(result)} with this datum in hand (tried {limit} times)"
            session._finish(False, why, limit)
            done.extend(session.done[-1:])
        else:
            shutil.rmtree(session.hand.out, ignore_errors=True)
            shutil.rmtree(session.hand.inp, ignore_errors=True)
            pending.appendleft(datum)
        session.close()
    order = {d.datum_id: i for i, d in enumerate(work.datums)}
    return sorted(done, key=lambda r: order[r.datum_id])


def _give_up_if_exhausted(
    session: _Session, pending: deque[DatumTask], tries: dict[str, int], limit: int,
    result: RunResult, done: list[Ran],
) -> None:
    """The process ended without taking any datum: count it against the next one."""
    datum = pending[0]
    tries[datum.datum_id] = tries.get(datum.datum_id, 0) + 1
    if tries[datum.datum_id] < limit:
        return
    pending.popleft()
    inp, out, logs = session.worker.slot()
    now = time.time()
    done.append(Ran(datum.datum_id, "failed", False, str(out),
                    f"batch process {_why(result)} without taking this datum (tried {limit} times)",
                    limit, now, now, 0.0, 0.0, 0, tuple(read_logs(session.logs))))
    shutil.rmtree(inp, ignore_errors=True)
    shutil.rmtree(logs, ignore_errors=True)


def _wait_request(fd: int, thread: threading.Thread) -> bool:
    """Block until user code asks for the next datum (True) or has exited (False).

    Requests are single ``next`` lines, one at a time (a client waits for its answer).
    """
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    while thread.is_alive():
        if poller.poll(_POLL_MS):
            with contextlib.suppress(BlockingIOError):
                if os.read(fd, 64):
                    return True
    return False


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


def _repoint(link: Path, target: Path) -> None:
    """Atomically point ``link`` at ``target``."""
    tmp = link.with_name(link.name + ".new")
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(target)
    os.replace(tmp, link)
