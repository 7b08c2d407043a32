"""Who runs a job: a lease in the database, renewed by a heartbeat.

A runner claims a job before running it; while it runs, a background thread renews the
lease every few seconds. A job whose runner was killed stops beating, and after
``LEASE`` seconds any controller may claim it and resume it — so a crash never leaves a
pipeline wedged behind a job that claims to be running, and two processes never run the
same job at once.
"""

from __future__ import annotations

import os
import socket
import threading
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any

from sqlalchemy import or_, select, update

from loxo.meta import schema
from loxo.meta.db import as_utc, utcnow
from loxo.model.jobs import JobState
from loxo.pfs import Pfs

LEASE = 30.0
BEAT = 5.0
J = schema.jobs
_CLAIMABLE = (JobState.CREATED.value, JobState.STARTING.value)


def me() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def stale_before() -> datetime:
    return utcnow() - timedelta(seconds=LEASE)


def died_here(owner: str | None) -> bool:
    """Whether ``owner`` was a process on this machine that no longer runs: its lease
    need not be waited out (a server restarted after a crash resumes at once)."""
    host, _, pid = (owner or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, someone else's
        return False
    return False


def _expired() -> Any:
    return or_(J.c.heartbeat_at.is_(None), J.c.heartbeat_at < stale_before())


def claim(pfs: Pfs, job_pk: int) -> bool:
    """Take the job if it is waiting, or running under an expired lease or for a process
    of this machine that died."""
    now = utcnow()
    with pfs.store.db.write() as conn:
        owner = conn.execute(select(J.c.owner).where(J.c.pk == job_pk)).scalar()
        running = J.c.state == JobState.RUNNING.value
        lapsed = or_(_expired(), J.c.owner == owner) if died_here(owner) else _expired()
        result = conn.execute(
            update(J).where(J.c.pk == job_pk, or_(J.c.state.in_(_CLAIMABLE), running & lapsed))
            .values(owner=me(), heartbeat_at=now)
        )
        return bool(result.rowcount)


def abandoned(pfs: Pfs) -> list[int]:
    """Jobs running under an expired lease, or for a dead process of this machine."""
    with pfs.store.db.read() as conn:
        rows = conn.execute(select(J.c.pk, J.c.owner, J.c.heartbeat_at).where(
            J.c.state == JobState.RUNNING.value).order_by(J.c.pk)).all()
    stale = stale_before()
    return [r.pk for r in rows
            if r.heartbeat_at is None or as_utc(r.heartbeat_at) < stale or died_here(r.owner)]


class Heartbeat:
    """Renews a job's lease in the background while the ``with`` block runs."""

    def __init__(self, pfs: Pfs, job_pk: int) -> None:
        self.pfs = pfs
        self.job_pk = job_pk
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._thread.join()

    def _beat(self) -> None:
        while not self._stop.wait(BEAT):
            with self.pfs.store.db.write() as conn:
                conn.execute(update(J).where(J.c.pk == self.job_pk, J.c.owner == me())
                             .values(heartbeat_at=utcnow()))
