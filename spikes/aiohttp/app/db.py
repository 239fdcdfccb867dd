"""The engine lives in the application (a cleanup context: made in the worker's own event loop,
disposed on shutdown); each request gets one session, shared by authentication and handler."""

import contextlib
from collections.abc import AsyncIterator

from aiohttp import web
from aiohttp.typedefs import Handler
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from app.config import settings

sessionmaker_key = web.AppKey("sessionmaker", async_sessionmaker[AsyncSession])


async def database(app: web.Application) -> AsyncIterator[None]:
    # One fixed-size pool per worker process (each gunicorn worker starts the app once).
    engine = create_async_engine(
        settings.database_url, pool_size=settings.db_pool_size, max_overflow=0
    )
    # expire_on_commit=False: handlers serialize the rows they just committed without a reload.
    app[sessionmaker_key] = async_sessionmaker(engine, expire_on_commit=False)
    yield
    await engine.dispose()


@web.middleware
async def db_session(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A session in `request["db"]`; it takes a pooled connection only when first used."""
    session = request.config_dict[sessionmaker_key]()
    request["db"] = session
    try:
        return await handler(request)
    finally:
        # A connection the database dropped (restart) fails this rollback; SQLAlchemy has
        # already discarded it, so the error must not replace the answer.
        with contextlib.suppress(DBAPIError):
            await session.close()


def db(request: web.Request) -> AsyncSession:
    session: AsyncSession = request["db"]
    return session
