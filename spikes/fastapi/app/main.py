"""Application assembly: routers, contract error handlers, engine disposal on shutdown."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app import live
from app.db import engine
from app.errors import install_error_handlers
from app.routes import auth, health, items, quote


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    async with quote.upstream_client(app):
        yield
    await engine.dispose()


# redirect_slashes=False: the contract has no trailing-slash routes, so /items/ is a 404.
app = FastAPI(title="spikebench FastAPI spike", lifespan=lifespan, redirect_slashes=False)
install_error_handlers(app)
app.include_router(health.router)
app.include_router(auth.router)
app.include_router(items.router)
app.include_router(quote.router)
app.include_router(live.router)
