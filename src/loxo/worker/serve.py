"""A worker process: ``python -m loxo.worker.serve``, driven over stdin/stdout.

Messages are pickled and length-prefixed. The first one the parent sends is
``(StoreLocation, scratch dir, use_sandbox)``; the worker answers with its sandbox
warning (or None). Then each ``DatumSet`` is answered with its ``DatumResult`` list, or
with an ``WorkerFailure`` if something outside user code went wrong. EOF ends it.
"""

from __future__ import annotations

import gc
import pickle
import struct
import sys
import traceback
from pathlib import Path
from typing import IO, Any

# defined in task.py: a class of this module would be pickled as __main__.WorkerFailure
from loxo.worker.task import WorkerFailure

__all__ = ["WorkerFailure", "main", "receive", "send"]

_HEADER = struct.Struct("!Q")


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


def main() -> None:
    from loxo.worker.datum_worker import DatumWorker

    inp, out = sys.stdin.buffer, sys.stdout.buffer
    location, scratch, use_sandbox = receive(inp)
    worker = DatumWorker(location, Path(scratch), use_sandbox)
    # Modules, the store and the sandbox live as long as the process: keep the garbage
    # collector from walking them again on every full collection.
    gc.freeze()
    send(out, worker.warning)
    try:
        while True:
            try:
                work = receive(inp)
            except EOFError:
                return
            try:
                send(out, worker.run_set(work))
            except Exception:  # reported to the parent, which fails the datums
                send(out, WorkerFailure(traceback.format_exc(limit=5)))
    finally:
        worker.close()


if __name__ == "__main__":
    main()
