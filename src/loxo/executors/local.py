"""The local executor: ``parallelism`` worker processes on this machine.

Each worker process keeps one sandbox and one store connection for its whole life and
takes datum sets from a shared queue, so the cost of starting Python, opening the store
and starting bubblewrap is paid once per worker, not per datum. With parallelism 1 the
worker runs in this process.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Protocol

from loxo.pfs.store import StoreLocation
from loxo.worker.datum_worker import DatumWorker
from loxo.worker.task import DatumResult, DatumSet


class Executor(Protocol):
    """Runs datum sets and yields each set's results as soon as it is done."""

    def run(self, sets: Iterable[DatumSet], parallelism: int) -> Iterator[list[DatumResult]]: ...

    @property
    def warning(self) -> str | None:
        """A one-line note on how user code runs (e.g. without a sandbox), if any."""


_worker: DatumWorker | None = None


def _start_worker(location: StoreLocation, scratch_root: str, use_sandbox: bool) -> None:
    global _worker
    scratch = Path(scratch_root) / f"worker-{os.getpid()}"
    _worker = DatumWorker(location, scratch, use_sandbox)


def _run_set(work: DatumSet) -> list[DatumResult]:
    assert _worker is not None
    return _worker.run_set(work)


class LocalExecutor:
    def __init__(self, location: StoreLocation, scratch_root: Path, use_sandbox: bool = True) -> None:
        self.location = location
        self.scratch_root = scratch_root
        self.use_sandbox = use_sandbox
        self._warning: str | None = None

    @property
    def warning(self) -> str | None:
        return self._warning

    def run(self, sets: Iterable[DatumSet], parallelism: int) -> Iterator[list[DatumResult]]:
        self.scratch_root.mkdir(parents=True, exist_ok=True)
        if parallelism <= 1:
            yield from self._inline(sets)
            return
        ctx = multiprocessing.get_context("spawn")  # no inherited DB connections or locks
        with ctx.Pool(
            parallelism, initializer=_start_worker,
            initargs=(self.location, str(self.scratch_root), self.use_sandbox),
        ) as pool:
            yield from pool.imap_unordered(_run_set, sets)

    def _inline(self, sets: Iterable[DatumSet]) -> Iterator[list[DatumResult]]:
        scratch = self.scratch_root / f"worker-{os.getpid()}"
        worker = DatumWorker(self.location, scratch, self.use_sandbox)
        self._warning = worker.warning
        try:
            for work in sets:
                yield worker.run_set(work)
        finally:
            worker.close()
            shutil.rmtree(scratch, ignore_errors=True)
