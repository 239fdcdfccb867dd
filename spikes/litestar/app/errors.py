"""Every error, the framework's own 404/405/400 included, as {"error": code, "detail": text}."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from litestar import Request, Response
from litestar.exceptions import (
    ClientException,
    HTTPException,
    MethodNotAllowedException,
    NotAuthorizedException,
    NotFoundException,
    ValidationException,
)
from litestar.status_codes import HTTP_409_CONFLICT, HTTP_500_INTERNAL_SERVER_ERROR
from litestar.types import ExceptionHandlersMap
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, ProgrammingError
from sqlalchemy.exc import TimeoutError as PoolTimeout

logger = logging.getLogger(__name__)

ERROR_CODES = {
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


class InvalidCredentialsException(NotAuthorizedException):
    """Login with an unknown username or a wrong password."""

    error_code = "invalid_credentials"


class UsernameTakenException(ClientException):
    status_code = HTTP_409_CONFLICT


def error_response(
    status_code: int, detail: str, code: str | None = None, headers: dict[str, str] | None = None
) -> Response[dict[str, str]]:
    if code is None:  # by status; one the contract does not name (e.g. 413) gets its phrase
        code = ERROR_CODES.get(status_code) or HTTPStatus(status_code).phrase.lower()
        code = code.replace(" ", "_")
    headers = dict(headers or {})
    if status_code == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return Response(
        {"error": code, "detail": detail},
        status_code=status_code,
        headers=headers,
    )


def http_exception_handler(_: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    return error_response(
        exc.status_code, exc.detail, getattr(exc, "error_code", None), exc.headers
    )


def validation_exception_handler(
    _: Request[Any, Any, Any], exc: ValidationException
) -> Response[Any]:
    """422, not Litestar's default 400; the per-field messages go into the detail text."""
    detail = exc.detail
    if isinstance(exc.extra, list) and exc.extra:
        detail = "; ".join(
            f"{e.get('key', '?')}: {e.get('message', '')}" if isinstance(e, dict) else str(e)
            for e in exc.extra
        )
    return error_response(422, detail)


def database_down_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """The database went away (restart, network): a 503 the client may retry, not a 500.
    SQLAlchemy invalidates the broken pool connections, so later requests reconnect."""
    # asyncpg's connection errors ("shutting down", "starting up") arrive as a bare
    # DBAPIError; only errors about the data or the SQL are a bug (500).
    if isinstance(exc, IntegrityError | DataError | ProgrammingError):
        return internal_error_handler(request, exc)
    return error_response(503, "Database unavailable", "database_unavailable")


def internal_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    logger.error("Unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(HTTP_500_INTERNAL_SERVER_ERROR, "Internal server error", "internal_error")


exception_handlers: ExceptionHandlersMap = {
    ValidationException: validation_exception_handler,
    # The router's own 404 and 405 (which carries its Allow header) are HTTPExceptions too;
    # listed for the reader.
    NotFoundException: http_exception_handler,
    MethodNotAllowedException: http_exception_handler,
    HTTPException: http_exception_handler,
    DBAPIError: database_down_handler,
    PoolTimeout: database_down_handler,
    OSError: database_down_handler,
    Exception: internal_error_handler,
}
