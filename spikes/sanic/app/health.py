"""Liveness that proves the database is reachable."""

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json
from sqlalchemy import text

from .db import db_session
from .errors import ApiError

bp = Blueprint("health")


@bp.get("/health")
async def health(request: Request) -> HTTPResponse:
    try:
        await db_session(request).execute(text("SELECT 1"))
    except Exception:  # any failure to reach the database means "not ready"
        raise ApiError(503, "database_unavailable", "database is unreachable") from None
    return json({"status": "ok"})
