"""``loxo serve``: the HTTP API, the job controller, auth, metrics and health checks."""

from loxo.server.app import create_app
from loxo.server.config import ServerConfig

__all__ = ["ServerConfig", "create_app"]
