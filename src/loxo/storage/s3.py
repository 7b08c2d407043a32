"""Objects in any S3-compatible store (AWS S3, SeaweedFS, MinIO, R2 ...), through obstore.

The store is named by one URL, the whole description another process needs to reopen it::

    s3://bucket/prefix?endpoint=http://127.0.0.1:8333&region=us-east-1

``prefix``, ``endpoint``, ``region`` and ``allow_http`` are optional. Credentials never go
in the URL: obstore reads them, and every setting the URL leaves out, from the ``AWS_*``
environment variables (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
``AWS_SESSION_TOKEN``, ``AWS_ENDPOINT_URL``, ``AWS_REGION`` ...). loxo itself reads no
environment variable, and worker processes inherit the environment, so they reopen the
same store from the same URL. Plain ``http://`` needs ``allow_http=true`` unless the
URL's own ``endpoint`` says ``http://``.

An object is visible only once complete: a single PUT is atomic, and a multipart upload
(obstore's choice above ``_PART_SIZE``) shows nothing under its key until S3 completes it;
an upload that fails part-way leaves only invisible parts, which a bucket lifecycle rule
(``AbortIncompleteMultipartUpload``) reclaims. obstore's errors become loxo's here and
nowhere else.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit

import obstore
from obstore.exceptions import BaseError, PermissionDeniedError, UnauthenticatedError
from obstore.store import S3Store

from loxo.errors import InvalidArgument, ObjectMissing, StorageUnavailable
from loxo.storage.objects import _check_key

if TYPE_CHECKING:
    from obstore.store import ClientConfig, RetryConfig, S3Config

_PART_SIZE = 8 << 20  # multipart above this; S3's smallest part is 5 MiB
_PARTS_AT_ONCE = 8
_LIST_PAGE = 1000  # S3's own page size: one request per page, one page in memory
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_REGION = re.compile(r"[a-z0-9-]+")
_QUERY_KEYS = ("endpoint", "region", "allow_http")
_BOOLEANS = {"true": True, "false": False}

# A wrong or dead endpoint must fail in seconds: obstore's defaults retry for up to three
# minutes. Four retries still ride out a busy server's 503s; a slow but live transfer is
# bounded only by the per-request timeout.
_RETRY: RetryConfig = {
    "max_retries": 4,
    "retry_timeout": timedelta(seconds=30),
    "backoff": {"init_backoff": timedelta(milliseconds=100), "max_backoff": timedelta(seconds=2)},
}
_CONNECT_TIMEOUT = "3s"
_REQUEST_TIMEOUT = "120s"

# obstore raises its own BaseError tree, and builtins for some failures (ValueError for a
# bad range, OSError subclasses such as FileNotFoundError for a missing object).
_OBSTORE_ERRORS = (BaseError, OSError, ValueError)


@dataclass(frozen=True)
class S3Location:
    """Where an S3 store is: everything in its URL, checked."""

    bucket: str
    prefix: str = ""
    endpoint: str | None = None
    region: str | None = None
    allow_http: bool = False

    @property
    def url(self) -> str:
        """The canonical URL (``parse_s3_url(loc.url) == loc``)."""
        query: dict[str, str] = {}
        if self.endpoint is not None:
            query["endpoint"] = self.endpoint
        if self.region is not None:
            query["region"] = self.region
        if self.allow_http and not (self.endpoint or "").startswith("http://"):
            query["allow_http"] = "true"
        path = f"/{self.prefix}" if self.prefix else ""
        return f"s3://{self.bucket}{path}" + (f"?{urlencode(query, safe=':/')}" if query else "")


def parse_s3_url(url: str) -> S3Location:
    """``s3://bucket[/prefix][?endpoint=URL&region=NAME&allow_http=true]``, checked;
    ``InvalidArgument`` with one line saying what is wrong."""
    try:
        parts = urlsplit(url)
    except ValueError:
        raise InvalidArgument(f"{url!r} is not a valid URL") from None
    if parts.scheme != "s3":
        raise InvalidArgument(f"{url!r} is not an s3:// URL")
    if "@" in parts.netloc or ":" in parts.netloc:
        raise InvalidArgument(
            f"{url!r}: put only the bucket after s3:// (credentials come from AWS_ACCESS_KEY_ID "
            "and AWS_SECRET_ACCESS_KEY, the server from ?endpoint=)"
        )
    if parts.fragment:
        raise InvalidArgument(f"{url!r}: an s3:// URL has no #fragment")
    bucket = parts.netloc
    if not _BUCKET.fullmatch(bucket):
        raise InvalidArgument(
            f"{url!r}: bucket {bucket!r} is not a valid S3 bucket name "
            "(3-63 lowercase letters, digits, dots and hyphens)"
        )
    endpoint, region, allow_http = _parse_query(url, parts.query)
    return S3Location(bucket, _parse_prefix(url, parts.path), endpoint, region, allow_http)


def _parse_prefix(url: str, path: str) -> str:
    prefix = path.strip("/")
    if prefix:
        try:
            _check_key(prefix)
        except InvalidArgument:
            raise InvalidArgument(
                f"{url!r}: prefix {prefix!r} has an empty, '.', '..' or '.tmp' part"
            ) from None
    return prefix


def _parse_query(url: str, query: str) -> tuple[str | None, str | None, bool]:
    """``(endpoint, region, allow_http)``; plain http is allowed when the endpoint uses it."""
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=True) if query else []
    except ValueError:
        raise InvalidArgument(f"{url!r}: cannot read the query {query!r}") from None
    found: dict[str, str] = {}
    for key, value in pairs:
        if key not in _QUERY_KEYS:
            raise InvalidArgument(f"{url!r}: unknown parameter {key!r} (known: {', '.join(_QUERY_KEYS)})")
        if key in found:
            raise InvalidArgument(f"{url!r}: parameter {key!r} given twice")
        found[key] = value
    endpoint = _check_endpoint(url, found["endpoint"]) if "endpoint" in found else None
    region = found.get("region")
    if region is not None and not _REGION.fullmatch(region):
        raise InvalidArgument(f"{url!r}: region {region!r} is not a region name")
    allow_http = found.get("allow_http")
    if allow_http is not None and allow_http not in _BOOLEANS:
        raise InvalidArgument(f"{url!r}: allow_http must be true or false")
    if allow_http is None:
        return endpoint, region, (endpoint or "").startswith("http://")
    return endpoint, region, _BOOLEANS[allow_http]


def _check_endpoint(url: str, endpoint: str) -> str:
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise InvalidArgument(
            f"{url!r}: endpoint {endpoint!r} must be http(s)://host[:port], e.g. http://127.0.0.1:8333"
        )
    try:
        parts.port  # noqa: B018 (urlsplit checks the port only when asked)
    except ValueError:
        raise InvalidArgument(f"{url!r}: endpoint {endpoint!r} has a bad port") from None
    return endpoint.rstrip("/")


class S3ObjectStore:
    """An ``ObjectStore`` in one bucket, under an optional prefix; keys are relative to it.

    Safe to use from several threads at once: obstore releases the GIL while it waits.
    """

    def __init__(self, location: S3Location) -> None:
        self.location = location
        self.url = location.url
        config: S3Config = {"bucket": location.bucket}
        if location.endpoint is not None:
            config["endpoint"] = location.endpoint
        if location.region is not None:
            config["region"] = location.region
        # Passing client options replaces obstore's own from the environment (AWS_ALLOW_HTTP
        # included), so allow_http is decided by the URL alone.
        client: ClientConfig = {
            "allow_http": location.allow_http,
            "connect_timeout": _CONNECT_TIMEOUT,
            "timeout": _REQUEST_TIMEOUT,
        }
        try:
            self._store = S3Store(prefix=location.prefix or None, config=config,
                                  client_options=client, retry_config=_RETRY)
        except _OBSTORE_ERRORS as exc:
            raise InvalidArgument(f"cannot open {self.url}: {_first_line(exc)}") from None

    @classmethod
    def from_url(cls, url: str) -> S3ObjectStore:
        """The store an ``s3://`` URL names (see the module docstring)."""
        return cls(parse_s3_url(url))

    def __repr__(self) -> str:
        return f"S3ObjectStore({self.url!r})"

    # -- the ObjectStore protocol ----------------------------------------------------
    def put(self, key: str, data: bytes | memoryview) -> None:
        _check_key(key)
        with self._translated("put", key, missing="bucket"):
            obstore.put(self._store, key, data, chunk_size=_PART_SIZE, max_concurrency=_PARTS_AT_ONCE)

    def get(self, key: str) -> bytes:
        _check_key(key)
        with self._translated("get", key):
            return obstore.get(self._store, key).bytes().to_bytes()

    def get_range(self, key: str, offset: int, length: int) -> bytes:
        _check_key(key)
        if offset < 0 or length < 0:
            raise InvalidArgument(f"invalid range of {key}: offset {offset}, length {length}")
        if length == 0:  # obstore refuses empty ranges; an absent key must still fail
            self.size(key)
            return b""
        try:
            data = obstore.get_range(self._store, key, start=offset, length=length)
        except FileNotFoundError:
            raise self._missing(key) from None
        except _OBSTORE_ERRORS as exc:
            # S3 answers 416 to a range that starts at or past the end, where loxo's
            # contract is a short (here empty) read: ask the size before calling it a failure.
            if offset >= self.size(key):
                return b""
            raise self._failure("get_range", key, exc) from exc
        return data.to_bytes()

    def exists(self, key: str) -> bool:
        _check_key(key)
        try:
            with self._translated("exists", key):
                obstore.head(self._store, key)
        except ObjectMissing:
            return False
        return True

    def size(self, key: str) -> int:
        _check_key(key)
        with self._translated("size", key):
            return obstore.head(self._store, key)["size"]

    def delete(self, key: str) -> None:
        _check_key(key)
        with self._translated("delete", key, missing="bucket"):
            obstore.delete(self._store, key)

    def list(self, prefix: str = "") -> Iterator[str]:
        # obstore lists whole path segments ("chunks/ab" means the directory chunks/ab/);
        # loxo lists by string prefix: list the enclosing directory, keep what matches.
        directory = prefix.rpartition("/")[0]
        if directory:
            try:
                _check_key(directory)
            except InvalidArgument:
                return  # no valid key lies under an invalid directory
        with self._translated("list", prefix or "(all)", missing="bucket"):
            for page in obstore.list(self._store, directory or None, chunk_size=_LIST_PAGE):
                for meta in page:
                    if meta["path"].startswith(prefix):
                        yield meta["path"]

    # -- errors ----------------------------------------------------------------------
    @contextmanager
    def _translated(
        self, action: str, key: str, missing: Literal["object", "bucket"] = "object"
    ) -> Iterator[None]:
        """obstore's errors as loxo's. Not found means the object for reads, the bucket
        for writes and listings (S3 answers 404 NoSuchBucket)."""
        try:
            yield
        except FileNotFoundError:
            if missing == "object":
                raise self._missing(key) from None
            raise StorageUnavailable(
                f"S3 {action} of {key} in {self.url} failed: bucket {self.location.bucket!r} "
                "does not exist; check the bucket name and the endpoint"
            ) from None
        except _OBSTORE_ERRORS as exc:
            raise self._failure(action, key, exc) from exc

    def _missing(self, key: str) -> ObjectMissing:
        return ObjectMissing(f"object {key} is missing from {self.url}")

    def _failure(self, action: str, key: str, exc: Exception) -> StorageUnavailable:
        if isinstance(exc, PermissionDeniedError | UnauthenticatedError):
            hint = "check the credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) and the bucket's policy"
        else:
            hint = ("check the endpoint (?endpoint= or AWS_ENDPOINT_URL; plain http needs "
                    "allow_http=true), that the server is up, and the credentials")
        return StorageUnavailable(
            f"S3 {action} of {key} in {self.url} failed: {_first_line(exc)}; {hint}")


def _first_line(exc: Exception) -> str:
    """obstore's messages run to dozens of lines of debug output; the first says what failed."""
    text = str(exc).strip().splitlines()
    return text[0][:400] if text else type(exc).__name__
