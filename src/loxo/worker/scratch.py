"""A datum's directories in a worker's scratch space, made and removed cheaply: this
runs once per datum, so it is plain strings and single system calls."""

from __future__ import annotations

import os
import shutil


def remove_made(root: str, made: list[tuple[str, bool]], keep: bool = False) -> None:
    """Remove what was made under ``root``, listed in ``made`` as ``(path, is
    directory)``, parents first (``materialize`` records a datum's inputs so; a datum's
    stored output files are listed too): no directory walk, one call per entry. Then
    ``root`` itself unless ``keep``. If anything else turned up there (user code wrote
    it), the whole directory goes (made again, empty, if ``keep``)."""
    try:
        for path, is_dir in reversed(made):
            if is_dir:
                os.rmdir(path)
            else:
                os.unlink(path)
        if not keep:
            os.rmdir(root)
    except OSError:
        shutil.rmtree(root, ignore_errors=True)
        if keep:
            os.makedirs(root, exist_ok=True)
