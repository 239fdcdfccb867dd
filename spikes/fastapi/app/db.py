"""Async engine and the per-request session dependency."""

import contextlib
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from app.config import settings

# One fixed-size pool per worker process (uvicorn imports the app once per worker).
engine = create_async_engine(
    settings.database_url,
    pool_size=settings.db_pool_size,
    max_overflow=0,
)
# expire_on_commit=False: handlers serialize the rows they just committed without a reload.
SessionLocal = async_sessionmaker(engine, expire_on_commit=False)


async def get_session() -> AsyncIterator[AsyncSession]:
    """One session per request; anything not committed is rolled back on close. A connection the
    database dropped (restart) fails that rollback after the answer is sent; SQLAlchemy has
    already discarded it, so the error must not cut the response off."""
    session = SessionLocal()
    try:
        yield session
    finally:
        with contextlib.suppress(DBAPIError):
            await session.close()


SessionDep = Annotated[AsyncSession, Depends(get_session)]
