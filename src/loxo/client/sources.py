"""Turning what a user names (files, directories, URLs, listings, tarballs) into sources.

Downloads and tar members are spooled to temporary files so memory stays flat whatever
their size; the caller closes the returned ``Spool`` when the put is done.
"""

from __future__ import annotations

import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterator
from pathlib import PurePosixPath

from loxo.errors import InvalidPath, SourceError
from loxo.model.address import join_path, normalize_path
from loxo.pfs.snapshots import walk_local
from loxo.pfs.sources import Source

_URL_SCHEMES = ("http://", "https://")


def is_url(text: str) -> bool:
    return text.startswith(_URL_SCHEMES)


class Spool:
    """A temporary directory holding downloaded or unpacked files until the put ends."""

    def __init__(self) -> None:
        self._dir: str | None = None
        self._count = 0

    def path(self) -> str:
        if self._dir is None:
            self._dir = tempfile.mkdtemp(prefix="loxo-put-")
        self._count += 1  # not a directory listing: a tarball may hold 100,000 members
        return os.path.join(self._dir, str(self._count))

    def close(self) -> None:
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def local_sources(dest: str, local: str, recursive: bool) -> Iterator[Source]:
    """A local file, or with ``recursive`` every file under a local directory (sorted)."""
    if os.path.isdir(local):
        if not recursive:
            raise SourceError(f"{local} is a directory; pass -r to put it recursively")
        yield from walk_local(normalize_path(dest), local)
        return
    if not os.path.exists(local):
        raise SourceError(f"{local}: no such file or directory")
    yield Source(normalize_path(dest), local=local)


def download(url: str, spool: Spool) -> str:
    """Fetch ``url`` into the spool, streaming; returns the local path."""
    import httpx2 as httpx

    target = spool.path()
    try:
        with httpx.stream("GET", url, follow_redirects=True, timeout=60) as resp:
            if resp.status_code >= 400:
                raise SourceError(f"cannot fetch {url}: HTTP {resp.status_code}")
            with open(target, "wb") as f:
                for block in resp.iter_bytes(1 << 20):
                    f.write(block)
    except httpx.HTTPError as exc:
        raise SourceError(f"cannot fetch {url}: {exc}") from None
    return target


def url_name(url: str) -> str:
    name = PurePosixPath(url.split("?", 1)[0].split("#", 1)[0]).name
    return name or "index"


def untar_sources(dest: str, tar_path: str, spool: Spool) -> Iterator[Source]:
    """Every regular file of a .tar / .tar.gz / .tgz, under ``dest``; unsafe names refused."""
    try:
        archive = tarfile.open(tar_path, "r:*")  # noqa: SIM115 - closed by the with below
    except (tarfile.TarError, OSError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SourceError(f"cannot read tar archive {tar_path}: {reason}") from None
    with archive:
        for member in archive:
            if not member.isfile():
                continue
            name = member.name
            if name.startswith("/") or ".." in PurePosixPath(name).parts:
                raise InvalidPath(f"tar member {name!r} escapes the target; refusing the archive")
            reader = archive.extractfile(member)
            if reader is None:
                continue
            target = spool.path()
            with open(target, "wb") as out:
                shutil.copyfileobj(reader, out, 1 << 20)
            yield Source(join_path(dest, name), local=target)


def listing_entries(listing: str) -> list[str]:
    """Paths or URLs named one per line in a local file (or a URL) given with ``-i``."""
    try:
        with open(listing, encoding="utf-8") as f:
            return [line.strip() for line in f if line.strip() and not line.startswith("#")]
    except OSError as exc:
        raise SourceError(f"cannot read {listing}: {exc.strerror}") from None
