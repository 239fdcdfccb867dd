"""The Litestar application: `uvicorn app.main:app`."""

from __future__ import annotations

from litestar import Litestar

from app.db import alchemy
from app.errors import exception_handlers
from app.routes import AuthController, ItemController, health, me
from app.security import jwt_auth

app = Litestar(
    route_handlers=[health, AuthController, me, ItemController],
    plugins=[alchemy],
    on_app_init=[jwt_auth.on_app_init],
    exception_handlers=exception_handlers,
)
