"""The one Python API over a loxo store: embedded (``Client``) or a server (``RemoteClient``)."""

from loxo.client.client import Client, ClientBase, OpenCommit
from loxo.client.remote import RemoteClient

__all__ = ["Client", "ClientBase", "OpenCommit", "RemoteClient"]
