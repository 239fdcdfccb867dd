"""Liveness that includes the database."""

from fastapi import APIRouter
from sqlalchemy import text

from app.db import SessionDep
from app.errors import ApiError

router = APIRouter()


@router.get("/health")
async def health(session: SessionDep) -> dict[str, str]:
    try:
        await session.execute(text("SELECT 1"))
    except Exception as exc:  # any failure to reach the database means "not ready"
        raise ApiError(503, "database_unavailable", "database is unreachable") from exc
    return {"status": "ok"}
