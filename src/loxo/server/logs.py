"""Structured server logs (structlog): one JSON object per line, with job and datum ids
as fields, or readable text for a terminal.

Lines the server writes: ``request`` (method, route template, path, status, ms) for
every HTTP request; from the controller ``job started`` / ``job finished`` (pipeline,
job, state) and, after a failed job, ``datum failed`` (pipeline, job, datum, error).
"""

from __future__ import annotations

import logging
import sys

import structlog
from sqlalchemy import func, select

from loxo.meta import schema
from loxo.meta.db import Database
from loxo.model.jobs import DatumState, JobState


def configure_logging(json_lines: bool = True, level: int = logging.INFO) -> None:
    """Route structlog and the standard library (uvicorn's loggers) to stderr."""
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if json_lines else structlog.dev.ConsoleRenderer(colors=False)
    )
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.stdlib.add_logger_name,  # "loxo.http", "loxo.controller", "uvicorn.error"...
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        processor=renderer, foreign_pre_chain=shared,
    ))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


# -- lines the server writes -----------------------------------------------------------
_QUIET_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})  # polled every few seconds
_FAILED_SHOWN = 20  # failed datums named per job; the rest are counted
_ERROR_CHARS = 500

_requests = structlog.get_logger("loxo.http")
_jobs = structlog.get_logger("loxo.controller")


def log_request(method: str, route: str, path: str, status: int, seconds: float) -> None:
    """One line per request: probes and scrapes at debug, so they do not drown the rest."""
    level = logging.DEBUG if route in _QUIET_ROUTES else logging.INFO
    _requests.log(level, "request", method=method, route=route, path=path, status=status,
                  ms=round(seconds * 1000, 1))


def log_failed_datums(db: Database, pipeline: str, job: str, state: JobState) -> None:
    """After a job that did not succeed: a line per failed datum (the first few), with
    its error, so the datum ids are in the log next to ``job finished``."""
    if state is JobState.SUCCESS:
        return
    J, D, P = schema.jobs, schema.datums, schema.pipelines
    with db.read() as conn:
        job_pk = conn.execute(select(J.c.pk).join(P, P.c.id == J.c.pipeline_id).where(
            P.c.name == pipeline, J.c.id == job)).scalar()
        failed = D.c.state == DatumState.FAILED.value
        rows = conn.execute(select(D.c.datum_id, D.c.error).where(D.c.job_pk == job_pk, failed)
                            .order_by(D.c.pk).limit(_FAILED_SHOWN)).all()
        total = conn.execute(select(func.count()).select_from(D)
                             .where(D.c.job_pk == job_pk, failed)).scalar_one()
    for row in rows:
        _jobs.warning("datum failed", pipeline=pipeline, job=job, datum=row.datum_id,
                      error=row.error[:_ERROR_CHARS])
    if total > len(rows):
        _jobs.warning("more datums failed", pipeline=pipeline, job=job, failed=total,
                      shown=len(rows))
