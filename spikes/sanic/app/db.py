"""Async engine per worker and a session per request (the pattern of Sanic's SQLAlchemy guide)."""

import contextlib

from sanic import Request, Sanic
from sanic.response import HTTPResponse
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

# expire_on_commit=False: handlers serialize the rows they just committed without a reload.
SessionLocal = async_sessionmaker(expire_on_commit=False)


def db_session(request: Request) -> AsyncSession:
    session: AsyncSession = request.ctx.session
    return session


def init_db(app: Sanic) -> None:
    @app.before_server_start
    async def create_engine(app: Sanic) -> None:
        """Runs in every worker process: one fixed-size pool per worker."""
        # The harness hands out postgresql://; SQLAlchemy needs the driver in the scheme.
        url = make_url(app.config.DATABASE_URL).set(drivername="postgresql+asyncpg")
        app.ctx.engine = create_async_engine(url, pool_size=app.config.DB_POOL_SIZE, max_overflow=0)
        SessionLocal.configure(bind=app.ctx.engine)

    @app.after_server_stop
    async def dispose_engine(app: Sanic) -> None:
        await app.ctx.engine.dispose()

    @app.on_request
    async def open_session(request: Request) -> None:
        request.ctx.session = SessionLocal()  # connects only when first used

    @app.on_response
    async def close_session(request: Request, response: HTTPResponse) -> None:
        # A connection the database dropped (restart) fails its closing rollback; the answer
        # is already decided and SQLAlchemy has discarded the connection, so that is no 500.
        session = getattr(request.ctx, "session", None)
        if session is not None:
            with contextlib.suppress(DBAPIError, OSError):
                await session.close()
