"""Request body parsing: strict RFC 8259 JSON with the contract's limits."""

import json
from decimal import Decimal
from typing import Any

from rest_framework import parsers, status
from rest_framework.exceptions import APIException, ParseError, ValidationError

MAX_BODY_BYTES = 65_536


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body is larger than 65536 bytes."
    default_code = "payload_too_large"


def _not_json(constant: str) -> Any:
    raise ParseError(f"JSON parse error - {constant} is not JSON.")


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, made to the contract: at most 64 KiB, UTF-8 only (no BOM, no UTF-16),
    no NaN/Infinity, numbers parsed exactly as Decimal (any length; 1e-400 is not 0.0),
    and nesting deeper than the parser follows is a validation error (422), not a 400/500."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        raw = stream.read(MAX_BODY_BYTES + 1)
        if len(raw) > MAX_BODY_BYTES:
            raise PayloadTooLarge()
        try:
            text = raw.decode("utf-8")
            return json.loads(
                text, parse_constant=_not_json, parse_int=Decimal, parse_float=Decimal
            )
        except RecursionError:
            raise ValidationError("JSON nested too deeply.") from None
        except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
            raise ParseError(f"JSON parse error - {exc}") from None
