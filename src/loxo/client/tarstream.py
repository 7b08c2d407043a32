"""Tar as a stream: many files through one HTTP body, both ways, without a temporary
archive. Each member is a header, the content, and padding to 512 bytes."""

from __future__ import annotations

import tarfile
from collections.abc import Iterable, Iterator
from typing import IO

from loxo.errors import InvalidArgument

BLOCK = 512
Member = tuple[str, int, Iterable[bytes]]
"""A file to send: path, exact size, content in chunks."""


def _header(path: str, size: int) -> bytes:
    info = tarfile.TarInfo(path.lstrip("/"))
    info.size = size
    info.mode = 0o644
    return info.tobuf(format=tarfile.PAX_FORMAT)


def write_tar(members: Iterable[Member]) -> Iterator[bytes]:
    """The bytes of a tar archive of ``members``, produced as they are read."""
    for path, size, chunks in members:
        yield _header(path, size)
        sent = 0
        for chunk in chunks:
            sent += len(chunk)
            yield chunk
        if sent != size:  # a file changed while being sent: the archive would be corrupt
            raise InvalidArgument(f"{path} changed size while it was sent ({size} -> {sent} bytes)")
        if size % BLOCK:
            yield b"\0" * (BLOCK - size % BLOCK)
    yield b"\0" * (2 * BLOCK)


def read_tar(stream: IO[bytes]) -> Iterator[tuple[str, int, IO[bytes]]]:
    """``(path, size, content)`` of each regular file in a tar stream, read in order;
    each content must be read before the next member is asked for."""
    with tarfile.open(fileobj=stream, mode="r|") as archive:
        for member in archive:
            if not member.isfile():
                continue
            content = archive.extractfile(member)
            if content is not None:
                yield "/" + member.name.lstrip("/"), member.size, content
