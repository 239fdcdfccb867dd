"""The contract's request-body rules: at most 64 KiB, `application/json` only, strict RFC 8259
JSON in UTF-8 (parse first: 400), then the pydantic model (validate: 422).

Starlette leaves body parsing to the endpoint (`await request.json()`); this is that call with
the contract's rules, since `Request.json()` is plain `json.loads` (NaN, floats, no size cap)."""

import json
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import BaseModel
from starlette.requests import Request

from app.errors import ApiError

MAX_BODY_BYTES = 65_536
M = TypeVar("M", bound=BaseModel)


def _integer(literal: str) -> int | Decimal:
    """Any length is JSON; past int()'s 4,300-digit guard it is a Decimal, so a range error
    (422) rather than a parse failure."""
    return int(literal) if len(literal) <= 4000 else Decimal(literal)


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


async def _read(request: Request) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise ApiError(413, "payload_too_large", "request body is larger than 65536 bytes")
    body = bytearray()
    async for chunk in request.stream():  # a chunked body has no Content-Length to trust
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise ApiError(413, "payload_too_large", "request body is larger than 65536 bytes")
    return bytes(body)


async def read_json(request: Request, model: type[M]) -> M:
    raw = await _read(request)
    if not raw:  # no body at all is a missing required body, not malformed JSON
        raise ApiError(422, "validation_error", "body: a JSON object is required")
    media_type = request.headers.get("content-type", "").split(";")[0]
    if media_type.strip().lower() != "application/json":
        raise ApiError(415, "unsupported_media_type", "request body must be application/json")
    try:
        # decode first: json.loads(bytes) would sniff UTF-16 and skip a BOM
        data = json.loads(
            raw.decode("utf-8"), parse_constant=_not_json, parse_int=_integer, parse_float=Decimal
        )
    except RecursionError:
        raise ApiError(422, "validation_error", "body: JSON nested too deeply") from None
    except ValueError:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ApiError(400, "malformed_json", "request body is not valid JSON") from None
    return model.model_validate(data)  # a ValidationError is the 422 (app.errors)
