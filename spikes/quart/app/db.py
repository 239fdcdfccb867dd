"""Async engine per worker (created when the worker starts serving) and a session per request."""

import contextlib

from quart import Quart, g
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

# expire_on_commit=False: views serialize the rows they just committed without a reload query.
SessionLocal = async_sessionmaker(expire_on_commit=False)


def db_session() -> AsyncSession:
    """This request's session, opened on first use and closed at app-context teardown."""
    if "db" not in g:
        g.db = SessionLocal()
    return g.db


def init_db(app: Quart) -> None:
    @app.before_serving
    async def create_engine() -> None:
        # The harness hands out postgresql://; SQLAlchemy needs the driver in the scheme.
        url = make_url(app.config["DATABASE_URL"]).set(drivername="postgresql+asyncpg")
        engine = create_async_engine(url, pool_size=app.config["DB_POOL_SIZE"], max_overflow=0)
        SessionLocal.configure(bind=engine)
        app.extensions["db_engine"] = engine

    @app.after_serving
    async def dispose_engine() -> None:
        await app.extensions["db_engine"].dispose()

    @app.teardown_appcontext
    async def close_session(_exc: BaseException | None) -> None:
        # A connection the database dropped (restart) fails its closing rollback; the answer
        # is already decided and SQLAlchemy has discarded the connection, so that is no 500.
        session = g.pop("db", None)
        if session is not None:
            with contextlib.suppress(DBAPIError, OSError):
                await session.close()
