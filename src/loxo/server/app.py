"""The FastAPI application: routes, error handling, and the controller's lifetime."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

import loxo
from loxo.server import errors, health, metrics, routes_auth, routes_pfs, routes_pps
from loxo.server.config import ServerConfig
from loxo.server.state import ServerState


def create_app(config: ServerConfig, *, run_controller: bool = True) -> FastAPI:
    """The API over the store ``config`` names. The controller thread starts with the
    app (``run_controller=False`` leaves jobs to someone else, e.g. a test)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = ServerState.open(config)
        app.state.loxo = state
        if run_controller:
            state.controller.start()
            state.changed()  # resume what a previous server left unfinished
        try:
            yield
        finally:
            state.close()

    app = FastAPI(title="loxo", version=loxo.__version__, lifespan=lifespan,
                  description="Version-controlled data and reproducible pipelines.")
    errors.install(app)
    health.install(app)
    metrics.install(app)  # counts and logs every request, and serves /metrics
    app.include_router(routes_pfs.router)
    app.include_router(routes_pps.router)
    app.include_router(routes_auth.router)
    return app
