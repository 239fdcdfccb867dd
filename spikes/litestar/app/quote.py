"""GET /items/{id}/quote: the caller's item priced by the upstream pricing service (contract v2)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import msgspec
from litestar import Litestar, get
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import HTTPException
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import settings
from app.models import User
from app.routes import ItemController, provide_user
from app.schemas import _price_json


class UpstreamError(HTTPException):
    status_code = 502
    error_code = "upstream_error"


class UpstreamTimeout(HTTPException):
    status_code = 504
    error_code = "upstream_timeout"


@asynccontextmanager
async def upstream_client(app: Litestar) -> AsyncIterator[None]:
    """One httpx.AsyncClient (one connection pool) per worker, opened and closed with the app;
    its timeout covers connecting, the pool wait and every read."""
    timeout = httpx.Timeout(settings.upstream_timeout_ms / 1000)
    async with httpx.AsyncClient(base_url=settings.upstream_url, timeout=timeout) as client:
        app.state.upstream = client
        yield


class QuoteOut(msgspec.Struct):
    item_id: int
    price: int | float
    quote: int | float  # the upstream's number as it came


async def ask_upstream(client: httpx.AsyncClient, item_id: int, price: int | float) -> Any:
    try:
        resp = await client.get(
            "/quote",
            params={"item_id": item_id, "price": str(price)},
            headers={"Accept": "application/json"},
        )
    except httpx.TimeoutException:
        raise UpstreamTimeout(detail="pricing service did not answer in time") from None
    except httpx.HTTPError:
        raise UpstreamError(detail="pricing service unreachable") from None
    try:
        quote = msgspec.json.decode(resp.content)["quote"] if resp.status_code == 200 else None
    except (msgspec.DecodeError, KeyError, TypeError):
        quote = None
    if isinstance(quote, bool) or not isinstance(quote, int | float):
        raise UpstreamError(detail=f"pricing service answered {resp.status_code}")
    return quote


@get(
    "/items/{item_id:str}/quote",
    dependencies={"user": Provide(provide_user, sync_to_thread=False)},
)
async def item_quote(item_id: str, user: User, db_session: AsyncSession, state: State) -> QuoteOut:
    item = await ItemController._owned_item(db_session, user, item_id)
    found, price = item.id, _price_json(item.price)
    await db_session.commit()  # end the read's transaction: no pooled connection waits on upstream
    return QuoteOut(found, price, await ask_upstream(state.upstream, found, price))
