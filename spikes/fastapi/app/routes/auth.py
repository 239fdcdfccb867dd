"""Registration, login and the caller's own profile."""

from fastapi import APIRouter, status
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.body import JSONRoute
from app.config import settings
from app.db import SessionDep
from app.errors import ApiError
from app.models import User
from app.schemas import LoginRequest, RegisterRequest, TokenOut, UserOut
from app.security import CurrentUser, create_access_token, hash_password, password_matches

router = APIRouter(route_class=JSONRoute)


@router.post("/auth/register", status_code=status.HTTP_201_CREATED, response_model=UserOut)
async def register(body: RegisterRequest, session: SessionDep) -> User:
    user = User(username=body.username, password_hash=await hash_password(body.password))
    session.add(user)
    try:
        await session.commit()
    except IntegrityError:
        # The UNIQUE constraint is the source of truth, so concurrent registrations cannot race.
        raise ApiError(409, "username_taken", "username is already taken") from None
    return user


@router.post("/auth/login")
async def login(body: LoginRequest, session: SessionDep) -> TokenOut:
    user = await session.scalar(select(User).where(User.username == body.username))
    if not await password_matches(user, body.password):
        raise ApiError(
            401,
            "invalid_credentials",
            "wrong username or password",
            {"WWW-Authenticate": "Bearer"},
        )
    assert user is not None
    return TokenOut(access_token=create_access_token(user.id), expires_in=settings.jwt_ttl_seconds)


@router.get("/me", response_model=UserOut)
async def me(user: CurrentUser) -> User:
    return user
