"""Progress bars on stderr: big transfers, and the jobs a command runs.

The core reports progress through callbacks: ``(bytes, files)`` from worker threads for
transfers, ``(datums done, datums total)`` for jobs. ``transfer_bar`` turns the first
into a Rich bar when a transfer is big enough to be worth watching; ``JobBars`` draws
one bar per job on a terminal and, anywhere, warns about jobs that did not succeed.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from loxo.cli.output import warn
from loxo.client.sources import is_url
from loxo.errors import LoxoError
from loxo.model.jobs import JobState

if TYPE_CHECKING:
    from loxo.client import ClientBase

Report = Callable[[int, int], None]

MIN_BYTES = 32 << 20
"""Show a bar when more than this many bytes move ..."""
MIN_FILES = 100
"""... or more than this many files."""


def worth_a_bar(total_bytes: int, total_files: int) -> bool:
    return total_bytes > MIN_BYTES or total_files > MIN_FILES


@contextmanager
def transfer_bar(label: str, total_bytes: int, total_files: int) -> Iterator[Report | None]:
    """Yield a progress callback drawing a bar on stderr, or None for a small transfer."""
    if not worth_a_bar(total_bytes, total_files):
        yield None
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(binary_units=True),
        TextColumn("{task.fields[files]}/{task.fields[total_files]} files"),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    lock = threading.Lock()
    done = [0]
    with Progress(*columns, console=Console(stderr=True)) as bar:
        task = bar.add_task(label, total=max(total_bytes, 1), files=0, total_files=total_files)

        def report(nbytes: int, nfiles: int) -> None:
            with lock:
                done[0] += nfiles
                bar.update(task, advance=nbytes, files=done[0])

        yield report


def measure_local(entries: Iterable[str], recursive: bool) -> tuple[int, int]:
    """Bytes and files about to be read from local paths (URLs count as one file of 0 bytes)."""
    total_bytes = total_files = 0
    for entry in entries:
        if is_url(entry):
            total_files += 1
            continue
        if recursive and os.path.isdir(entry):
            for root, _dirs, names in os.walk(entry):
                for name in names:
                    total_bytes += _size(os.path.join(root, name))
                    total_files += 1
            continue
        total_bytes += _size(entry)
        total_files += 1
    return total_bytes, total_files


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:  # missing files are reported by the put itself
        return 0


class JobBars:
    """The jobs one command runs in the foreground: a bar per job while it runs (on a
    terminal; silent elsewhere), then a ``warning:`` line for each job that did not
    succeed, naming its reason (which says where the logs are).

    Pass ``started`` as the client's ``on_job``; leave the ``with`` block (or let the
    command's context close it) after the client's last call.
    """

    def __init__(
        self, client: ClientBase, console: Console | None = None, quiet_sandbox: bool = False
    ) -> None:
        self.client = client
        self.console = console if console is not None else Console(stderr=True)
        self.quiet_sandbox = quiet_sandbox
        self.jobs: list[str] = []
        self._bars: Progress | None = None

    def __enter__(self) -> JobBars:
        return self

    def started(self, pipeline: str, job_id: str) -> Report | None:
        """``on_job``: a job is starting; returns its ``(done, total)`` callback."""
        self.jobs.append(f"{pipeline}@{job_id}")
        if not self.console.is_terminal:
            return None
        if self._bars is None:
            self._bars = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("datums"), TimeElapsedColumn(), console=self.console,
            )
            self._bars.start()
        bars = self._bars
        task: TaskID = bars.add_task(f"{pipeline}@{job_id}", total=None)

        def report(done: int, total: int) -> None:
            bars.update(task, completed=done, total=total)

        return report

    def __exit__(self, *exc: object) -> None:
        if self._bars is not None:
            self._bars.stop()
            self._bars = None
        if not self.jobs:
            return
        for job in self.jobs:
            try:
                info = self.client.inspect_job(job)
            except LoxoError:  # deleted meanwhile, or the store is going away
                continue
            if not info.state.done:  # the command was interrupted while the job ran
                warn(f"warning: job {job} was left {info.state.value}; stop it with: loxo stop job {job}")
            elif info.state is not JobState.SUCCESS:
                reason = f": {info.reason}" if info.reason else ""
                warn(f"warning: job {job} {info.state.value}{reason}")
        sandbox_note = self.client.pps.sandbox_warning  # e.g. bubblewrap missing: once
        if sandbox_note and not self.quiet_sandbox:
            warn(sandbox_note)
        self.jobs.clear()
