"""Progress bars on stderr for big transfers; small ones stay quiet.

The core reports progress through a ``(bytes, files)`` callback called from worker
threads; ``transfer_bar`` turns that into a Rich bar when the job is big enough to be
worth watching.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from loxo.client.sources import is_url

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
