"""Gunicorn entry point: `gunicorn app.wsgi:app` (each worker imports it: one engine and pool)."""

from .routes import app

__all__ = ["app"]
