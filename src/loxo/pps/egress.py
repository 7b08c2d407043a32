"""Egress: copy a job's output commit to a URL after it lands (a local directory for
now; object-store URLs come with the S3 backend)."""

from __future__ import annotations

import os
from pathlib import Path

from loxo.errors import InvalidArgument
from loxo.model.refs import Commit, File
from loxo.pfs import Pfs


def egress(pfs: Pfs, commit: Commit, url: str) -> int:
    """Write every file of ``commit`` under ``url``; returns how many."""
    if "://" in url and not url.startswith("file://"):
        raise InvalidArgument(f"egress to {url.split('://')[0]}:// is not supported yet; use a path")
    root = Path(url.removeprefix("file://"))
    count = 0
    for path, _info, chunks in pfs.iter_files(File(commit, "/")):
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".loxo-part")
        with open(tmp, "wb") as out:
            for chunk in chunks:
                out.write(chunk)
        os.replace(tmp, target)
        count += 1
    return count
