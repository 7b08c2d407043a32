"""PostgreSQL-specific suites: a real server, started once per test process."""

from tests.support.postgres import pg_server, pg_url

__all__ = ["pg_server", "pg_url"]
