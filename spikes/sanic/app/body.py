"""The contract's body rules, read from Sanic's buffered request.body after authentication: at
most 64 KiB, `application/json` only, strict RFC 8259 in UTF-8, numbers parsed exactly as Decimal,
nesting beyond the parser a 422. (Sanic's REQUEST_MAX_SIZE would answer 413 before the handler,
i.e. before authentication, so the contract's limit is checked here.)"""

import json
from decimal import Decimal
from typing import Any

from sanic import Request

from .errors import ApiError

MAX_BODY_BYTES = 65_536


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON (RFC 8259)")


def json_body(request: Request) -> Any:
    """The parsed body; an empty body is None, which the model then rejects (422)."""
    raw = request.body
    if not raw:
        return None
    if len(raw) > MAX_BODY_BYTES:
        raise ApiError(413, "payload_too_large", "request body is larger than 65536 bytes")
    mimetype = request.content_type.split(";")[0].strip().lower()
    if mimetype != "application/json":
        raise ApiError(415, "unsupported_media_type", "request body must be application/json")
    try:
        return json.loads(
            raw.decode("utf-8"),  # json.loads(bytes) would sniff UTF-16 and skip a BOM
            parse_float=Decimal,
            parse_int=Decimal,  # a 5,000-digit literal is a range error, not a parse error
            parse_constant=_not_json,
        )
    except RecursionError:
        raise ApiError(422, "validation_error", "body: JSON nested too deeply") from None
    except ValueError:  # JSONDecodeError, UnicodeDecodeError
        raise ApiError(400, "malformed_json", "request body is not valid JSON") from None
