"""ASGI entry point: `hypercorn app.main:app` (one app, engine and pool per worker)."""

from . import create_app

app = create_app()
