"""A real, private PostgreSQL server for tests.

``start_postgres()`` runs ``initdb`` and ``postgres`` from the Debian package
(``/usr/lib/postgresql/<version>/bin``) into a temporary directory; the server listens
only on a unix socket in that directory (no TCP port to collide with anything) and
trades durability for speed (``fsync=off`` and friends). PostgreSQL refuses to run as
root, so under root it runs as the ``postgres`` system user the package creates.

``new_database()`` hands out an empty, already migrated database per call, copied
from a template (~25 ms on an idle machine) instead of migrated afresh (~0.5 s with Alembic).

The fixtures ``pg_server`` (one server per test process, started on first use and
stopped at exit, whichever conftest imports the fixture) and ``pg_url`` (a fresh
database per test, dropped after it) are what tests use. Missing binaries fail the
test with the command that installs them; only a non-root developer outside CI, who
could not install them anyway, gets a skip.
"""

from __future__ import annotations

import atexit
import itertools
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import pytest

from loxo.meta.db import Database

_PG_ROOT = Path("/usr/lib/postgresql")
_SERVICE_USER = "postgres"
_READY_TIMEOUT = 60.0
_FAST = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")
_TEMPLATE = "loxo_template"


class PostgresUnavailable(RuntimeError):
    """The PostgreSQL binaries are not installed here."""


