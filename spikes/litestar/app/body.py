"""Strict decoding of JSON request bodies.

Litestar converts ``data: SomeStruct`` with msgspec in lax mode (``strict=False``), which turns
the string "12" into the number 12.0 and "true" into True. The contract wants those to be a 422,
so each write handler gets its body from this dependency, decoded by msgspec in strict mode.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, TypeVar

import msgspec
from litestar import Request
from litestar.di import Provide
from litestar.exceptions import ClientException, HTTPException, ValidationException

T = TypeVar("T", bound=msgspec.Struct)


# Fractions decode exactly (Decimal), so a literal like 1e-400 is not silently a float 0.0.
_decoder = msgspec.json.Decoder(float_hook=Decimal)


def _check_exact(data: Any, body: msgspec.Struct) -> None:
    """A JSON number that a float field cannot hold as written is out of range (422)."""
    if not isinstance(data, dict):
        return
    for name in body.__struct_fields__:
        raw, value = data.get(name), getattr(body, name)
        if isinstance(raw, Decimal) and isinstance(value, float) and Decimal(repr(value)) != raw:
            raise ValidationException(f"{name}: number out of range")


def json_body(model: type[T]) -> Provide:
    """A dependency that decodes the request body into ``model``.

    Malformed JSON is a 400; a missing body or one of the wrong shape is a 422.
    """

    async def decode(request: Request[Any, Any, Any]) -> T:
        raw = await request.body()  # over the app's request_max_body_size: a 413
        if not raw:  # no body at all is a missing required body, not malformed JSON
            raise ValidationException("A JSON object body is required")
        if request.content_type[0].lower() != "application/json":
            raise HTTPException(
                status_code=415, detail="Request body must be application/json"
            )
        # Parse, then validate (contract): decoding straight into the Struct would call a
        # truncated `[` a wrong shape (422) where it is malformed JSON (400).
        try:
            data = _decoder.decode(raw)
        except (msgspec.ValidationError, RecursionError) as exc:  # out of range, too deep
            raise ValidationException(f"Invalid JSON value: {exc}") from None
        except (msgspec.DecodeError, UnicodeDecodeError) as exc:
            raise ClientException(f"Malformed JSON body: {exc}") from None
        try:
            body = msgspec.convert(data, type=model, strict=True)
        except msgspec.ValidationError as exc:  # valid JSON, wrong shape
            raise ValidationException(str(exc)) from exc
        _check_exact(data, body)
        return body

    return Provide(decode)
