"""A worker process: ``python -m loxo.worker.serve``, driven over stdin/stdout.

Messages are pickled and length-prefixed. The first one the parent sends is
``(StoreLocation, scratch dir, use_sandbox)``; the worker answers with its sandbox
warning (or None). Then each ``DatumSet`` is answered with its ``DatumResult`` list, or
with an ``WorkerFailure`` if something outside user code went wrong. EOF ends it.

When a set's datums are done, the worker says ``IDLE`` before it sends their results;
the parent answers with the set this worker runs next (or None: none). So the worker
knows what comes next when a set ends, and keeps a datum batching process for the next
set of its job instead of starting it again; the parent meanwhile gets the next set
ready. A thread reads the parent's messages as they come.
"""

from __future__ import annotations

import gc
import pickle
import queue
import struct
import sys
import threading
import traceback
from pathlib import Path
from typing import IO, Any

# defined in task.py: a class of this module would be pickled as __main__.WorkerFailure
from loxo.worker.task import DatumSet, WorkerFailure

__all__ = ["IDLE", "WorkerFailure", "main", "receive", "send"]

_HEADER = struct.Struct("!Q")
IDLE = "idle"
_WAIT_NEXT = 2.0
"""Seconds a worker waits, at the end of a set, to learn what comes next (the parent
answers at once unless the job is still being planned) before it lets a batch process
end."""


def send(stream: IO[bytes], message: Any) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)) + data)
    stream.flush()


def receive(stream: IO[bytes]) -> Any:
    """The next message, or raise EOFError."""
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        raise EOFError
    (size,) = _HEADER.unpack(header)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError
    return pickle.loads(data)


class _Inbox:
    """The parent's messages, read by a thread as they come (EOF: ``EOFError``)."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._queue: queue.Queue[Any] = queue.Queue()
        self._next: list[Any] = []  # a message looked at but not taken
        self._stream = stream
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while True:
            try:
                message = receive(self._stream)
            except BaseException as exc:  # EOF, or a broken message: handed to ``take``
                self._queue.put(_Ended(exc))
                return
            self._queue.put(message)

    def take(self) -> Any:
        message = self._next.pop() if self._next else self._queue.get()
        if isinstance(message, _Ended):
            self._next.append(message)  # for good: nothing comes after it
            raise message.exc
        return message

    def peek(self) -> Any:
        """The next message, looked at, not taken (None if none comes soon)."""
        if not self._next:
            try:
                self._next.append(self._queue.get(timeout=_WAIT_NEXT))
            except queue.Empty:
                return None
        return self._next[0]


class _Asked:
    """What comes after a set: asked of the parent once (``IDLE``), when the set's
    datums are done."""

    def __init__(self, inbox: _Inbox, out: IO[bytes]) -> None:
        self.inbox = inbox
        self.out = out
        self.asked = False

    def notify(self) -> None:
        if not self.asked:
            self.asked = True
            send(self.out, IDLE)

    def __call__(self) -> DatumSet | None:
        self.notify()
        message = self.inbox.peek()
        return message if isinstance(message, DatumSet) else None


class _Ended:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


def main() -> None:
    from loxo.worker.datum_worker import DatumWorker

    inp, out = sys.stdin.buffer, sys.stdout.buffer
    location, scratch, use_sandbox = receive(inp)
    worker = DatumWorker(location, Path(scratch), use_sandbox)
    # Modules, the store and the sandbox live as long as the process: keep the garbage
    # collector from walking them again on every full collection.
    gc.freeze()
    send(out, worker.warning)
    inbox = _Inbox(inp)
    try:
        while True:
            try:
                work = inbox.take()
            except EOFError:
                return
            if work is None:  # the answer to IDLE: no set comes next
                continue
            asked = _Asked(inbox, out)
            try:
                reply: Any = worker.run_set(work, asked)
            except Exception:  # reported to the parent, which fails the datums
                reply = WorkerFailure(traceback.format_exc(limit=5))
            asked.notify()
            send(out, reply)
    finally:
        worker.close()


if __name__ == "__main__":
    main()
