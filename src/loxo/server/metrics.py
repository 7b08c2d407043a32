"""Prometheus metrics at ``/metrics``, in a registry of the app's own (several apps in one
process, as in tests, never share or collide).

What is exported:

- ``loxo_http_requests_total{method,route,status}`` and
  ``loxo_http_request_duration_seconds{method,route}``: every request, labelled by the
  route *template* (``/v1/repos/{repo}``), never the raw path, so the number of series
  stays bounded; a request no route matched is ``route="unmatched"``.
- The store's work, read from the metadata database at scrape time (``loxo.server.
  store_metrics``): datums by outcome, datum timings, jobs by state, repo sizes.
- ``process_*`` / ``python_*``: the server process itself.

Every request also leaves one ``request`` log line (``loxo.server.logs.log_request``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from loxo.meta.db import Database
from loxo.server.logs import log_request
from loxo.server.store_metrics import StoreCollector

UNMATCHED = "unmatched"

router = APIRouter(tags=["operations"])


class HttpMetrics:
    """Request counts and latencies, by route template."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter("loxo_http_requests_total", "HTTP requests answered.",
                                ["method", "route", "status"], registry=registry)
        self.latency = Histogram("loxo_http_request_duration_seconds",
                                 "Time from request to the last byte of the answer.",
                                 ["method", "route"], registry=registry)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)


class ObserveRequests:
    """Pure ASGI middleware: time each request to its last byte (streamed bodies
    included), then count it and log it under its route template."""

    def __init__(self, app: ASGIApp, http: HttpMetrics) -> None:
        self.app = app
        self.http = http

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets if the app raises before answering

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            seconds = time.perf_counter() - started
            route = route_template(scope)
            self.http.observe(scope["method"], route, status, seconds)
            log_request(scope["method"], route, scope["path"], status, seconds)


def route_template(scope: Scope) -> str:
    """The path pattern of the route that answered (routing leaves it in the scope)."""
    route: Any = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return template if isinstance(template, str) else UNMATCHED


class Metrics:
    """One app's registry: HTTP metrics, the store's, the process's."""

    def __init__(self, db: Callable[[], Database | None]) -> None:
        self.registry = CollectorRegistry()
        self.http = HttpMetrics(self.registry)
        self.store = StoreCollector(db)
        self.registry.register(self.store)
        for collector in (ProcessCollector, PlatformCollector, GCCollector):
            collector(registry=self.registry)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def install(app: FastAPI) -> None:
    """Count and log every request of ``app`` and serve ``/metrics``. The store's metrics
    read the database of the app's ``ServerState`` once the app has started."""

    def db() -> Database | None:
        state = getattr(app.state, "loxo", None)
        return None if state is None else state.client.pfs.store.db

    app.state.metrics = Metrics(db)
    app.add_middleware(ObserveRequests, http=app.state.metrics.http)
    app.include_router(router)


@router.get("/metrics", response_class=Response)
def metrics(request: Request) -> Response:
    """Prometheus text format. Sync on purpose: a scrape reads the database, so it runs
    in the thread pool, not on the event loop."""
    exported: Metrics = request.app.state.metrics
    return Response(exported.exposition(), media_type=CONTENT_TYPE_LATEST)
