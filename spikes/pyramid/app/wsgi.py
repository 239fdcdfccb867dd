"""Gunicorn entry point: `gunicorn app.wsgi:app` (each worker imports it: one engine and pool)."""

from . import main, settings

app = main({}, **settings.from_env())
