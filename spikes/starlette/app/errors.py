"""Every error, Starlette's own 404/405 included, is {"error": code, "detail": text}."""

import logging
from http import HTTPStatus

from pydantic import ValidationError
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, ProgrammingError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ExceptionHandler

logger = logging.getLogger(__name__)

# Default code per status, for HTTPExceptions raised by Starlette itself (router, `requires`).
CODES = {
    400: "malformed_json",
    401: "not_authenticated",
    404: "not_found",
    405: "method_not_allowed",
    409: "username_taken",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    503: "database_unavailable",
}


class ApiError(HTTPException):
    """An HTTPException that names its contract error code (401 has two of them)."""

    def __init__(self, status_code: int, code: str, detail: str) -> None:
        super().__init__(status_code=status_code, detail=detail)
        self.code = code


def error_response(
    status_code: int, code: str, detail: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    headers = dict(headers or {})
    if status_code == 401:
        headers["WWW-Authenticate"] = "Bearer"
    # User input can echo into detail (e.g. an unknown field name holding a lone surrogate).
    detail = detail.encode("utf-8", "replace").decode("utf-8")
    return JSONResponse({"error": code, "detail": detail}, status_code, headers=headers)


async def http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    code = getattr(exc, "code", None) or CODES.get(status) or HTTPStatus(status).name.lower()
    return error_response(status, code, exc.detail, exc.headers)  # keeps a 405's Allow


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ValidationError)
    detail = "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or 'body'}: {error['msg']}"
        for error in exc.errors()
    )
    return error_response(422, "validation_error", detail)


async def database_down(request: Request, exc: Exception) -> JSONResponse:
    """The database went away (restart, network): a 503 the client may retry, not a 500.
    SQLAlchemy invalidates the broken pool connections, so later requests reconnect."""
    # asyncpg's connection errors arrive as a bare DBAPIError; errors about the data or the
    # SQL are a bug (500).
    if isinstance(exc, IntegrityError | DataError | ProgrammingError):
        return await internal_error(request, exc)
    return error_response(503, "database_unavailable", "database is unreachable")


async def internal_error(request: Request, exc: Exception) -> JSONResponse:
    """Keep even a bug's 500 in the contract shape."""
    logger.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal_error", "internal server error")


exception_handlers: dict[type[Exception], ExceptionHandler] = {
    HTTPException: http_exception,
    ValidationError: validation_error,
    DBAPIError: database_down,
    PoolTimeout: database_down,
    OSError: database_down,
    Exception: internal_error,
}
