"""Request bodies as blocking file objects, so the core's synchronous writers can read
an upload of any size as it arrives, from a worker thread, with flat memory."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import anyio.from_thread
from starlette.requests import Request

HOP_BYTES = 1 << 20


class BodyReader(io.RawIOBase):
    """``read`` on a request body; use it only from a thread that ``anyio.to_thread``
    started (it hops back to the event loop for each piece of the body)."""

    def __init__(self, request: Request) -> None:
        self._chunks: AsyncIterator[bytes] = request.stream().__aiter__()
        self._pending = b""
        self._done = False

    def readable(self) -> bool:
        return True

    async def _next(self) -> bytes:
        """Up to ~1 MiB of body per hop: a hop between threads costs far more than a
        copy, and the server hands the body over in pieces of 64 KiB."""
        pieces: list[bytes] = []
        size = 0
        while size < HOP_BYTES:
            try:
                piece = await self._chunks.__anext__()
            except StopAsyncIteration:
                self._done = True
                break
            pieces.append(piece)
            size += len(piece)
        return b"".join(pieces)

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._pending and not self._done:
            self._pending = anyio.from_thread.run(self._next)
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:] if n < len(self._pending) else b""
        return n


def body_file(request: Request) -> io.BufferedReader:
    return io.BufferedReader(BodyReader(request), buffer_size=1 << 20)
