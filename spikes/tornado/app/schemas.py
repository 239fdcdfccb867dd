"""Request and response models (pydantic v2). Requests forbid unknown fields: no mass assignment."""

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    field_validator,
)

from app.models import MAX_BIGINT


def _storable_text(value: str) -> str:
    """Reject what PostgreSQL text cannot hold (NUL, lone surrogates) as a 422, not a 500."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode") from None
    return value


def _json_number(value: object) -> object:
    """Accept only a JSON number: lax Decimal parsing would take "12" and bool would pass as int."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise ValueError("must be a JSON number")
    return value


def _price_to_json(value: Decimal) -> int | float:
    """NUMERIC(9,2) comes back as Decimal("3.00"); the contract wants the JSON number 3 or 12.5."""
    return int(value) if value == value.to_integral_value() else float(value)


def _digits(value: object) -> object:
    """Query integers are plain ASCII digits (contract): no sign, space, fraction or exponent."""
    if isinstance(value, str) and not (value.isascii() and value.isdigit()):
        raise ValueError("must be a non-negative integer")
    if isinstance(value, str) and len(value.lstrip("0")) > 20:
        return MAX_BIGINT + 1  # out of range either way; spares int() a 4,300-digit string
    return value


# Length/pattern constraints first (so messages speak of characters), then the storability check.
Storable = AfterValidator(_storable_text)
Username = Annotated[str, Field(pattern=r"^[A-Za-z0-9_]{3,32}$"), Storable]
Password = Annotated[str, Field(min_length=8, max_length=128), Storable]
Name = Annotated[str, Field(min_length=1, max_length=100), Storable]
Description = Annotated[str, Field(max_length=1000), Storable]
Price = Annotated[
    Decimal,
    BeforeValidator(_json_number),
    Field(ge=0, le=1_000_000, decimal_places=2, allow_inf_nan=False),
]
QueryInt = Annotated[int, BeforeValidator(_digits)]


class RequestModel(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Credentials(RequestModel):
    """Registration and login share one shape (contract): outside it is a 422."""

    username: Username
    password: Password


class ItemIn(RequestModel):
    """POST and PUT body (PUT is a full replace: an absent description becomes null)."""

    name: Name
    description: Description | None = None
    price: Price


class ItemPatch(RequestModel):
    """PATCH body: absent fields stay unchanged; name and price may be absent but not null."""

    name: Name | None = None
    description: Description | None = None
    price: Price | None = None

    @field_validator("name", "price")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("may be omitted but not null")
        return value


class PageQuery(BaseModel):
    """GET /items query; unknown parameters are ignored (pydantic's default)."""

    limit: Annotated[QueryInt, Field(ge=1, le=100)] = 20
    offset: Annotated[QueryInt, Field(ge=0, le=MAX_BIGINT)] = 0


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class ItemOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    description: str | None
    price: Annotated[Decimal, PlainSerializer(_price_to_json, when_used="json")]
    created_at: datetime
    updated_at: datetime


class ItemPage(BaseModel):
    items: list[ItemOut]
    total: int
    limit: int
    offset: int
