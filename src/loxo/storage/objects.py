"""Object stores: immutable bytes under string keys.

One small interface (``ObjectStore``) with a local-directory backend (the embedded
default) and an in-memory twin. An object is visible only once complete: the local
backend writes a temporary file and renames it into place, so a killed writer leaves at
most an orphaned temporary file, never half an object under a real key.
"""

from __future__ import annotations

import contextlib
import os
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from loxo.errors import InvalidArgument, ObjectMissing

_TMP = ".tmp"


class ObjectStore(Protocol):
    """Immutable objects keyed by strings such as ``chunks/ab/abcd...``."""

    def put(self, key: str, data: bytes | memoryview) -> None:
        """Store ``data`` under ``key`` atomically (readers see all of it or nothing)."""

    def get(self, key: str) -> bytes:
        """The whole object; ``ObjectMissing`` if absent."""

    def get_range(self, key: str, offset: int, length: int) -> bytes:
        """``length`` bytes from ``offset``; ``ObjectMissing`` if absent."""

    def exists(self, key: str) -> bool: ...

    def size(self, key: str) -> int:
        """Size in bytes; ``ObjectMissing`` if absent."""

    def delete(self, key: str) -> None:
        """Remove ``key``; absent keys are ignored."""

    def list(self, prefix: str = "") -> Iterator[str]:
        """Every key starting with ``prefix``, in no particular order."""


def _check_key(key: str) -> str:
    parts = key.split("/")
    if not key or any(p in ("", ".", "..") or p.startswith(_TMP) for p in parts):
        raise InvalidArgument(f"invalid object key {key!r}")
    return key


class _OpenFiles(OrderedDict[str, int]):
    """A thread's most recently read objects, kept open. Closed when the thread ends
    (its ``threading.local`` goes, and this with it)."""

    def __del__(self) -> None:
        for fd in self.values():
            with contextlib.suppress(OSError):
                os.close(fd)


class LocalObjectStore:
    """Objects as files under a directory (the embedded default).

    ``keep_open``: how many recently read objects each thread keeps open for range
    reads. A datum worker reads one small file from a pack per datum, and opening the
    pack costs more than the read; elsewhere it stays 0, since an open file that gc
    deleted keeps its disk space until it is closed.
    """

    def __init__(self, root: str | os.PathLike[str], *, fsync: bool = False,
                 keep_open: int = 0) -> None:
        self.root = Path(root)
        self.fsync = fsync
        self.keep_open = keep_open
        self._tmp = self.root / _TMP
        self._tmp.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()

    def _path(self, key: str) -> Path:
        return self.root / _check_key(key)

    def put(self, key: str, data: bytes | memoryview) -> None:
        target = self._path(key)
        tmp = self._tmp / uuid.uuid4().hex
        with open(tmp, "wb") as f:
            f.write(data)
            if self.fsync:
                f.flush()
                os.fsync(f.fileno())
        try:
            os.replace(tmp, target)
        except FileNotFoundError:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, target)

    def get(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise ObjectMissing(f"object {key} is missing from {self.root}") from None

    def get_range(self, key: str, offset: int, length: int) -> bytes:
        fd = self._open(key)
        try:
            return os.pread(fd, length, offset)  # short only at the end of the file
        finally:
            if not self.keep_open:
                os.close(fd)

    def _open(self, key: str) -> int:
        """A descriptor for ``key``; with ``keep_open``, kept open for this thread.
        Objects never change in place, but one may be deleted (gc) or replaced: a file
        with no links left is opened again, which then fails or finds the new one."""
        files = self._open_files()
        fd = files.get(key) if files is not None else None
        if files is not None and fd is not None:
            if os.fstat(fd).st_nlink:
                files.move_to_end(key)
                return fd
            os.close(files.pop(key))
        try:
            fd = os.open(self._path(key), os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            raise ObjectMissing(f"object {key} is missing from {self.root}") from None
        if files is not None:
            files[key] = fd
            if len(files) > self.keep_open:
                os.close(files.popitem(last=False)[1])
        return fd

    def _open_files(self) -> _OpenFiles | None:
        """This thread's open objects (None when none are kept)."""
        if not self.keep_open:
            return None
        files: _OpenFiles | None = getattr(self._local, "files", None)
        if files is None:
            files = self._local.files = _OpenFiles()
        return files

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def size(self, key: str) -> int:
        try:
            return self._path(key).stat().st_size
        except FileNotFoundError:
            raise ObjectMissing(f"object {key} is missing from {self.root}") from None

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def list(self, prefix: str = "") -> Iterator[str]:
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = [d for d in dirnames if not d.startswith(_TMP)]
            rel = os.path.relpath(dirpath, self.root)
            base = "" if rel == "." else rel.replace(os.sep, "/") + "/"
            for name in filenames:
                key = base + name
                if key.startswith(prefix):
                    yield key

    def clean_temporary(self) -> int:
        """Remove temporary files left by killed writers; returns how many."""
        removed = 0
        for path in self._tmp.iterdir():
            path.unlink(missing_ok=True)
            removed += 1
        return removed


class MemoryObjectStore:
    """In-memory twin of ``LocalObjectStore``, for tests."""

    def __init__(self) -> None:
        self._data: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def put(self, key: str, data: bytes | memoryview) -> None:
        blob = bytes(data)
        with self._lock:
            self._data[_check_key(key)] = blob

    def get(self, key: str) -> bytes:
        try:
            return self._data[_check_key(key)]
        except KeyError:
            raise ObjectMissing(f"object {key} is missing from memory") from None

    def get_range(self, key: str, offset: int, length: int) -> bytes:
        return self.get(key)[offset : offset + length]

    def exists(self, key: str) -> bool:
        return _check_key(key) in self._data

    def size(self, key: str) -> int:
        return len(self.get(key))

    def delete(self, key: str) -> None:
        with self._lock:
            self._data.pop(_check_key(key), None)

    def list(self, prefix: str = "") -> Iterator[str]:
        with self._lock:
            keys = list(self._data)
        return (k for k in keys if k.startswith(prefix))


def open_object_store(url: str) -> ObjectStore:
    """An object store from a URL: a plain path or ``file://`` (local), ``memory://``, or
    ``s3://bucket/prefix?endpoint=...`` (any S3-compatible store; see ``loxo.storage.s3``)."""
    if url.startswith("memory://"):
        return MemoryObjectStore()
    if url.startswith("file://"):
        return LocalObjectStore(url.removeprefix("file://"))
    if url.startswith("s3://"):
        # Imported here: s3 builds on this module (the protocol, the key check), and only
        # S3 users pay for loading obstore.
        from loxo.storage.s3 import S3ObjectStore

        return S3ObjectStore.from_url(url)
    if "://" in url:
        scheme = url.split("://", 1)[0]
        raise InvalidArgument(
            f"object store scheme {scheme!r} is not supported; use a directory path, "
            "file://, memory:// or s3://bucket/prefix"
        )
    return LocalObjectStore(url)
