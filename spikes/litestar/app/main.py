"""The Litestar application: `uvicorn app.main:app`."""

from __future__ import annotations

from litestar import Litestar
from litestar.types import ASGIApp, Receive, Scope, Send

from app import live
from app.db import alchemy
from app.errors import exception_handlers
from app.quote import item_quote, upstream_client
from app.routes import AuthController, ItemController, health, me
from app.security import jwt_auth


def refuse_trailing_slash(app: ASGIApp) -> ASGIApp:
    """Litestar's router strips a trailing slash, so /items/1/ would delete item 1; the contract
    has no trailing-slash paths (404, as in the other spikes). Routing happens before any
    Litestar middleware runs, so this is a plain ASGI middleware."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and len(path) > 1 and path.endswith("/"):
            body = b'{"error":"not_found","detail":"Not found"}'
            headers = [(b"content-type", b"application/json"), (b"content-length", b"42")]
            await send({"type": "http.response.start", "status": 404, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await app(scope, receive, send)

    return middleware


litestar_app = Litestar(
    route_handlers=[health, AuthController, me, ItemController, item_quote, live.live],
    lifespan=[upstream_client],
    plugins=[alchemy],
    on_app_init=[jwt_auth.on_app_init],
    exception_handlers=exception_handlers,
    request_max_body_size=65_536,  # the contract's 413
)
app = refuse_trailing_slash(litestar_app)
