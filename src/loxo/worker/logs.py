"""User code's output, kept line by line."""

from __future__ import annotations

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
            for raw in f:
                text = raw[:_MAX_LOG_LINE].decode("utf-8", "replace").rstrip("\n")
                lines.append(LogLine(stamp, stream, text))
    return lines
