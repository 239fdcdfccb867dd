"""The spikebench contract API on Flask + SQLAlchemy 2 ORM + psycopg 3."""

from decimal import Decimal
from typing import Any

from flask import Flask
from flask.json.provider import DefaultJSONProvider

from . import auth, health, items
from .config import load_config
from .db import init_db
from .errors import register_error_handlers
from .security import init_security


class DecimalJSONProvider(DefaultJSONProvider):
    """Parse JSON decimals as Decimal so a price like 12.345 is seen exactly, never via float."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        kwargs.setdefault("parse_float", Decimal)
        return super().loads(s, **kwargs)


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.json = DecimalJSONProvider(app)
    app.config.from_mapping(config or load_config())

    init_db(app)
    init_security(app)
    register_error_handlers(app)
    for blueprint in (health.bp, auth.bp, items.bp):
        app.register_blueprint(blueprint)
    return app
