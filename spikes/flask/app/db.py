"""Engine and request-scoped session (the plain SQLAlchemy pattern from the Flask docs)."""

import contextlib

from flask import Flask
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import scoped_session, sessionmaker

# expire_on_commit=False: views serialize objects right after commit without a reload query.
db_session = scoped_session(sessionmaker(expire_on_commit=False))


def init_db(app: Flask) -> None:
    """Bind the session to a fixed-size pool for this worker and close it after each request."""
    url = make_url(app.config["DATABASE_URL"]).set(drivername="postgresql+psycopg")
    engine = create_engine(
        url,
        pool_size=app.config["DB_POOL_SIZE"],
        max_overflow=0,
        pool_pre_ping=False,
    )
    db_session.configure(bind=engine)

    @app.teardown_appcontext
    def remove_session(_exc: BaseException | None) -> None:
        # A connection the database dropped (restart) fails its closing rollback; the answer
        # is already decided and SQLAlchemy has discarded the connection, so that is no 500.
        with contextlib.suppress(OperationalError, InterfaceError):
            db_session.remove()
