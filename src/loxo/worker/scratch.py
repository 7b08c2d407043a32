"""A datum's directories in a worker's scratch space, made and removed cheaply: this
runs once per datum, so it is plain strings and single system calls."""

from __future__ import annotations

import os
import shutil


def remove_inputs(inp: str, created: list[tuple[str, bool]]) -> None:
    """Remove a datum's materialised inputs: exactly what ``materialize`` recorded in
    ``created`` (no directory walk; user code cannot write there in the sandbox), then
    ``inp`` itself; if anything else turned up there, the whole directory."""
    try:
        for path, is_dir in reversed(created):
            if is_dir:
                os.rmdir(path)
            else:
                os.unlink(path)
        os.rmdir(inp)
    except OSError:
        shutil.rmtree(inp, ignore_errors=True)
