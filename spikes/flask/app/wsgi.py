"""Gunicorn entry point: `gunicorn app.wsgi:app` (one app, engine and pool per worker)."""

from . import create_app

app = create_app()
