"""A datum's directories in a worker's scratch space, made and removed cheaply: this
runs once per datum, so it is plain strings and single system calls."""

from __future__ import annotations

import os
import shutil


def remove_inputs(inp: str, created: list[tuple[str, bool]], keep: bool = False) -> None:
    """Remove a datum's materialised inputs: exactly what ``materialize`` recorded in
    ``created`` (no directory walk; user code cannot write there in the sandbox), then
    ``inp`` itself unless ``keep``; if anything else turned up there, the whole
    directory (made again, empty, if ``keep``)."""
    try:
        for path, is_dir in reversed(created):
            if is_dir:
                os.rmdir(path)
            else:
                os.unlink(path)
        if not keep:
            os.rmdir(inp)
    except OSError:
        shutil.rmtree(inp, ignore_errors=True)
        if keep:
            os.makedirs(inp, exist_ok=True)


def remove_outputs(out: str, files: list[str]) -> None:
    """Remove a datum's output directory once its ``files`` (every file in it, as
    listed when they were stored) are stored: an unlink per file and one rmdir, where
    ``rmtree`` would list and stat everything again; anything else in there
    (subdirectories, symlinks) falls back to ``rmtree``."""
    try:
        for path in files:
            os.unlink(path)
        os.rmdir(out)
    except OSError:
        shutil.rmtree(out, ignore_errors=True)
