"""Registration, login and the current user."""

from quart import Blueprint, current_app
from quart_schema import validate_request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from .db import db_session
from .errors import ApiError
from .models import User
from .schemas import Credentials
from .security import (
    create_access_token,
    current_user,
    hash_password,
    login_required,
    verify_password,
)

bp = Blueprint("auth", __name__)


@bp.post("/auth/register")
@validate_request(Credentials)
async def register(data: Credentials) -> tuple[dict, int]:
    session = db_session()
    user = User(username=data.username, password_hash=await hash_password(data.password))
    session.add(user)
    try:
        await session.commit()
    except IntegrityError:
        # The UNIQUE constraint is the source of truth, so concurrent registrations are safe.
        await session.rollback()
        raise ApiError(409, "username_taken", "username is already taken") from None
    return user.to_json(), 201


@bp.post("/auth/login")
@validate_request(Credentials)
async def login(data: Credentials) -> dict:
    user = await db_session().scalar(select(User).where(User.username == data.username))
    password_hash = user.password_hash if user else None
    if not await verify_password(password_hash, data.password) or user is None:
        raise ApiError(
            401,
            "invalid_credentials",
            "wrong username or password",
            {"WWW-Authenticate": "Bearer"},
        )
    return {
        "access_token": create_access_token(user),
        "token_type": "bearer",
        "expires_in": current_app.config["JWT_TTL_SECONDS"],
    }


@bp.get("/me")
@login_required
async def me() -> dict:
    return current_user().to_json()
