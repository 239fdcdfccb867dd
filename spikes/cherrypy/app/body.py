"""The request body as the contract reads it (tools.json_in would parse floats and take NaN)."""

import json
from decimal import Decimal
from typing import Any, TypeVar

import cherrypy
from pydantic import BaseModel, ValidationError

from .errors import ApiError

MAX_BODY_BYTES = 65_536
M = TypeVar("M", bound=BaseModel)


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON (RFC 8259)")


def json_body() -> Any:
    """Numbers are parsed as Decimal so a price like 12.345 is seen exactly and a 5,000-digit
    literal is a range error (422), not Python's int-digits guard. An empty body is None, which
    the model rejects as a 422 (a missing body); a body that is not `application/json` is a 415;
    unparseable or non-UTF-8 JSON is a 400; nesting deeper than the parser follows is a 422."""
    request = cherrypy.request
    too_large = ApiError(413, "payload_too_large", "request body is larger than 65536 bytes")
    if int(request.headers.get("Content-Length") or 0) > MAX_BODY_BYTES:
        raise too_large
    raw = request.rfile.read(MAX_BODY_BYTES + 1)  # request.body is unprocessed: read raw
    if len(raw) > MAX_BODY_BYTES:
        raise too_large
    if not raw:
        return None
    content_type = request.headers.get("Content-Type", "")
    if content_type.split(";", 1)[0].strip().lower() != "application/json":
        raise ApiError(415, "unsupported_media_type", "request body must be application/json")
    try:
        return json.loads(
            raw.decode("utf-8"), parse_float=Decimal, parse_int=Decimal, parse_constant=_not_json
        )
    except RecursionError:
        raise ApiError(422, "validation_error", "body: JSON nested too deeply") from None
    except ValueError:  # JSONDecodeError and UnicodeDecodeError
        raise ApiError(400, "malformed_json", "request body is not valid JSON") from None


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
