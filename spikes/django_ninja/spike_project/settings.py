"""Settings for the Django Ninja spike: a JSON API configured from environment variables only."""

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

DATABASES = {"default": _database_from_url(os.environ["DATABASE_URL"], SPIKE_DB_POOL_SIZE)}

# Django insists on a SECRET_KEY; nothing here uses Django's signing (no sessions, no CSRF).
SECRET_KEY = SPIKE_JWT_SECRET
DEBUG = False
ALLOWED_HOSTS = ["*"]
APPEND_SLASH = False
# The contract's 413: request.body raises RequestDataTooBig past this (read after auth).
DATA_UPLOAD_MAX_MEMORY_SIZE = 65_536

INSTALLED_APPS = ["items"]
# Pure JSON API: no sessions, auth, CSRF or messages. CommonMiddleware sets Content-Length.
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
    "items.errors.json_method_not_allowed",
]
ROOT_URLCONF = "spike_project.urls"
WSGI_APPLICATION = "spike_project.wsgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

USE_TZ = True
TIME_ZONE = "UTC"
USE_I18N = False

# With DEBUG off Django logs nothing to the console by default; keep 500 tracebacks visible.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django.request": {"handlers": ["console"], "level": "ERROR"}},
}
