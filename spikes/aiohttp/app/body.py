"""The contract's request-body rules: at most 64 KiB (`client_max_size`, app.main), JSON only,
strict RFC 8259 JSON in UTF-8 (parse first: 400), then the pydantic model (validate: 422).

`request.json()` is plain `json.loads`: it takes NaN and reads fractions as floats, and it does
not look at the content type; hence this helper."""

import json
from decimal import Decimal
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel

from app.errors import ApiError

M = TypeVar("M", bound=BaseModel)
MAX_BODY_BYTES = 65_536


def _integer(literal: str) -> int | Decimal:
    """Any length is JSON; past int()'s 4,300-digit guard it is a Decimal, so a range error
    (422) rather than a parse failure."""
    return int(literal) if len(literal) <= 4000 else Decimal(literal)


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


async def read_json(request: web.Request, model: type[M]) -> M:
    raw = await request.read()  # past client_max_size: HTTPRequestEntityTooLarge (413)
    if not raw:  # no body at all is a missing required body, not malformed JSON
        raise ApiError(422, "validation_error", "body: a JSON object is required")
    if request.content_type != "application/json":  # parsed and lower-cased by aiohttp
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
