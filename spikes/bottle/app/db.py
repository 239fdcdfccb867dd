"""Engine and a session per request, handed to routes by a Bottle plugin (as bottle-sqlite does)."""

import contextlib
import functools
import inspect
from collections.abc import Callable
from typing import Any

from bottle import Route
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import Session, sessionmaker

from .config import Settings
from .errors import ApiError

DATABASE_DOWN = (OperationalError, InterfaceError, PoolTimeout)


def make_engine(settings: Settings) -> Engine:
    """A fixed-size pool for this worker process (gunicorn imports the app in each worker)."""
    url = make_url(settings.database_url).set(drivername="postgresql+psycopg")
    return create_engine(url, pool_size=settings.db_pool_size, max_overflow=0)


class SQLAlchemyPlugin:
    """Give every route that takes a `db` argument its own Session, closed after the request.

    A database that went away (restart, network) is a 503 the client may retry; the pool drops
    the broken connections, so the next request reconnects."""

    name = "sqlalchemy"
    api = 2

    def __init__(self, engine: Engine, keyword: str = "db") -> None:
        # expire_on_commit=False: routes serialize objects right after commit without a reload.
        self.sessions = sessionmaker(engine, expire_on_commit=False)
        self.keyword = keyword

    def apply(self, callback: Callable[..., Any], route: Route) -> Callable[..., Any]:
        if self.keyword not in inspect.signature(route.get_undecorated_callback()).parameters:
            return callback

        @functools.wraps(callback)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            session: Session = self.sessions()
            try:
                return callback(*args, **{self.keyword: session}, **kwargs)
            except DATABASE_DOWN:
                raise ApiError(503, "database_unavailable", "database is unreachable") from None
            finally:
                # A connection the database dropped fails its closing rollback; the answer is
                # already decided and SQLAlchemy has discarded the connection.
                with contextlib.suppress(*DATABASE_DOWN):
                    session.close()

        return wrapper
