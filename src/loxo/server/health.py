"""``/healthz`` (the process answers) and ``/readyz`` (its backends answer too).

``/readyz`` runs every check at once, each in a thread of its own with ``CHECK_TIMEOUT``
seconds to answer, so a hung database or object store fails the probe instead of
hanging it. A check still hung from an earlier probe is reported as such and not started
again: a backend that never answers costs one stuck thread per check, not one a probe.
Neither route needs a token: orchestrators probe without one.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import make_url, text

from loxo.errors import LoxoError
from loxo.meta.db import Database
from loxo.server.state import ServerState
from loxo.storage.objects import ObjectStore

CHECK_TIMEOUT = 2.0  # seconds; kubelet's default probe timeout is 1 s, its period 10 s

router = APIRouter(tags=["operations"])


def check_database(db: Database) -> None:
    """A round trip to the database; for SQLite, also that its file is still there (an
    open connection keeps working on a deleted file, losing every write)."""
    if db.is_sqlite:
        path = make_url(db.url).database
        if path and path != ":memory:" and not Path(path).is_file():
            raise FileNotFoundError(f"database file {path} is missing")
    with db.read() as conn:
        conn.execute(text("SELECT 1"))


def check_objects(objects: ObjectStore, key: str) -> None:
    """Write, read back and delete one small object: listing and lookups do not fail on
    a local directory that is gone (they find nothing), and the server needs to write."""
    objects.put(key, b"ok")
    try:
        if objects.get(key) != b"ok":
            raise OSError(f"object {key} read back different bytes")
    finally:
        objects.delete(key)


class Probe:
    """One named check, run in a daemon thread with a deadline."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._lock = threading.Lock()  # probes arrive concurrently
        self._running: Future[None] | None = None
        self._since = 0.0

    def start(self, check: Callable[[], None]) -> Future[None]:
        with self._lock:
            if self._running is not None and not self._running.done():
                return self._running  # still hung: wait on it again, do not pile up threads
            future: Future[None] = Future()
            future.set_running_or_notify_cancel()
            self._running, self._since = future, time.monotonic()
        threading.Thread(target=_run, args=(check, future), daemon=True,
                         name=f"loxo-readyz-{self.name}").start()
        return future

    def outcome(self, future: Future[None], deadline: float) -> str | None:
        """None when the check passed, else what went wrong, in one line."""
        try:
            future.result(timeout=max(0.0, deadline - time.monotonic()))
        except FutureTimeout:
            return f"no answer after {time.monotonic() - self._since:.1f} s"
        except Exception as exc:
            return _one_line(exc)
        return None


def _run(check: Callable[[], None], future: Future[None]) -> None:
    try:
        check()
    except BaseException as exc:  # reported by the probe that waits on it
        future.set_exception(exc)
    else:
        future.set_result(None)


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, LoxoError):  # ours already say what failed: "metadata database ..."
        return _first_line(exc.message) or exc.code
    first = _first_line(str(exc))
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def _first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0] if lines else ""


class Readiness:
    """The probes of one app (a hung check is remembered per app)."""

    def __init__(self) -> None:
        self.database = Probe("database")
        self.objects = Probe("objects")
        self.key = f"health/{uuid.uuid4().hex}"  # one per server: a leftover is one object

    def run(self, db: Database, objects: ObjectStore) -> dict[str, str]:
        """Each backend's state: "ok" or what failed."""
        deadline = time.monotonic() + CHECK_TIMEOUT
        running = [(self.database, self.database.start(lambda: check_database(db))),
                   (self.objects, self.objects.start(lambda: check_objects(objects, self.key)))]
        return {probe.name: probe.outcome(future, deadline) or "ok" for probe, future in running}


def install(app: FastAPI) -> None:
    app.state.readiness = Readiness()
    app.include_router(router)


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive and serving; touches nothing else."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "a backend failed; the body says which"}})
def readyz(request: Request) -> JSONResponse:
    """200 when the metadata database and the object store answer, else 503; the body
    names each check: ``{"status": ..., "checks": {"database": "ok", "objects": ...}}``."""
    state: ServerState | None = getattr(request.app.state, "loxo", None)
    if state is None:  # the lifespan has not opened the store yet
        return _answer({"server": "starting"})
    store = state.client.pfs.store
    readiness: Readiness = request.app.state.readiness
    return _answer(readiness.run(store.db, store.objects))


def _answer(checks: dict[str, Any]) -> JSONResponse:
    ready = all(v == "ok" for v in checks.values())
    body = {"status": "ready" if ready else "unavailable", "checks": checks}
    return JSONResponse(body, status_code=200 if ready else 503)