def find_bin_dir() -> Path:
    """The newest installed server's ``bin`` directory."""
    candidates = sorted(
        (p.parent for p in _PG_ROOT.glob("*/bin/postgres")),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    on_path = shutil.which("postgres")  # a non-Debian install (Homebrew, a source build)
    if not candidates and on_path and (Path(on_path).parent / "initdb").exists():
        candidates = [Path(on_path).parent]
    if not candidates:
        raise PostgresUnavailable(
            f"PostgreSQL is not installed (no {_PG_ROOT}/<version>/bin/postgres): "
            "run `make setup` as root, or `apt-get install -y postgresql`"
        )
    return candidates[-1]


def _run_as() -> dict[str, Any]:
    """Popen arguments that drop root to the ``postgres`` user (nothing when not root)."""
    if os.geteuid() != 0:
        return {}
    try:
        pwd.getpwnam(_SERVICE_USER)
    except KeyError as exc:
        raise PostgresUnavailable(f"running as root needs the {_SERVICE_USER!r} system user") from exc
    return {"user": _SERVICE_USER, "group": _SERVICE_USER, "extra_groups": []}


@dataclass
class PgServer:
    """A running private server; ``stop()`` ends it and removes its files."""

    bin_dir: Path
    root: Path
    process: subprocess.Popen[bytes]
    user: str
    start_seconds: float = 0.0
    _names: itertools.count[int] = field(default_factory=itertools.count)

    @property
    def socket_dir(self) -> Path:
        return self.root

    @property
    def log(self) -> Path:
        return self.root / "postgres.log"

    def url(self, database: str = "postgres") -> str:
        """An SQLAlchemy URL for ``database`` over the unix socket."""
        return f"postgresql+psycopg://{self.user}@/{database}?host={self.socket_dir}"

    def admin(self) -> psycopg.Connection[Any]:
        """An autocommit connection to the maintenance database (CREATE/DROP DATABASE)."""
        return psycopg.connect(host=str(self.socket_dir), dbname="postgres", user=self.user,
                               autocommit=True)

    def new_database(self, migrated: bool = True) -> str:
        """A fresh database of its own: loxo's schema already in it unless ``migrated=False``."""
        name = f"loxo_{os.getpid()}_{next(self._names)}"
        template = _TEMPLATE if migrated else "template0"
        # The default strategy (WAL_LOG) on purpose: FILE_COPY checkpoints twice, writing
        # out every buffer the tests so far dirtied (measured: median 106 vs 164 ms).
        with self.admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        """Drop the database ``url`` names, ending any session still connected to it."""
        name = url.split("/")[-1].split("?")[0]
        with self.admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def stop(self) -> None:
        """Fast shutdown (SIGINT), then SIGKILL if it lingers; the files go either way."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def _private_dir(parent: Path | None) -> Path:
    """A directory the server's user owns. Not under pytest's tmp_path: that sits in a
    root-only (0700) directory the ``postgres`` user cannot enter, and unix socket paths
    must stay under ~100 bytes."""
    root = Path(tempfile.mkdtemp(prefix="loxo-pg-", dir=parent))
    if os.geteuid() == 0:
        shutil.chown(root, _SERVICE_USER, _SERVICE_USER)
    return root


def _initdb(bin_dir: Path, data: Path, user: str, as_user: dict[str, Any]) -> None:
    result = subprocess.run(
        [str(bin_dir / "initdb"), "-D", str(data), "-U", user, "--auth=trust",
         "--encoding=UTF8", "--locale=C", "--no-sync"],
        capture_output=True, text=True, check=False, cwd=data.parent, **as_user,
    )
    if result.returncode != 0:
        raise RuntimeError(f"initdb failed ({result.returncode}):\n{result.stderr[-2000:]}")


def _launch(bin_dir: Path, root: Path, as_user: dict[str, Any]) -> subprocess.Popen[bytes]:
    settings = [*_FAST, "listen_addresses=", f"unix_socket_directories={root}",
                "max_connections=300", "shared_buffers=64MB", "log_min_messages=warning"]
    argv = [str(bin_dir / "postgres"), "-D", str(root / "data")]
    for setting in settings:
        argv += ["-c", setting]
    with (root / "postgres.log").open("ab") as log:
        # Its own session: a Ctrl-C at the terminal reaches pytest, which stops it in order.
        return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, cwd=root, **as_user)


def _wait_ready(server: PgServer) -> None:
    deadline = time.monotonic() + _READY_TIMEOUT
    while True:
        if server.process.poll() is not None:
            raise RuntimeError(f"postgres exited with {server.process.returncode}:\n{server.log_tail()}")
        try:
            server.admin().close()
            return
        except psycopg.OperationalError as exc:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"postgres not ready after {_READY_TIMEOUT:.0f} s ({exc}):\n{server.log_tail()}"
                ) from exc
            time.sleep(0.02)


def _make_template(server: PgServer) -> None:
    with server.admin() as conn:
        conn.execute(f'CREATE DATABASE "{_TEMPLATE}" TEMPLATE template0')
    db = Database(server.url(_TEMPLATE))
    try:
        db.migrate()
    finally:
        db.close()  # a template may have no sessions while it is copied


def start_postgres(parent: Path | None = None) -> PgServer:
    """Start a private server (in a new directory under ``parent``, default the system
    temp dir) with loxo's migrated template ready; raises ``PostgresUnavailable`` when the
    binaries are missing, ``RuntimeError`` with the log's tail when it does not start."""
    began = time.monotonic()
    bin_dir = find_bin_dir()
    as_user = _run_as()
    user = _SERVICE_USER if as_user else pwd.getpwuid(os.geteuid()).pw_name
    root = _private_dir(parent)
    try:
        _initdb(bin_dir, root / "data", user, as_user)
        server = PgServer(bin_dir, root, _launch(bin_dir, root, as_user), user)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    try:
        _wait_ready(server)
        _make_template(server)
    except BaseException:
        server.stop()
        raise
    server.start_seconds = time.monotonic() - began
    return server


_shared: PgServer | None = None
_failure: str | None = None


def shared_server() -> PgServer:
    """The test process's one server, started on first call and stopped at exit. A
    failed start is remembered, so the tests after it fail at once instead of each
    waiting for their own failed start."""
    global _shared, _failure
    if _failure is not None:
        raise RuntimeError(_failure)
    if _shared is None:
        try:
            _shared = start_postgres()
        except PostgresUnavailable:
            raise
        except Exception as exc:
            _failure = f"PostgreSQL did not start: {exc}"
            raise
        atexit.register(_shared.stop)
    return _shared


@pytest.fixture(scope="session")
def pg_server() -> PgServer:
    """A real PostgreSQL for this test session (see the module docstring)."""
    try:
        return shared_server()
    except PostgresUnavailable as exc:
        if os.geteuid() != 0 and not os.environ.get("CI"):
            pytest.skip(f"{exc} (not root: cannot install it here)")
        pytest.fail(str(exc), pytrace=False)


@pytest.fixture
def pg_url(pg_server: PgServer) -> Iterator[str]:
    """An SQLAlchemy URL of a fresh, migrated database of this test's own."""
    url = pg_server.new_database()
    yield url
    pg_server.drop_database(url)
