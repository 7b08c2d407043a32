"""A loxo server running in this process, and a ``RemoteClient`` talking to it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from fastapi.testclient import TestClient

import loxo
from loxo.server import ServerConfig, create_app


@contextmanager
def serve_in_process(home: Path, **config: object) -> Iterator[loxo.RemoteClient]:
    """The server's app on ``home`` (controller running) behind an in-process HTTP session."""
    app = create_app(ServerConfig(home=home, **config))  # type: ignore[arg-type]
    with TestClient(app, base_url="http://loxo.test", raise_server_exceptions=False) as session:
        client = loxo.RemoteClient("http://loxo.test", session=session)
        yield client
