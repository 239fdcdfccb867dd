"""Async engine, and one session per request that the auth backend and the endpoint share."""

import contextlib

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from app.config import settings

# One fixed-size pool per worker process (uvicorn imports the app once per worker).
engine = create_async_engine(settings.database_url, pool_size=settings.db_pool_size, max_overflow=0)
# expire_on_commit=False: endpoints serialize the rows they just committed without a reload.
SessionLocal = async_sessionmaker(engine, expire_on_commit=False)


class DBSessionMiddleware:
    """Pure ASGI middleware: a session in `request.state.db` for the request's lifetime. It takes
    a pooled connection only when first used, so /health's 404s and 405s cost none."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        session = SessionLocal()
        HTTPConnection(scope).state.db = session
        try:
            await self.app(scope, receive, send)
        finally:
            # A connection the database dropped (restart) fails this rollback after the answer
            # was sent; SQLAlchemy has already discarded it, so the error must not surface.
            with contextlib.suppress(DBAPIError):
                await session.close()


def db(conn: HTTPConnection) -> AsyncSession:
    session: AsyncSession = conn.state.db
    return session
