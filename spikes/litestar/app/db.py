"""The advanced-alchemy plugin: one engine and fixed-size pool per worker, a session per request."""

from __future__ import annotations

import contextlib
from typing import Any

from advanced_alchemy.extensions.litestar import (
    AsyncSessionConfig,
    EngineConfig,
    SQLAlchemyAsyncConfig,
    SQLAlchemyPlugin,
)
from advanced_alchemy.extensions.litestar.plugins.init.config.asyncio import (
    default_handler_maker,
)
from sqlalchemy.exc import DBAPIError

from app.config import settings

_close_session = default_handler_maker()


async def close_session(message: Any, scope: Any) -> None:
    """The plugin's session close, except that a connection the database already dropped
    (restart) must not turn a sent answer into an error: SQLAlchemy has discarded it."""
    with contextlib.suppress(DBAPIError):
        await _close_session(message, scope)


alchemy_config = SQLAlchemyAsyncConfig(
    connection_string=settings.database_url,
    engine_config=EngineConfig(pool_size=settings.db_pool_size, max_overflow=0),
    # Handlers commit explicitly (to turn a unique violation into a 409), so responses can still
    # be built from the committed objects without a reload.
    session_config=AsyncSessionConfig(expire_on_commit=False),
    create_all=False,  # the schema is the harness's; never create or migrate it
    # PUT and PATCH set updated_at = now() themselves, in the database's clock.
    enable_touch_updated_timestamp_listener=False,
    before_send_handler=close_session,
    set_default_exception_handler=False,  # app.errors renders every error in the contract shape
)

alchemy = SQLAlchemyPlugin(config=alchemy_config)
