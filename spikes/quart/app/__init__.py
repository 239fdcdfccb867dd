"""The spikebench contract API on Quart + quart-schema + SQLAlchemy 2 async ORM + asyncpg."""

from typing import Any

from quart import Quart
from quart_schema import QuartSchema

from . import auth, health, items
from .body import MAX_BODY_BYTES, ContractRequest
from .config import load_config
from .db import init_db
from .errors import register_error_handlers
from .security import init_security


def create_app(config: dict[str, Any] | None = None) -> Quart:
    app = Quart(__name__)
    app.request_class = ContractRequest
    app.url_map.merge_slashes = False  # /items//1 names nothing (404), not a 308 to /items/1
    app.config.from_mapping(config or load_config())
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES  # the contract's 413
    # Validation only: the contract's OpenAPI document is the spec, so no served docs routes.
    QuartSchema(
        app, openapi_path=None, redoc_ui_path=None, scalar_ui_path=None, swagger_ui_path=None
    )

    init_db(app)
    init_security(app)
    register_error_handlers(app)
    for blueprint in (health.bp, auth.bp, items.bp):
        app.register_blueprint(blueprint)
    return app
