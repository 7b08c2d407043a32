"""The one Python API over a loxo store: embedded (``Client``) or a server (``RemoteClient``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from loxo.client.client import Client, ClientBase, OpenCommit

if TYPE_CHECKING:
    from loxo.client.remote import RemoteClient

__all__ = ["Client", "ClientBase", "OpenCommit", "RemoteClient"]


def __getattr__(name: str) -> Any:
    # the HTTP client (httpx) costs an embedded user ~0.1 s to import: only when asked for
    if name == "RemoteClient":
        from loxo.client.remote import RemoteClient

        return RemoteClient
    raise AttributeError(f"module 'loxo.client' has no attribute {name!r}")
