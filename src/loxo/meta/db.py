"""Opening the metadata database: engine set-up, transactions, migrations.

Writers are serialised on both backends, so a read-then-write inside ``write()`` is
race-free (pfs's branch compare-and-swap, the controller, job leases rely on it):

- SQLite (embedded default) runs in WAL mode with a busy timeout; write transactions
  start with ``BEGIN IMMEDIATE`` so two writers queue instead of failing half way.
- PostgreSQL (``postgresql+psycopg://``; ``postgresql://`` and ``postgres://`` mean the
  same) takes one transaction-scoped advisory lock at the start of every write
  transaction: the same single writer, at the cost of one round trip. Writes run at
  READ COMMITTED, so every statement after the lock sees all earlier writes; reads run
  as REPEATABLE READ READ ONLY, one consistent snapshot like a SQLite WAL reader, and
  stay concurrent with each other and with the writer.
"""

from __future__ import annotations

import operator
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Table, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError

from loxo.errors import DatabaseError

HEAD_REVISION = "0004"
_MIGRATIONS = Path(__file__).parent / "migrations"
_PG_SCHEMES = ("postgres://", "postgresql://")
_PG_DRIVER = "postgresql+psycopg"
# Key of the advisory lock every PostgreSQL write transaction holds ("loxo" in ASCII).
# Advisory locks are per database, so stores sharing a server never wait on each other.
WRITE_LOCK_KEY = 0x6C6F786F
# Writers queue on the lock, so a big pool buys nothing for them; readers (server
# threads, the controller, heartbeats) share it.
_PG_POOL = {"pool_size": 5, "max_overflow": 15, "pool_pre_ping": True, "pool_timeout": 60}
_PG_CONNECT_TIMEOUT = 10


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; every time loxo stores is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def normalize_url(url: str) -> str:
    """libpq's ``postgres://`` and ``postgresql://`` spellings mean the psycopg 3 driver."""
    for scheme in _PG_SCHEMES:
        if url.startswith(scheme):
            return f"{_PG_DRIVER}://{url[len(scheme):]}"
    return url


def safe_url(url: str) -> str:
    """``url`` fit for a message or a log: the password, if any, masked."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url.split("://", 1)[0] + "://..."


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


def _postgres_setup(engine: Engine) -> None:
    from psycopg import IsolationLevel

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # psycopg opens the transaction lazily with its first statement; setting these
        # attributes only changes the BEGIN it will send (no round trip).
        raw: Any = conn.connection.dbapi_connection
        write = conn.info.get("loxo_write", False)
        raw.isolation_level = IsolationLevel.READ_COMMITTED if write else IsolationLevel.REPEATABLE_READ
        raw.read_only = not write
        if write:
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({WRITE_LOCK_KEY})")


def _pg_connect_args(query: Mapping[str, object]) -> dict[str, object]:
    """Defaults the URL did not set: a connect timeout (libpq waits for an unreachable
    host for minutes otherwise) and UTC sessions, so times come back in UTC whatever
    the server's own time zone."""
    defaults: dict[str, object] = {"connect_timeout": _PG_CONNECT_TIMEOUT, "options": "-c TimeZone=UTC"}
    return {k: v for k, v in defaults.items() if k not in query}


def _create_engine(url: str) -> Engine:
    try:
        if not url.startswith("postgresql"):
            return create_engine(url)
        parsed = make_url(url)
        return create_engine(parsed, connect_args=_pg_connect_args(parsed.query), **_PG_POOL)
    except ArgumentError as exc:  # also an unknown dialect or a driver that is not installed
        raise DatabaseError(f"cannot use metadata database {safe_url(url)}: {exc}") from exc


