"""The spikebench contract API on Pyramid + SQLAlchemy 2 ORM (pyramid_tm) + psycopg 3."""

from typing import Any

from pyramid.config import Configurator
from pyramid.router import Router


def main(global_config: dict[str, Any], **settings: Any) -> Router:
    """The WSGI app, as the Pyramid cookiecutter builds it (settings come from settings.py)."""
    with Configurator(settings=settings) as config:
        config.include(".db")
        config.include(".security")
        config.include(".routes")
        config.scan(".views")
    return config.make_wsgi_app()
