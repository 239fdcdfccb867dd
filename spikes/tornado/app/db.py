"""Async engine and session factory (one of each per worker process)."""

from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from app.config import settings

# Created at import, before tornado forks its workers: an engine opens no connection until
# first used, so each child builds its own fixed-size pool in its own event loop.
engine = create_async_engine(settings.database_url, pool_size=settings.db_pool_size, max_overflow=0)
# expire_on_commit=False: handlers serialize the rows they just committed without a reload.
SessionLocal = async_sessionmaker(engine, expire_on_commit=False)
