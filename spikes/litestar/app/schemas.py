"""Request and response bodies as msgspec Structs.

Request bodies are decoded strictly (see ``body.py``): a string or boolean is never a number.
The one rule ``Meta`` cannot express (2 decimal places) lives in ``__post_init__``, whose
ValueError msgspec reports as a validation error.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated

import msgspec

from app.models import Item, User

# PostgreSQL text cannot hold NUL: in stored strings it is a validation error, not a database error.
# The password too: no request string may hold NUL (contract).
_NO_NUL = r"\A[^\x00]*\Z"
Username = Annotated[str, msgspec.Meta(min_length=3, max_length=32, pattern=r"\A[A-Za-z0-9_]+\Z")]
Password = Annotated[str, msgspec.Meta(min_length=8, max_length=128, pattern=_NO_NUL)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=100, pattern=_NO_NUL)]
Description = Annotated[str, msgspec.Meta(max_length=1000, pattern=_NO_NUL)]
# float, not Decimal: msgspec would accept a Decimal from a JSON string ("12").
Price = Annotated[float, msgspec.Meta(ge=0, le=1_000_000)]


def _check_price(price: float | msgspec.UnsetType) -> None:
    # A float with at most 2 decimals is exactly what round(_, 2) gives back.
    if isinstance(price, float) and round(price, 2) != price:
        raise ValueError("price must have at most 2 decimal places")


class Body(msgspec.Struct, forbid_unknown_fields=True):
    """Base for request bodies: unknown fields (owner_id, id, ...) are a 422."""


class Credentials(Body):
    username: Username
    password: Password


class ItemIn(Body):
    """POST and PUT: the full item; an absent description means null."""

    name: Name
    price: Price
    description: Description | None = None

    def __post_init__(self) -> None:
        _check_price(self.price)


class ItemPatch(Body):
    """PATCH: only the fields present change; name and price cannot be null."""

    name: Name | msgspec.UnsetType = msgspec.UNSET
    price: Price | msgspec.UnsetType = msgspec.UNSET
    description: Description | None | msgspec.UnsetType = msgspec.UNSET

    def __post_init__(self) -> None:
        _check_price(self.price)


class UserOut(msgspec.Struct):
    id: int
    username: str

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(id=user.id, username=user.username)


class TokenOut(msgspec.Struct):
    access_token: str
    expires_in: int
    token_type: str = "bearer"


def _price_json(price: Decimal) -> int | float:
    return int(price) if price == price.to_integral_value() else float(price)


class ItemOut(msgspec.Struct):
    id: int
    name: str
    description: str | None
    # NUMERIC(9,2) as the shortest JSON number (3, 12.5), not msgspec's string "12.50" nor 3.0
    price: int | float
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, item: Item) -> ItemOut:
        return cls(
            id=item.id,
            name=item.name,
            description=item.description,
            price=_price_json(item.price),
            created_at=item.created_at,
            updated_at=item.updated_at,
        )


class ItemPage(msgspec.Struct):
    items: list[ItemOut]
    total: int
    limit: int
    offset: int
