"""The Tornado application and its server: `python -m app.main --port=8000 --workers=2`.

Tornado is its own HTTP server. Its deployment guide's multi-process recipe: bind the sockets,
fork the workers (`fork_processes`), then start one event loop per child."""

import asyncio

from tornado.httpserver import HTTPServer
from tornado.netutil import bind_sockets
from tornado.options import define, options, parse_command_line
from tornado.process import fork_processes
from tornado.web import Application

from app.base import NotFoundHandler
from app.db import engine
from app.handlers import (
    HealthHandler,
    ItemHandler,
    ItemsHandler,
    LoginHandler,
    MeHandler,
    RegisterHandler,
)

define("address", default="127.0.0.1", help="address to bind")
define("port", default=8000, type=int, help="port to bind")
define("workers", default=1, type=int, help="worker processes (0: one per CPU)")


def make_app() -> Application:
    # Rules are anchored at both ends: /items/ or /items//1 match nothing (a 404).
    return Application(
        [
            (r"/health", HealthHandler),
            (r"/auth/register", RegisterHandler),
            (r"/auth/login", LoginHandler),
            (r"/me", MeHandler),
            (r"/items", ItemsHandler),
            (r"/items/([^/]+)", ItemHandler),
        ],
        default_handler_class=NotFoundHandler,
    )


async def serve(sockets: list) -> None:  # type: ignore[type-arg]
    server = HTTPServer(make_app())
    server.add_sockets(sockets)
    try:
        await asyncio.Event().wait()
    finally:
        await engine.dispose()


def main() -> None:
    parse_command_line()
    sockets = bind_sockets(options.port, options.address)
    fork_processes(options.workers)  # the parent stays here, restarting children that die
    asyncio.run(serve(sockets))


if __name__ == "__main__":
    main()
