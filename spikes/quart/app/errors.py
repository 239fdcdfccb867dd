"""One error body for everything, Quart's own pages included: {"error": code, "detail": msg}."""

import contextlib
from typing import Any

from pydantic import ValidationError
from quart import Quart, Response, request
from quart_schema import RequestSchemaValidationError
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, ProgrammingError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

# Codes the contract names; any other status gets a slug of its HTTP reason phrase.
_HTTP_CODES = {
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}

ErrorResponse = tuple[dict[str, str], int, dict[str, str]]


class ApiError(Exception):
    """An expected failure that maps straight onto a contract error response."""

    def __init__(
        self, status: int, code: str, detail: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail, self.headers = status, code, detail, headers or {}


class NotAuthenticated(ApiError):
    def __init__(self, detail: str = "not authenticated") -> None:
        super().__init__(401, "not_authenticated", detail, {"WWW-Authenticate": "Bearer"})


class NotFound(ApiError):
    def __init__(self, detail: str = "not found") -> None:
        super().__init__(404, "not_found", detail)


def error_response(
    status: int, code: str, detail: str, headers: dict[str, str] | None = None
) -> ErrorResponse:
    # User input can echo into detail (an unknown field name holding a lone surrogate).
    detail = detail.encode("utf-8", "replace").decode("utf-8")
    return {"error": code, "detail": detail}, status, headers or {}


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(p) for p in err["loc"]) or "body"
        message = "must be a JSON object" if err["type"] == "model_type" else err["msg"]
        parts.append(f"{where}: {message}")
    return "; ".join(parts)


def register_error_handlers(app: Quart) -> None:
    @app.after_request
    async def drain_request_body(response: Response) -> Response:
        # An answer given before the handler read the body (a 503 while the database is down):
        # Hypercorn then closes the keep-alive connection without saying Connection: close, and
        # a client that reuses it sees a disconnect instead of an answer. Read what is left.
        with contextlib.suppress(Exception):
            await request.get_data()
        return response

    @app.errorhandler(ApiError)
    async def handle_api_error(exc: ApiError) -> ErrorResponse:
        return error_response(exc.status, exc.code, exc.detail, exc.headers)

    @app.errorhandler(ValidationError)
    async def handle_validation_error(exc: ValidationError) -> ErrorResponse:
        return error_response(422, "validation_error", _describe(exc))

    @app.errorhandler(RequestSchemaValidationError)
    async def handle_schema_error(exc: RequestSchemaValidationError) -> ErrorResponse:
        # quart-schema answers 400 by default; the contract's validation status is 422.
        error: Any = exc.validation_error
        detail = _describe(error) if isinstance(error, ValidationError) else str(error)
        return error_response(422, "validation_error", detail)

    @app.errorhandler(DBAPIError)
    @app.errorhandler(PoolTimeout)
    @app.errorhandler(OSError)
    async def handle_database_down(exc: Exception) -> ErrorResponse:
        """The database went away (restart, network): a 503 the client may retry, not a 500.
        SQLAlchemy invalidates the broken connections, so later requests reconnect. asyncpg's
        connection errors arrive as a bare DBAPIError; errors about data or SQL are bugs."""
        if isinstance(exc, IntegrityError | DataError | ProgrammingError):
            return await handle_unexpected(exc)
        return error_response(503, "database_unavailable", "database is unreachable")

    @app.errorhandler(HTTPException)
    async def handle_http_exception(exc: HTTPException) -> ErrorResponse:
        """Keep Werkzeug's status and headers (e.g. Allow on 405), replace the HTML body."""
        status = exc.code or 500
        code = _HTTP_CODES.get(status) or (exc.name or "error").lower().replace(" ", "_")
        headers = {k: v for k, v in exc.get_headers() if k.lower() != "content-type"}
        return error_response(status, code, exc.description or exc.name, headers)

    @app.errorhandler(Exception)
    async def handle_unexpected(exc: Exception) -> ErrorResponse:
        """Keep even a bug's 500 in the contract shape (the traceback is still logged)."""
        app.logger.exception("unhandled error", exc_info=exc)
        return error_response(500, "internal_error", "internal server error")
