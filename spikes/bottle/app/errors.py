"""One error body for everything, Bottle's own pages included: {"error": code, "detail": msg}."""

import json
from decimal import Decimal
from typing import Any, TypeVar

from bottle import HTTPError, request, response
from pydantic import BaseModel, ValidationError

MAX_BODY_BYTES = 65_536
M = TypeVar("M", bound=BaseModel)
# Codes the contract names; any other status gets a slug of its HTTP reason phrase.
_HTTP_CODES = {
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


class ApiError(HTTPError):
    """An expected failure that maps straight onto a contract error response."""

    def __init__(
        self, status: int, code: str, detail: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(status, detail, headers=headers)
        self.code = code


class NotAuthenticated(ApiError):
    def __init__(self, detail: str = "not authenticated") -> None:
        super().__init__(401, "not_authenticated", detail, {"WWW-Authenticate": "Bearer"})


class NotFound(ApiError):
    def __init__(self, detail: str = "not found") -> None:
        super().__init__(404, "not_found", detail)


def json_error_page(error: HTTPError) -> str:
    """Bottle's error handler: its status and headers (Allow on a 405) stay, the body is JSON."""
    code = getattr(error, "code", None) or _HTTP_CODES.get(error.status_code)
    if code is None:
        code = error.status_line.split(" ", 1)[-1].lower().replace(" ", "_")
    response.content_type = "application/json"
    return json.dumps({"error": code, "detail": str(error.body)})


def validate(model: type[M], data: Any) -> M:
    """The pydantic model of `data`, or the contract's 422."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ApiError(422, "validation_error", _describe(exc)) from None


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(p) for p in err["loc"]) or "body"
        message = "must be a JSON object" if err["type"] == "model_type" else err["msg"]
        parts.append(f"{where}: {message}")
    return "; ".join(parts)


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON (RFC 8259)")


def json_body() -> Any:
    """The parsed request body (Bottle's request.json would parse floats and accept NaN).

    Numbers are parsed as Decimal so a price like 12.345 is seen exactly and a 5,000-digit
    literal is a range error (422), not Python's int-digits guard. An empty body is None, which
    the model rejects as a 422 (a missing body); a body that is not `application/json` is a 415;
    unparseable or non-UTF-8 JSON is a 400; nesting deeper than the parser follows is a 422.
    """
    if request.content_length > MAX_BODY_BYTES:
        raise ApiError(413, "payload_too_large", "request body is larger than 65536 bytes")
    raw = request.body.read(MAX_BODY_BYTES + 1)
    if len(raw) > MAX_BODY_BYTES:
        raise ApiError(413, "payload_too_large", "request body is larger than 65536 bytes")
    if not raw:
        return None
    if request.content_type.split(";", 1)[0].strip() != "application/json":
        raise ApiError(415, "unsupported_media_type", "request body must be application/json")
    try:
        return json.loads(
            raw.decode("utf-8"),
            parse_float=Decimal,
            parse_int=Decimal,
            parse_constant=_not_json,
        )
    except RecursionError:
        raise ApiError(422, "validation_error", "body: JSON nested too deeply") from None
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        raise ApiError(400, "malformed_json", "request body is not valid JSON") from None
