"""Registration, login and the current user."""

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from .body import json_body
from .db import db_session
from .errors import ApiError
from .models import User
from .schemas import Credentials
from .security import create_access_token, hash_password, protected, verify_password

bp = Blueprint("auth")


@bp.post("/auth/register")
async def register(request: Request) -> HTTPResponse:
    data = Credentials.model_validate(json_body(request))
    session = db_session(request)
    user = User(username=data.username, password_hash=await hash_password(request, data.password))
    session.add(user)
    try:
        await session.commit()
    except IntegrityError:
        # The UNIQUE constraint is the source of truth, so concurrent registrations are safe.
        await session.rollback()
        raise ApiError(409, "username_taken", "username is already taken") from None
    return json(user.to_json(), status=201)


@bp.post("/auth/login")
async def login(request: Request) -> HTTPResponse:
    data = Credentials.model_validate(json_body(request))
    user = await db_session(request).scalar(select(User).where(User.username == data.username))
    password_hash = user.password_hash if user else None
    if not await verify_password(request, password_hash, data.password) or user is None:
        raise ApiError(401, "invalid_credentials", "wrong username or password")
    return json(
        {
            "access_token": create_access_token(request, user),
            "token_type": "bearer",
            "expires_in": request.app.config.JWT_TTL_SECONDS,
        }
    )


@bp.get("/me")
@protected
async def me(request: Request) -> HTTPResponse:
    return json(request.ctx.user.to_json())
