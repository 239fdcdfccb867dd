"""GET /items/{id}/quote: the caller's item priced by the upstream pricing service (contract v2)."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Annotated

import httpx
from fastapi import APIRouter, FastAPI, Request
from pydantic import BaseModel, PlainSerializer

from app.config import settings
from app.db import SessionDep
from app.errors import ApiError
from app.routes.items import get_owned_item
from app.schemas import _price_to_json
from app.security import AuthFirstRoute, CurrentUser

router = APIRouter(prefix="/items", route_class=AuthFirstRoute)


@asynccontextmanager
async def upstream_client(app: FastAPI) -> AsyncIterator[None]:
    """One AsyncClient (one connection pool) per worker for the app's lifetime, as httpx advises;
    its timeout covers connecting, the pool wait and every read."""
    timeout = httpx.Timeout(settings.upstream_timeout_ms / 1000)
    async with httpx.AsyncClient(base_url=settings.upstream_url, timeout=timeout) as client:
        app.state.upstream = client
        yield


class QuoteOut(BaseModel):
    item_id: int
    price: Annotated[Decimal, PlainSerializer(_price_to_json, when_used="json")]
    quote: int | float  # the upstream's number as it came (smart union keeps 3 an int)


async def ask_upstream(client: httpx.AsyncClient, item_id: int, price: int | float) -> object:
    try:
        resp = await client.get(
            "/quote",
            params={"item_id": item_id, "price": str(price)},
            headers={"Accept": "application/json"},
        )
    except httpx.TimeoutException:
        raise ApiError(504, "upstream_timeout", "pricing service did not answer in time") from None
    except httpx.HTTPError:
        raise ApiError(502, "upstream_error", "pricing service unreachable") from None
    try:
        quote = resp.json()["quote"] if resp.status_code == 200 else None
    except (ValueError, KeyError, TypeError):
        quote = None
    if isinstance(quote, bool) or not isinstance(quote, int | float):
        raise ApiError(502, "upstream_error", f"pricing service answered {resp.status_code}")
    return quote


@router.get("/{item_id}/quote", response_model=QuoteOut)
async def item_quote(
    item_id: str, request: Request, user: CurrentUser, session: SessionDep
) -> dict[str, object]:
    item = await get_owned_item(session, user, item_id)
    found, price = item.id, item.price
    await session.commit()  # end the read's transaction: no pooled connection waits on upstream
    quote = await ask_upstream(request.app.state.upstream, found, _price_to_json(price))
    return {"item_id": found, "price": price, "quote": quote}