class Database:
    """An engine plus read and write transactions.

    Every operational failure (server unreachable, connection lost, locked too long)
    comes out as one ``DatabaseError`` line naming the database without its password.
    """

    def __init__(self, url: str) -> None:
        self.url = normalize_url(url)
        self.is_sqlite = self.url.startswith("sqlite")
        self.is_postgres = self.url.startswith("postgresql")
        self.engine = _create_engine(self.url)
        if self.is_sqlite:
            _sqlite_setup(self.engine)
        elif self.is_postgres:
            _postgres_setup(self.engine)

    @contextmanager
    def _translated(self) -> Iterator[None]:
        """SQLAlchemy's operational errors become ``DatabaseError``, once, here."""
        try:
            yield
        except OperationalError as exc:
            raise DatabaseError(self._describe(exc)) from exc

    def _describe(self, exc: OperationalError) -> str:
        # libpq's messages run over several lines ("Is the server running...?"); the first
        # says what happened. It never quotes the password, but make sure.
        lines = str(exc.orig).strip().splitlines() or [type(exc.orig).__name__]
        message = lines[0].strip()
        password = make_url(self.url).password
        if password:
            message = message.replace(str(password), "***")
        return f"metadata database {safe_url(self.url)}: {message}"

    @contextmanager
    def read(self) -> Iterator[Connection]:
        with self._translated(), self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One atomic write transaction: all of it lands, or none of it."""
        with self._translated(), self.engine.connect() as conn:
            conn.info["loxo_write"] = True
            try:
                with conn.begin():
                    yield conn
            finally:
                conn.info.pop("loxo_write", None)

    def migrate(self) -> None:
        """Bring the schema to the newest revision (cheap when it already is).

        The upgrade runs as a write transaction, so two processes opening a new store
        at once migrate it once: the second waits, then finds nothing to do."""
        if self.revision() == HEAD_REVISION:
            return
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(_MIGRATIONS))
        with self._translated(), self.engine.connect() as conn:
            conn.info["loxo_write"] = True
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
            conn.info.pop("loxo_write", None)

    def revision(self) -> str | None:
        with self._translated(), self.engine.connect() as conn:
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
    row; every row must have the same keys). Names are quoted where the dialect needs it
    (``offset`` is reserved in PostgreSQL); values go through the columns' own bind
    processors (SQLite stores datetimes as text in SQLAlchemy's format).
    """
    if not rows:
        return
    columns = list(rows[0])
    quote = conn.dialect.identifier_preparer.quote
    sql = (f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)}) "
           f"VALUES ({', '.join([driver_mark(conn)] * len(columns))})")
    conn.exec_driver_sql(sql, _params(conn, table, columns, rows))


def bulk_update(conn: Connection, table: Table, keys: list[str], rows: list[dict[str, Any]]) -> None:
    """``UPDATE table SET <other columns> WHERE <keys>`` for many rows at once, through the
    driver's executemany (see ``bulk_insert``). Every row has the same keys."""
    if not rows:
        return
    quote, mark = conn.dialect.identifier_preparer.quote, driver_mark(conn)
    values = [c for c in rows[0] if c not in keys]
    sql = (f"UPDATE {quote(table.name)} SET {', '.join(f'{quote(c)} = {mark}' for c in values)} "
           f"WHERE {' AND '.join(f'{quote(k)} = {mark}' for k in keys)}")
    conn.exec_driver_sql(sql, _params(conn, table, values + keys, rows))


def driver_mark(conn: Connection) -> str:
    """The driver's placeholder for ``exec_driver_sql``."""
    return "?" if conn.dialect.paramstyle == "qmark" else "%s"


def _params(
    conn: Connection, table: Table, columns: list[str], rows: list[dict[str, Any]]
) -> list[tuple[Any, ...]]:
    get = operator.itemgetter(*columns) if len(columns) > 1 else lambda r: (r[columns[0]],)
    procs = [(i, p) for i, c in enumerate(columns) if (p := table.c[c].type.bind_processor(conn.dialect))]
    if not procs:
        return [get(r) for r in rows]
    out = []
    for r in rows:  # a loop per row with only the columns that need it: 100,000 rows
        values = list(get(r))
        for i, p in procs:
            values[i] = p(values[i])
        out.append(tuple(values))
    return out


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"
