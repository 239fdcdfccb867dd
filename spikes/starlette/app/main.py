"""Application assembly: `uvicorn app.main:app`."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware

from app.db import DBSessionMiddleware, engine
from app.errors import exception_handlers
from app.routes import routes
from app.security import BearerBackend, on_auth_error


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    yield
    await engine.dispose()


app = Starlette(
    routes=routes,
    middleware=[
        Middleware(DBSessionMiddleware),  # outermost: the auth backend loads the user with it
        Middleware(AuthenticationMiddleware, backend=BearerBackend(), on_error=on_auth_error),
    ],
    exception_handlers=exception_handlers,
    lifespan=lifespan,
)
# The contract has no trailing-slash paths: /items/ is a 404, not a redirect to /items.
app.router.redirect_slashes = False
