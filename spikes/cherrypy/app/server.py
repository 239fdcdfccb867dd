"""One CherryPy process: the app tree, its tools and its own HTTP server (cheroot) with a pool of
SPIKE_THREADS threads. serve.py starts SPIKE_WORKERS of these on one listening socket."""

import cherrypy

from .config import Settings
from .db import SAEnginePlugin, SATool
from .errors import NotFound, error_page, error_response
from .resources import Root
from .security import Security


def _authenticate(security: Security) -> None:
    if isinstance(cherrypy.request.handler, cherrypy.HTTPError):
        return  # the dispatcher's 405 (or 404) comes first, as routing does in the other spikes
    cherrypy.request.user = security.authenticate(cherrypy.request.db)


def _exact_path() -> None:
    # CherryPy joins paths with empty segments dropped; the contract says /me/ and /items//1
    # name nothing (404), so the path as sent (cheroot's REQUEST_URI) is checked first.
    request = cherrypy.request
    path = request.wsgi_environ.get("REQUEST_URI", request.path_info).partition("?")[0]
    if "//" in path or (path != "/" and path.endswith("/")):
        raise NotFound()


cherrypy.tools.db = SATool()
cherrypy.tools.auth = cherrypy.Tool("before_handler", _authenticate, priority=50)
cherrypy.tools.exact_path = cherrypy.Tool("on_start_resource", _exact_path, priority=10)


def run(host: str, port: int, threads: int) -> None:
    settings = Settings.from_env()
    security = Security(settings)
    SAEnginePlugin(cherrypy.engine, settings.database_url, settings.db_pool_size).subscribe()
    cherrypy.config.update(
        {
            "environment": "production",  # no autoreload, no tracebacks in answers
            "log.screen": False,
            "server.socket_host": host,
            "server.socket_port": port,
            "server.thread_pool": threads,
        }
    )
    app_config = {
        "/": {
            "request.dispatch": cherrypy.dispatch.MethodDispatcher(),
            # Bodies are read raw by body.json_body (the contract's JSON rules), never as forms.
            "request.process_request_body": False,
            "request.error_response": error_response,
            "error_page.default": error_page,
            "tools.trailing_slash.on": False,
            "tools.exact_path.on": True,
            "tools.db.on": True,
            "tools.auth.security": security,
        }
    }
    cherrypy.tree.mount(Root(security), "/", app_config)
    cherrypy.engine.signals.subscribe()
    cherrypy.engine.start()
    cherrypy.engine.block()
