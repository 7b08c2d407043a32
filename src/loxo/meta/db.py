"""Opening the metadata database: engine set-up, transactions, migrations.

SQLite (embedded default) runs in WAL mode with a busy timeout; write transactions
start with ``BEGIN IMMEDIATE`` so two writers queue instead of failing half way. The
same schema runs on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, create_engine, event, inspect, text
from sqlalchemy.exc import OperationalError

from loxo.errors import DatabaseError

HEAD_REVISION = "0002"
_MIGRATIONS = Path(__file__).parent / "migrations"


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; every time loxo stores is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=60000")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        immediate = conn.info.get("loxo_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


@contextmanager
def _translated() -> Iterator[None]:
    """SQLAlchemy's operational errors become ``DatabaseError``, once, here."""
    try:
        yield
    except OperationalError as exc:
        raise DatabaseError(f"metadata database error: {exc.orig}") from exc


class Database:
    """An engine plus read and write transactions."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.engine = create_engine(url, future=True)
        if self.is_sqlite:
            _sqlite_setup(self.engine)

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with _translated(), self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One atomic write transaction: all of it lands, or none of it."""
        with _translated(), self.engine.connect() as conn:
            conn.info["loxo_write"] = True
            try:
                with conn.begin():
                    yield conn
            finally:
                conn.info.pop("loxo_write", None)

    def migrate(self) -> None:
        """Bring the schema to the newest revision (cheap when it already is)."""
        if self.revision() == HEAD_REVISION:
            return
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(_MIGRATIONS))
        with self.engine.connect() as conn:
            conn.info["loxo_write"] = True
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
            conn.info.pop("loxo_write", None)

    def revision(self) -> str | None:
        with self.engine.connect() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return None
            row = conn.execute(text("SELECT version_num FROM alembic_version")).first()
            return None if row is None else str(row[0])

    def close(self) -> None:
        self.engine.dispose()


def bulk_insert(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert many rows through the driver's own executemany.

    Row by row through SQLAlchemy's statement machinery costs ~50 us a row; a job with
    100,000 datums writes that many rows, so this path skips it (columns from the first
    row; every row must have the same keys).
    """
    if not rows:
        return
    columns = list(rows[0])
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    sql = (f"INSERT INTO {table.name} ({', '.join(columns)}) "
           f"VALUES ({', '.join([mark] * len(columns))})")
    conn.exec_driver_sql(sql, [tuple(r[c] for c in columns) for r in rows])


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"
