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
from datetime import timedelta
from types import TracebackType

from sqlalchemy import or_, select, update

from loxo.meta import schema
from loxo.meta.db import utcnow
from loxo.model.jobs import JobState
from loxo.pfs import Pfs

LEASE = 30.0
BEAT = 5.0
J = schema.jobs
_CLAIMABLE = (JobState.CREATED.value, JobState.STARTING.value)


def me() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def stale_before() -> object:
    return utcnow() - timedelta(seconds=LEASE)


def claim(pfs: Pfs, job_pk: int) -> bool:
    """Take the job if it is waiting, or running under an expired lease."""
    now = utcnow()
    with pfs.store.db.write() as conn:
        result = conn.execute(
            update(J).where(
                J.c.pk == job_pk,
                or_(
                    J.c.state.in_(_CLAIMABLE),
                    (J.c.state == JobState.RUNNING.value)
                    & or_(J.c.heartbeat_at.is_(None), J.c.heartbeat_at < stale_before()),
                ),
            ).values(owner=me(), heartbeat_at=now)
        )
        return bool(result.rowcount)


def abandoned(pfs: Pfs) -> list[int]:
    """Jobs running under an expired lease (their runner died)."""
    with pfs.store.db.read() as conn:
        rows = conn.execute(select(J.c.pk).where(
            J.c.state == JobState.RUNNING.value,
            or_(J.c.heartbeat_at.is_(None), J.c.heartbeat_at < stale_before()),
        ).order_by(J.c.pk))
        return [r.pk for r in rows]


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
