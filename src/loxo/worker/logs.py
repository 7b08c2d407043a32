"""User code's output, kept line by line."""

from __future__ import annotations

import os
from pathlib import Path

from loxo.worker.task import LogLine

_MAX_LOG_LINE = 8192


def read_logs(logs: Path, start: dict[str, int] | None = None) -> list[LogLine]:
    """User output lines in ``logs``; with ``start``, only those past those offsets."""
    lines: list[LogLine] = []
    for stream in ("stdout", "stderr"):
        path = logs / stream
        if not path.exists():
            continue
        stamp = path.stat().st_mtime
        with open(path, "rb") as f:
            f.seek((start or {}).get(stream, 0))
            lines.extend(split_lines(f.read(), stream, stamp))
    return lines


def split_lines(data: bytes, stream: str, stamp: float) -> list[LogLine]:
    """``data`` as log lines (a last line without a newline is a line too)."""
    if not data:
        return []
    raws = data.split(b"\n")
    if raws[-1] == b"":
        raws.pop()
    return [LogLine(stamp, stream, raw[:_MAX_LOG_LINE].decode("utf-8", "replace")) for raw in raws]


class LogRanges:
    """Reads two shared log files piece by piece: each datum's output is the bytes
    between the sizes after the datum before it and after it."""

    def __init__(self, stdout: str, stderr: str) -> None:
        self.paths = (stdout, stderr)
        self.seen = [0, 0]
        self._fds: list[int] = []

    def sizes(self) -> tuple[int, int]:
        """The files' sizes now (they are held open: one call each per datum)."""
        if not self._fds:
            self._fds = [os.open(p, os.O_RDONLY | os.O_CLOEXEC) for p in self.paths]
        return os.fstat(self._fds[0]).st_size, os.fstat(self._fds[1]).st_size

    def take(self, ends: tuple[int, int], stamp: float) -> tuple[LogLine, ...]:
        """The lines printed up to ``ends`` and not yet taken (nothing new: no I/O)."""
        lines: list[LogLine] = []
        for i, stream in enumerate(("stdout", "stderr")):
            start, end = self.seen[i], ends[i]
            if end <= start:
                continue
            if self._fds:
                data = os.pread(self._fds[i], end - start, start)
            else:
                fd = os.open(self.paths[i], os.O_RDONLY | os.O_CLOEXEC)
                try:
                    data = os.pread(fd, end - start, start)
                finally:
                    os.close(fd)
            self.seen[i] = start + len(data)
            lines.extend(split_lines(data, stream, stamp))
        return tuple(lines)

    def close(self) -> None:
        for fd in self._fds:
            os.close(fd)
        self._fds = []
