"""The aiohttp application: `gunicorn app.main:app --worker-class aiohttp.GunicornWebWorker`."""

from aiohttp import web

from app.body import MAX_BODY_BYTES
from app.db import database, db_session
from app.errors import contract_errors
from app.routes import routes


def create_app() -> web.Application:
    app = web.Application(
        middlewares=[contract_errors, db_session],  # errors outermost: they see the pool's too
        client_max_size=MAX_BODY_BYTES,  # request.read() past this is a 413
    )
    app.cleanup_ctx.append(database)
    app.add_routes(routes)
    return app


app = create_app()
