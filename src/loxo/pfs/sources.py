"""Files to put (``Source``) and storing their content as blobs: what a datum worker
needs of PFS, so this module imports nothing of the metadata database."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import BinaryIO

from loxo.errors import InvalidArgument, SourceError
from loxo.storage.blobs import BlobWriter, Content
from loxo.storage.content import SINGLE_BLOB_MAX

Progress = Callable[[int, int], None]
"""Called with (bytes, files) just stored, from any thread."""


@dataclass(frozen=True)
class Source:
    """One file to put: destination ``path`` and exactly one of local file, bytes, stream."""

    path: str
    local: str | None = None
    data: bytes | None = None
    stream: BinaryIO | None = None
    size: int | None = None  # of a local file, if the caller already knows it


def check_source(s: Source) -> int:
    given = sum(x is not None for x in (s.local, s.data, s.stream))
    if given != 1:
        raise InvalidArgument(f"source for {s.path} must be exactly one of file, bytes, stream")
    if s.local is None:
        return len(s.data) if s.data is not None else 0
    if s.size is not None:  # the caller walked the directory; a vanished file fails on read
        return s.size
    try:
        st = os.stat(s.local)
    except OSError as exc:
        raise SourceError(f"cannot read {s.local}: {exc.strerror}") from None
    if not os.path.isfile(s.local):
        raise SourceError(f"{s.local} is not a regular file (use -r for directories)")
    return st.st_size


def store_sources(writer: BlobWriter, sources: Sequence[Source]) -> list[Content]:
    """Store the content of ``sources`` (not yet flushed), in order."""
    return store_all(writer, sources, [check_source(s) for s in sources], None, 8)


def _store_one(writer: BlobWriter, s: Source, size: int) -> Content:
    if s.data is not None:
        return writer.add_bytes(s.data)
    if s.stream is not None:
        return writer.add_stream(s.stream)
    assert s.local is not None
    try:
        return writer.add_path(s.local, size)
    except OSError as exc:
        raise SourceError(f"cannot read {s.local}: {exc.strerror or exc}") from None


def store_all(
    writer: BlobWriter, sources: Sequence[Source], sizes: Sequence[int],
    progress: Progress | None, parallelism: int,
) -> list[Content]:
    """Store every source, in order of ``sources``.

    Big local files go to a thread pool (reading, hashing and compressing them release
    the GIL); small ones are stored in this thread meanwhile, because for them the
    Python bookkeeping dominates and threads only add contention (measured: 10,000
    files of 4 KiB took 0.83 s in one thread, 1.1-1.6 s with two).
    """
    out: list[Content | None] = [None] * len(sources)

    def run(i: int) -> None:
        out[i] = _store_one(writer, sources[i], sizes[i])
        if progress is not None:
            progress(sizes[i] or out[i].size, 1)  # type: ignore[union-attr]

    big = [i for i, s in enumerate(sources) if s.local is not None and sizes[i] > SINGLE_BLOB_MAX]
    if len(big) < 2 or parallelism <= 1:
        for i in range(len(sources)):
            run(i)
    else:
        with ThreadPoolExecutor(max_workers=parallelism) as pool:
            futures = [pool.submit(run, i) for i in big]
            taken = set(big)
            for i in range(len(sources)):
                if i not in taken:
                    run(i)
            for f in futures:
                f.result()
    return [c for c in out if c is not None]
