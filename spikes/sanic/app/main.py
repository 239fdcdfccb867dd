"""Application assembly; Sanic's own server runs it: `sanic app.main:app --workers N`."""

from sanic import Sanic

from . import auth, health, items
from .config import apply_defaults
from .db import init_db
from .errors import register_error_handlers
from .security import init_security

# env_prefix: the contract's SPIKE_* variables become app.config keys (SPIKE_DB_POOL_SIZE ->
# DB_POOL_SIZE). strict_slashes: /me/ names nothing (404); Sanic would match it to /me.
app = Sanic("spikebench", env_prefix="SPIKE_", strict_slashes=True)
apply_defaults(app.config)
init_db(app)
init_security(app)
register_error_handlers(app)
app.blueprint([health.bp, auth.bp, items.bp])
