"""Errors cross the wire in one JSON shape: ``{"error": {"code": ..., "message": ...}}``.

The status comes from the ``LoxoError`` class; the remote client maps ``code`` back to
the same class. Anything unexpected is logged with its traceback and answered with a
500 that carries no trace.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.routing import Match

from loxo.errors import LoxoError

log = structlog.get_logger("loxo.server")


def error_response(status: int, code: str, message: str,
                   headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status,
                        headers=headers)


def _validation_message(exc: RequestValidationError) -> str:
    problems: list[str] = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "request"
        problems.append(f"{where}: {err.get('msg', 'invalid')}")
    return "; ".join(problems) or "invalid request"


def _allowed_methods(request: Request) -> str:
    """Every method some route serves at this path (Starlette names only the first
    route's, and loxo serves e.g. ``GET`` and ``POST /v1/repos`` from two routes)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches({**request.scope, "method": "GET"})
        if match != Match.NONE:
            methods.update(getattr(route, "methods", None) or ())
    return ", ".join(sorted(methods))


def install(app: FastAPI) -> None:
    @app.exception_handler(LoxoError)
    async def loxo_error(_request: Request, exc: LoxoError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(400, "invalid_argument", _validation_message(exc))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        code = "not_found" if exc.status_code == 404 else "http_error"
        # keep the headers the status needs (401's ``WWW-Authenticate``, 405's ``Allow``)
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = _allowed_methods(request)
        return error_response(exc.status_code, code, str(exc.detail), headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", path=request.url.path, error=type(exc).__name__)
        return error_response(500, "internal", "internal server error; the server log has details")


class ErrorDetail(BaseModel):
    code: str  # stable: the remote client maps it back to its LoxoError class
    message: str


class ErrorBody(BaseModel):
    """What every error answer carries."""

    error: ErrorDetail


ERROR_SCHEMA: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "bad input (code says which)"},
    404: {"model": ErrorBody, "description": "not found (code says what)"},
    409: {"model": ErrorBody, "description": "conflict"},
    # declared, so the document does not promise FastAPI's 422 (loxo answers 400)
    "4XX": {"model": ErrorBody, "description": "other client errors (401, 403, 405 ...)"},
    503: {"model": ErrorBody, "description": "the metadata database or object store is unavailable"},
}
