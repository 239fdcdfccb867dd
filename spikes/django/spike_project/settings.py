"""Settings for the Django spike: a pure JSON API configured from environment variables only."""

import os
from urllib.parse import parse_qsl, unquote, urlsplit


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _database_from_url(url: str, pool_size: int) -> dict:
    """Map DATABASE_URL (postgresql://user:pass@host:port/db?k=v) onto a DATABASES entry."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise ValueError(f"DATABASE_URL must be a postgresql:// URL, got {parts.scheme!r}")
    options: dict = dict(parse_qsl(parts.query))
    # Django's built-in psycopg 3 pool: fixed size per worker process, no overflow. The timeout
    # bounds how long a request (and /health) waits for a connection when the database is down.
    options["pool"] = {"min_size": pool_size, "max_size": pool_size, "timeout": 5}
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(parts.path.lstrip("/")),
        "USER": unquote(parts.username or ""),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
        "CONN_MAX_AGE": 0,  # required with pooling: the pool owns connection lifetime
        "OPTIONS": options,
    }


SPIKE_DB_POOL_SIZE = _env_int("SPIKE_DB_POOL_SIZE", 4)
SPIKE_JWT_SECRET = os.environ.get("SPIKE_JWT_SECRET", "spikebench-development-secret-change-me")
SPIKE_JWT_TTL_SECONDS = _env_int("SPIKE_JWT_TTL_SECONDS", 3600)
SPIKE_ARGON2_TIME_COST = _env_int("SPIKE_ARGON2_TIME_COST", 2)
SPIKE_ARGON2_MEMORY_KIB = _env_int("SPIKE_ARGON2_MEMORY_KIB", 19456)
SPIKE_ARGON2_PARALLELISM = _env_int("SPIKE_ARGON2_PARALLELISM", 1)
SPIKE_UPSTREAM_URL = os.environ.get("SPIKE_UPSTREAM_URL", "http://127.0.0.1:9").rstrip("/")
SPIKE_UPSTREAM_TIMEOUT_MS = _env_int("SPIKE_UPSTREAM_TIMEOUT_MS", 1000)

DATABASES = {"default": _database_from_url(os.environ["DATABASE_URL"], SPIKE_DB_POOL_SIZE)}

# Django insists on a SECRET_KEY; nothing here uses Django's signing (no sessions, no CSRF).
SECRET_KEY = SPIKE_JWT_SECRET
DEBUG = False
ALLOWED_HOSTS = ["*"]
APPEND_SLASH = False
DATA_UPLOAD_MAX_MEMORY_SIZE = 65_536  # the contract's 413 (items.parsers checks DRF's stream)

INSTALLED_APPS = ["channels", "rest_framework", "items"]
# Pure JSON API: no sessions, auth, CSRF or messages. CommonMiddleware sets Content-Length.
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
]
ROOT_URLCONF = "spike_project.urls"
WSGI_APPLICATION = "spike_project.wsgi.application"
ASGI_APPLICATION = "spike_project.asgi.application"  # the asgi variant (Channels, /ws)
# Per process; items.live crosses worker processes with PostgreSQL LISTEN/NOTIFY (no Redis).
CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

USE_TZ = True
TIME_ZONE = "UTC"
USE_I18N = False

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["items.authentication.BearerJWTAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["items.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "items.negotiation.JSONOnlyNegotiation",
    "EXCEPTION_HANDLER": "items.errors.exception_handler",
    "DEFAULT_METADATA_CLASS": None,  # OPTIONS is not part of the API: 405 like any other verb
    "UNAUTHENTICATED_USER": None,  # no django.contrib.auth: request.user is None when anonymous
    "UNAUTHENTICATED_TOKEN": None,
    "STRICT_JSON": True,  # NaN/Infinity are not JSON (contract: 400); items.parsers enforces it
    "COERCE_DECIMAL_TO_STRING": False,
}

# With DEBUG off Django logs nothing to the console by default; keep 500 tracebacks visible.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django.request": {"handlers": ["console"], "level": "ERROR"}},
}
