"""The contract's request-body rules, where Quart reads JSON (Request.get_json, which
quart-schema's @validate_request calls): `application/json` only, strict RFC 8259 in UTF-8,
numbers parsed exactly as Decimal, nesting beyond the parser a 422. MAX_CONTENT_LENGTH gives the
413 when the body is read, i.e. after authentication."""

import json
from decimal import Decimal
from typing import Any

from quart import Request

from .errors import ApiError

MAX_BODY_BYTES = 65_536


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON (RFC 8259)")


class ContractRequest(Request):
    async def get_json(self, force: bool = False, silent: bool = False, cache: bool = True) -> Any:
        """The parsed body; an empty body is None, which the model then rejects (422)."""
        raw = await self.get_data(cache=cache, as_text=False)
        if not raw:
            return None
        if self.mimetype != "application/json":  # is_json would also take +json types
            raise ApiError(415, "unsupported_media_type", "request body must be application/json")
        try:
            # Decoded strictly here: get_data(as_text=True) would replace invalid UTF-8.
            return json.loads(
                raw.decode("utf-8"),
                parse_float=Decimal,
                parse_int=Decimal,  # a 5,000-digit literal is a range error, not a parse error
                parse_constant=_not_json,
            )
        except RecursionError:
            raise ApiError(422, "validation_error", "body: JSON nested too deeply") from None
        except ValueError:  # JSONDecodeError, UnicodeDecodeError
            raise ApiError(400, "malformed_json", "request body is not valid JSON") from None
