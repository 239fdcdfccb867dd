"""Every error, framework-generated 404/405/422 included, is {"error": code, "detail": text}."""

import functools
import re
from http import HTTPStatus

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, ProgrammingError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

# Default code per status, for exceptions raised by Starlette/FastAPI themselves.
_CODES = {
    400: "malformed_json",
    401: "not_authenticated",
    413: "payload_too_large",
    415: "unsupported_media_type",
    404: "not_found",
    405: "method_not_allowed",
    409: "username_taken",
    422: "validation_error",
    503: "database_unavailable",
}


class ApiError(StarletteHTTPException):
    """An HTTPException that names its contract error code (401 has two of them)."""

    def __init__(
        self, status_code: int, code: str, detail: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(status_code=status_code, detail=detail, headers=headers)
        self.code = code


def error_response(
    status_code: int, code: str, detail: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    headers = dict(headers or {})
    if status_code == 401:
        headers.setdefault("WWW-Authenticate", "Bearer")
    # User input can echo into detail (e.g. an unknown field name holding a lone surrogate).
    detail = detail.encode("utf-8", "replace").decode("utf-8")
    return JSONResponse({"error": code, "detail": detail}, status_code, headers=headers)


@functools.cache
def _path_methods(app: FastAPI) -> list[tuple[re.Pattern[str], set[str]]]:
    paths = app.openapi()["paths"]
    return [
        (re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "$"), {m.upper() for m in ops})
        for path, ops in paths.items()
    ]


def _allowed_methods(request: Request) -> str:
    """Starlette's 405 lists only the first route that matched the path (GET /items, not
    POST); the contract's Allow header lists every method of the path (from the OpenAPI)."""
    methods: set[str] = set()
    for pattern, path_methods in _path_methods(request.app):
        if pattern.match(request.url.path):
            methods |= path_methods
    return ", ".join(sorted(methods))


async def http_exception_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    code = getattr(exc, "code", None) or _CODES.get(status) or HTTPStatus(status).name.lower()
    headers = dict(exc.headers or {})
    if status == 405:
        headers["Allow"] = _allowed_methods(request)
    return error_response(status, code, str(exc.detail), headers)


async def validation_exception_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if any(error["type"] == "json_invalid" for error in errors):
        return error_response(400, "malformed_json", "request body is not valid JSON")
    detail = "; ".join(
        f"{'.'.join(str(part) for part in error['loc'])}: {error['msg']}" for error in errors
    )
    return error_response(422, "validation_error", detail)


async def database_down_handler(request: Request, exc: Exception) -> JSONResponse:
    """The database went away (restart, network): a 503 the client may retry, not a 500.
    SQLAlchemy invalidates the broken pool connections, so later requests reconnect."""
    # asyncpg's connection errors ("shutting down", "starting up") arrive as a bare
    # DBAPIError; only errors about the data or the SQL are a bug (500).
    if isinstance(exc, IntegrityError | DataError | ProgrammingError):
        return await unhandled_exception_handler(request, exc)
    return error_response(503, "database_unavailable", "database is unreachable")


async def unhandled_exception_handler(request: Request, exc: Exception) -> JSONResponse:
    """Keep even a bug's 500 in the contract shape (Starlette still logs the traceback)."""
    return error_response(500, "internal_error", "internal server error")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(StarletteHTTPException, http_exception_handler)
    app.add_exception_handler(RequestValidationError, validation_exception_handler)
    for db_error in (DBAPIError, PoolTimeout, OSError):
        app.add_exception_handler(db_error, database_down_handler)
    app.add_exception_handler(Exception, unhandled_exception_handler)
