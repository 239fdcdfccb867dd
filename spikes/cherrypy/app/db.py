"""The engine as a bus plugin and a session per request as a tool (CherryPy's SQLAlchemy recipe)."""

import contextlib

import cherrypy
from cherrypy.process import plugins, wspbus
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.orm import scoped_session, sessionmaker

DATABASE_DOWN = (OperationalError, InterfaceError, PoolTimeout)

# expire_on_commit=False: handlers serialize objects right after commit without a reload query.
Session = scoped_session(sessionmaker(expire_on_commit=False))


class SAEnginePlugin(plugins.SimplePlugin):
    """Creates this process's engine (a fixed pool, no overflow) when the engine starts."""

    def __init__(self, bus: wspbus.Bus, database_url: str, pool_size: int) -> None:
        super().__init__(bus)
        self.url = make_url(database_url).set(drivername="postgresql+psycopg")
        self.pool_size = pool_size
        self.engine: Engine | None = None

    def start(self) -> None:
        self.engine = create_engine(self.url, pool_size=self.pool_size, max_overflow=0)
        Session.configure(bind=self.engine)

    def stop(self) -> None:
        if self.engine is not None:
            self.engine.dispose()
            self.engine = None


class SATool(cherrypy.Tool):
    """Binds `cherrypy.request.db` for the handler and removes the session after the request."""

    def __init__(self) -> None:
        super().__init__("on_start_resource", self.bind_session, priority=20)

    def _setup(self) -> None:
        super()._setup()
        cherrypy.request.hooks.attach("on_end_request", self.release_session, priority=80)

    def bind_session(self) -> None:
        cherrypy.request.db = Session()

    def release_session(self) -> None:
        # A connection the database dropped (restart) fails its closing rollback; the answer
        # is already sent and SQLAlchemy has discarded the connection.
        with contextlib.suppress(*DATABASE_DOWN):
            Session.remove()
