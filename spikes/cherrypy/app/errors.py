"""One error body for everything, CherryPy's own pages included: {"error": code, "detail": msg}."""

import json
import sys
from typing import Any

import cherrypy

from .db import DATABASE_DOWN

# Codes the contract names; any other status gets a slug of its HTTP reason phrase.
_HTTP_CODES = {
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def _json(code: str, detail: str) -> bytes:
    cherrypy.response.headers["Content-Type"] = "application/json"
    return json.dumps({"error": code, "detail": detail}).encode()


class ApiError(cherrypy.HTTPError):
    """An expected failure that maps straight onto a contract error response."""

    def __init__(
        self, status: int, code: str, detail: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(status, detail)
        self.code, self.detail, self.headers = code, detail, headers or {}

    def set_response(self) -> None:
        super().set_response()  # status; CherryPy's page (padded for old IE) is replaced below
        response = cherrypy.serving.response
        response.headers.update(self.headers)
        response.headers.pop("Content-Length", None)
        response.body = _json(self.code, self.detail)


class NotAuthenticated(ApiError):
    def __init__(self, detail: str = "not authenticated") -> None:
        super().__init__(401, "not_authenticated", detail, {"WWW-Authenticate": "Bearer"})


class NotFound(ApiError):
    def __init__(self, detail: str = "not found") -> None:
        super().__init__(404, "not_found", detail)


def error_page(status: str, message: str, traceback: str, version: str) -> bytes:
    """`error_page.default`: CherryPy's own errors (404, 405, …) as the contract's JSON."""
    code_number, _, reason = status.partition(" ")
    code = _HTTP_CODES.get(int(code_number)) or reason.lower().replace(" ", "_")
    return _json(code, message)


def error_response() -> None:
    """`request.error_response`: an unexpected exception. A database that went away (restart,
    network) is a 503 the client may retry; the pool drops the broken connections."""
    exc: Any = sys.exc_info()[1]
    if isinstance(exc, DATABASE_DOWN):
        ApiError(503, "database_unavailable", "database is unreachable").set_response()
    else:
        ApiError(500, "internal_error", "internal server error").set_response()
