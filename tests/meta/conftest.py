"""The metadata tests run on SQLite and on a real PostgreSQL."""

from tests.support.postgres import pg_server, pg_url

__all__ = ["pg_server", "pg_url"]
