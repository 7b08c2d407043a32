"""Errors cross the wire in one JSON shape: ``{"error": {"code": ..., "message": ...}}``.

The status comes from the ``LoxoError`` class; the remote client maps ``code`` back to
the same class. Anything unexpected is logged with its traceback and answered with a
500 that carries no trace.
"""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from loxo.errors import LoxoError

log = structlog.get_logger("loxo.server")


def error_response(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def _validation_message(exc: RequestValidationError) -> str:
    problems: list[str] = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body") or "request"
        problems.append(f"{where}: {err.get('msg', 'invalid')}")
    return "; ".join(problems) or "invalid request"


def install(app: FastAPI) -> None:
    @app.exception_handler(LoxoError)
    async def loxo_error(_request: Request, exc: LoxoError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(400, "invalid_argument", _validation_message(exc))

    @app.exception_handler(HTTPException)
    async def http_error(_request: Request, exc: HTTPException) -> JSONResponse:
        code = "not_found" if exc.status_code == 404 else "http_error"
        return error_response(exc.status_code, code, str(exc.detail))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", path=request.url.path, error=type(exc).__name__)
        return error_response(500, "internal", "internal server error; the server log has details")


ERROR_SCHEMA: dict[int | str, dict[str, Any]] = {
    400: {"description": "bad input (code says which)"},
    404: {"description": "not found (code says what)"},
    409: {"description": "conflict"},
}
