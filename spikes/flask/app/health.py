"""Liveness that proves the database is reachable."""

from flask import Blueprint
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from .db import db_session
from .errors import ApiError

bp = Blueprint("health", __name__)


@bp.get("/health")
def health() -> dict:
    try:
        db_session.execute(text("SELECT 1"))
    except SQLAlchemyError:
        raise ApiError(503, "database_unavailable", "database is unreachable") from None
    return {"status": "ok"}
