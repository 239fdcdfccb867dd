"""request.dbsession: one Session per request, committed or aborted by pyramid_tm (cookiecutter)."""

import transaction
import zope.sqlalchemy
from pyramid.config import Configurator
from pyramid.request import Request
from sqlalchemy import Engine, engine_from_config
from sqlalchemy.orm import Session, sessionmaker


def get_engine(settings: dict, prefix: str = "sqlalchemy.") -> Engine:
    """A fixed-size pool (max_overflow 0) for this worker process."""
    return engine_from_config(settings, prefix)


def get_tm_session(
    session_factory: sessionmaker[Session], transaction_manager: transaction.TransactionManager
) -> Session:
    dbsession = session_factory()
    zope.sqlalchemy.register(dbsession, transaction_manager=transaction_manager)
    return dbsession


def includeme(config: Configurator) -> None:
    config.include("pyramid_tm")
    session_factory = sessionmaker(get_engine(config.get_settings()))
    config.registry["dbsession_factory"] = session_factory

    def dbsession(request: Request) -> Session:
        return get_tm_session(session_factory, request.tm)

    config.add_request_method(dbsession, reify=True)
