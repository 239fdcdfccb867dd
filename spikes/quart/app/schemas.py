"""Request validation: strict pydantic models, so JSON types are never coerced."""

import re
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

MAX_BIGINT = 2**63 - 1


def _encodable(value: str) -> str:
    """JSON may smuggle in lone surrogates, which UTF-8 (argon2, Postgres) cannot encode."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    return value


def _storable_text(value: str) -> str:
    """Postgres text rejects NUL, so refuse it as a 422 instead of failing at INSERT."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return _encodable(value)


def _json_number(value: object) -> Decimal:
    """Accept only JSON numbers; the JSON provider parses every number exactly as Decimal."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise ValueError("must be a JSON number")
    if not Decimal(value).is_finite():
        raise ValueError("must be a finite number")
    return Decimal(value)


def _query_int(value: object) -> object:
    """Query strings must be plain decimal digits ("20", not "+20", "2_0" or "20.0")."""
    if isinstance(value, str):
        if not re.fullmatch(r"[0-9]+", value):
            raise ValueError("must be a non-negative integer")
        return int(value)
    return value


Storable = AfterValidator(_storable_text)
Username = Annotated[
    str, StringConstraints(min_length=3, max_length=32, pattern=r"^[A-Za-z0-9_]+$")
]
# No request string may hold NUL (contract), the password included; nor lone surrogates.
Password = Annotated[str, StringConstraints(min_length=8, max_length=128), Storable]
Name = Annotated[str, StringConstraints(min_length=1, max_length=100), Storable]
Description = Annotated[str, StringConstraints(max_length=1000), Storable]
Price = Annotated[
    Decimal, BeforeValidator(_json_number), Field(ge=0, le=1_000_000, decimal_places=2)
]
QueryInt = Annotated[int, BeforeValidator(_query_int)]


class StrictBody(BaseModel):
    """Unknown fields are a 422 (no silent mass assignment)."""

    model_config = ConfigDict(strict=True, extra="forbid")


class Credentials(StrictBody):
    username: Username
    password: Password


class ItemIn(StrictBody):
    """POST and PUT: a full item; absent description means null."""

    name: Name
    description: Description | None = None
    price: Price


class ItemPatch(StrictBody):
    """PATCH: any subset; description may be null, name and price may not."""

    name: Name | None = None
    description: Description | None = None
    price: Price | None = None

    @field_validator("name", "price")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        # Runs only for values the client sent (defaults are not validated).
        if value is None:
            raise ValueError("may not be null")
        return value


class ListQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    limit: QueryInt = Field(20, ge=1, le=100)
    offset: QueryInt = Field(0, ge=0, le=MAX_BIGINT)  # Postgres' OFFSET is a BIGINT
