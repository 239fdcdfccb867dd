"""One error body for everything, Sanic's own 404/405/413 included: {"error", "detail"}."""

from http import HTTPStatus

from pydantic import ValidationError
from sanic import Request, Sanic
from sanic.exceptions import MethodNotAllowed, SanicException
from sanic.log import error_logger
from sanic.response import HTTPResponse, json
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, ProgrammingError
from sqlalchemy.exc import TimeoutError as PoolTimeout

# Contract codes for the statuses Sanic raises itself.
_CODES = {
    400: "malformed_json",
    401: "not_authenticated",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    503: "database_unavailable",
}


class ApiError(SanicException):
    """A SanicException that names its contract error code (401 has two of them)."""

    def __init__(
        self, status: int, code: str, detail: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail, status_code=status, headers=headers, quiet=True)
        self.code = code


class NotAuthenticated(ApiError):
    def __init__(self, detail: str = "not authenticated") -> None:
        super().__init__(401, "not_authenticated", detail)


class NotFound(ApiError):
    def __init__(self, detail: str = "not found") -> None:
        super().__init__(404, "not_found", detail)


def error_response(
    status: int, code: str, detail: str, headers: dict[str, str] | None = None
) -> HTTPResponse:
    headers = dict(headers or {})
    if status == 401:
        headers.setdefault("WWW-Authenticate", "Bearer")
    # User input can echo into detail (an unknown field name holding a lone surrogate).
    detail = detail.encode("utf-8", "replace").decode("utf-8")
    return json({"error": code, "detail": detail}, status=status, headers=headers)


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(p) for p in err["loc"]) or "body"
        message = "must be a JSON object" if err["type"] == "model_type" else err["msg"]
        parts.append(f"{where}: {message}")
    return "; ".join(parts)


def register_error_handlers(app: Sanic) -> None:
    @app.exception(SanicException)
    async def handle_sanic_exception(request: Request, exc: SanicException) -> HTTPResponse:
        """Ours and Sanic's own (NotFound, MethodNotAllowed with its Allow header, ...)."""
        if isinstance(exc, MethodNotAllowed) and request.path.endswith("/"):
            # Sanic's router checks the method before strict_slashes: DELETE /me/ would be a
            # 405, but a trailing slash names nothing (contract).
            return error_response(404, "not_found", f"{request.path} names nothing")
        status = exc.status_code
        code = getattr(exc, "code", None) or _CODES.get(status) or HTTPStatus(status).name.lower()
        return error_response(status, code, str(exc), exc.headers)

    @app.exception(ValidationError)
    async def handle_validation_error(request: Request, exc: ValidationError) -> HTTPResponse:
        return error_response(422, "validation_error", _describe(exc))

    @app.exception(DBAPIError, PoolTimeout, OSError)
    async def handle_database_down(request: Request, exc: Exception) -> HTTPResponse:
        """The database went away (restart, network): a 503 the client may retry, not a 500.
        SQLAlchemy invalidates the broken connections, so later requests reconnect. asyncpg's
        connection errors arrive as a bare DBAPIError; errors about data or SQL are bugs."""
        if isinstance(exc, IntegrityError | DataError | ProgrammingError):
            return await handle_unexpected(request, exc)
        return error_response(503, "database_unavailable", "database is unreachable")

    @app.exception(Exception)
    async def handle_unexpected(request: Request, exc: Exception) -> HTTPResponse:
        """Keep even a bug's 500 in the contract shape (the traceback is still logged)."""
        error_logger.exception("unhandled error", exc_info=exc)
        return error_response(500, "internal_error", "internal server error")
