"""Ninja's body parser, made to the contract: `application/json` only, strict RFC 8259 in UTF-8
(no BOM, no UTF-16), no NaN/Infinity, numbers parsed exactly as Decimal (any length; 1e-400 is
not 0.0), nesting deeper than the parser follows a 422. Ninja calls it after authentication."""

import json
from decimal import Decimal
from typing import Any

from django.http import HttpRequest
from ninja.parser import Parser

from .errors import ApiError

MAX_BODY_BYTES = 65_536


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON (RFC 8259)")


class ContractParser(Parser):
    def parse_body(self, request: HttpRequest) -> Any:
        raw = request.body  # Django raises RequestDataTooBig past DATA_UPLOAD_MAX_MEMORY_SIZE
        if len(raw) > MAX_BODY_BYTES:  # a body without Content-Length is not checked there
            raise ApiError(413, "payload_too_large", "request body is larger than 65536 bytes")
        if request.content_type.lower() != "application/json":
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
