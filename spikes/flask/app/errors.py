"""One error body for everything, Flask's own pages included: {"error": code, "detail": msg}."""

import contextlib
from typing import Any

from flask import Flask, Response, jsonify, request
from pydantic import ValidationError
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import BadRequest, HTTPException

from .db import db_session

MAX_BODY_BYTES = 65_536
# Codes the contract names; any other status gets a slug of its HTTP reason phrase.
_HTTP_CODES = {
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


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


def error_response(status: int, code: str, detail: str) -> tuple[Response, int]:
    return jsonify(error=code, detail=detail), status


def json_body() -> Any:
    """The parsed request body.

    An empty body is None, which the pydantic model then rejects as a 422 (the contract calls
    it a missing body, not malformed JSON); a body that is not `application/json` is a 415;
    unparseable JSON is a 400; nesting deeper than the parser follows is a 422.
    """
    if not request.get_data():  # over MAX_CONTENT_LENGTH this raises the 413
        return None
    if request.mimetype != "application/json":  # is_json would also take +json types
        raise ApiError(415, "unsupported_media_type", "request body must be application/json")
    try:
        return request.get_json(force=True)
    except BadRequest:
        raise ApiError(400, "malformed_json", "request body is not valid JSON") from None
    except RecursionError:
        raise ApiError(422, "validation_error", "body: JSON nested too deeply") from None


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(p) for p in err["loc"]) or "body"
        message = "must be a JSON object" if err["type"] == "model_type" else err["msg"]
        parts.append(f"{where}: {message}")
    return "; ".join(parts)


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def handle_api_error(exc: ApiError) -> tuple[Response, int, dict[str, str]]:
        body, status = error_response(exc.status, exc.code, exc.detail)
        return body, status, exc.headers

    @app.errorhandler(ValidationError)
    def handle_validation_error(exc: ValidationError) -> tuple[Response, int]:
        return error_response(422, "validation_error", _describe(exc))

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    @app.errorhandler(PoolTimeout)
    def handle_database_down(exc: Exception) -> tuple[Response, int]:
        """The database went away (restart, network): a 503 the client may retry, not a 500.
        The pool drops the broken connections, so the next request reconnects."""
        with contextlib.suppress(SQLAlchemyError):
            db_session.rollback()
        return error_response(503, "database_unavailable", "database is unreachable")

    @app.errorhandler(HTTPException)
    def handle_http_exception(exc: HTTPException) -> Response:
        """Keep Werkzeug's status and headers (e.g. Allow on 405), replace the HTML body."""
        response = exc.get_response()
        status = exc.code or 500
        code = _HTTP_CODES.get(status) or (exc.name or "error").lower().replace(" ", "_")
        response.set_data(app.json.dumps({"error": code, "detail": exc.description}))
        response.content_type = "application/json"
        return response
