"""The spikebench contract API on Flask + SQLAlchemy 2 ORM + psycopg 3."""

from decimal import Decimal
from typing import Any

from flask import Flask
from flask.json.provider import DefaultJSONProvider

from . import auth, health, items, quote
from .config import load_config
from .db import init_db
from .errors import MAX_BODY_BYTES, register_error_handlers
from .live import init_live
from .security import init_security


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON (RFC 8259)")


class DecimalJSONProvider(DefaultJSONProvider):
    """Parse JSON numbers as Decimal so a price like 12.345 is seen exactly, never via float,
    and a 5,000-digit literal is a range error (422), not Python's int-digits guard (400).

    Strict RFC 8259 (contract): UTF-8 only (json.loads would sniff UTF-16 and skip a BOM),
    no NaN/Infinity. A ValueError here is Flask's 400."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        kwargs.setdefault("parse_float", Decimal)
        kwargs.setdefault("parse_int", Decimal)
        kwargs.setdefault("parse_constant", _not_json)
        if isinstance(s, bytes):
            s = s.decode("utf-8")  # UnicodeDecodeError is a ValueError
        return super().loads(s, **kwargs)


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.json = DecimalJSONProvider(app)
    app.url_map.merge_slashes = False  # /items//1 names nothing (404), not a 308 to /items/1
    app.config.from_mapping(config or load_config())
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES  # the contract's 413

    init_db(app)
    init_security(app)
    quote.init_upstream(app)
    init_live(app)
    register_error_handlers(app)
    for blueprint in (health.bp, auth.bp, items.bp, quote.bp):
        app.register_blueprint(blueprint)
    return app
