"""``RemoteClient``: every verb of ``Client``, against a loxo server."""

from __future__ import annotations

import httpx2 as httpx

from loxo.client.client import ClientBase
from loxo.client.http import Http
from loxo.client.remote_auth import RemoteAuth
from loxo.client.remote_pfs import RemotePfs
from loxo.client.remote_pps import RemotePps


class RemoteClient(RemoteAuth, ClientBase):
    """The server at ``address`` (``http://host:port``), with a ``token`` once auth is on
    (the auth verbs come from ``RemoteAuth``).

    With ``auto_run`` (the default), a write returns once the jobs it triggered on the
    server have run, as in embedded mode; without it, a write returns at once.
    ``session`` replaces the HTTP session (tests pass an in-process one).
    """

    def __init__(self, address: str, token: str | None = None, *, auto_run: bool = True,
                 session: httpx.Client | None = None) -> None:
        self.address = address
        self.http = Http(address, token, session=session)
        super().__init__(RemotePfs(self.http), RemotePps(self.http), auto_run=auto_run,
                         on_job=None)

    def server_version(self) -> str:
        return str(self.http.call("GET", "/version", dict[str, str])["version"])
