"""Liveness that proves the database is reachable."""

from quart import Blueprint
from sqlalchemy import text

from .db import db_session
from .errors import ApiError

bp = Blueprint("health", __name__)


@bp.get("/health")
async def health() -> dict[str, str]:
    try:
        await db_session().execute(text("SELECT 1"))
    except Exception:  # any failure to reach the database means "not ready"
        raise ApiError(503, "database_unavailable", "database is unreachable") from None
    return {"status": "ok"}
