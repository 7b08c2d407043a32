"""The remote client's one HTTP session: requests, decoding, and errors mapped back.

A server error arrives as ``{"error": {"code", "message"}}``; ``code`` picks the same
``LoxoError`` class the embedded client would have raised (never the message text).
Network failures become ``ServerUnavailable`` with the address in the message.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any, TypeVar

import httpx2 as httpx
from pydantic import TypeAdapter

from loxo.errors import LoxoError, ServerUnavailable, all_error_classes

T = TypeVar("T")
API = "/v1"


@cache
def _classes() -> dict[str, type[LoxoError]]:
    return {cls.code: cls for cls in all_error_classes()}


_ADAPTERS: dict[Any, TypeAdapter[Any]] = {}


def _adapter(tp: Any) -> TypeAdapter[Any]:
    if tp not in _ADAPTERS:
        _ADAPTERS[tp] = TypeAdapter(tp)
    return _ADAPTERS[tp]


def decode(tp: type[T] | Any, data: Any) -> Any:
    """``data`` (parsed JSON) as ``tp``: records, lists and tuples of them."""
    return _adapter(tp).validate_python(data)


def encode(value: Any) -> Any:
    """``value`` as JSON-ready data (records become objects)."""
    return _adapter(type(value)).dump_python(value, mode="json")


def raise_for(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    try:
        error = response.json()["error"]
        code, message = str(error["code"]), str(error["message"])
    except (ValueError, KeyError, TypeError):
        text = response.text[:200] if not response.is_stream_consumed or response.content else ""
        raise ServerUnavailable(
            f"{response.request.url.host} answered {response.status_code} without a loxo error: "
            f"{text.strip() or response.reason_phrase}") from None
    cls = _classes().get(code, LoxoError)
    raise cls(message)


class Http:
    """Requests to one server under ``/v1``, with an optional bearer token."""

    def __init__(self, address: str, token: str | None = None, *,
                 session: httpx.Client | None = None) -> None:
        self.address = address.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.session = session or httpx.Client(
            # reads wait longer than the server ever holds a request (20 s waits)
            timeout=httpx.Timeout(120.0, connect=5.0), follow_redirects=False)
        self.session.headers.update(headers)

    def close(self) -> None:
        self.session.close()

    def url(self, path: str) -> str:
        return f"{self.address}{API}{path}"

    def call(self, method: str, path: str, tp: type[T], *, params: dict[str, Any] | None = None,
             json: Any = None, content: bytes | Iterable[bytes] | None = None) -> T:
        """One request; its JSON answer decoded as ``tp``."""
        response = self._request(method, path, params, json, content)
        result: T = decode(tp, response.json())
        return result

    def send(self, method: str, path: str, *, params: dict[str, Any] | None = None,
             json: Any = None) -> None:
        """One request whose answer carries nothing but success."""
        self._request(method, path, params, json, None)

    def _request(self, method: str, path: str, params: dict[str, Any] | None, json: Any,
                 content: bytes | Iterable[bytes] | None) -> httpx.Response:
        try:
            response = self.session.request(method, self.url(path), params=_params(params),
                                            json=json, content=content)
        except httpx.TransportError as exc:
            raise ServerUnavailable(f"cannot reach the loxo server at {self.address}: {exc}") from None
        raise_for(response)
        return response

    @contextmanager
    def stream(self, path: str, params: dict[str, Any] | None = None) -> Iterator[httpx.Response]:
        """A GET whose body is read as it arrives."""
        try:
            with self.session.stream("GET", self.url(path), params=_params(params)) as response:
                if response.status_code >= 400:
                    response.read()
                raise_for(response)
                yield response
        except httpx.TransportError as exc:
            raise ServerUnavailable(f"cannot reach the loxo server at {self.address}: {exc}") from None


def _params(params: dict[str, Any] | None) -> dict[str, Any] | None:
    """Query parameters without the Nones; booleans as the server reads them."""
    if params is None:
        return None
    out: dict[str, Any] = {}
    for key, value in params.items():
        if value is None:
            continue
        out[key] = ("true" if value else "false") if isinstance(value, bool) else value
    return out
