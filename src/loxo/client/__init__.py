"""The one Python API over a loxo store."""

from loxo.client.client import Client, OpenCommit

__all__ = ["Client", "OpenCommit"]
