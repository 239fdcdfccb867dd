"""Liveness that proves the database is reachable (else the 503 exception view)."""

from pyramid.request import Request
from pyramid.view import view_config
from sqlalchemy import text


@view_config(route_name="health", request_method="GET", renderer="json")
def health(request: Request) -> dict[str, str]:
    request.dbsession.execute(text("SELECT 1"))
    return {"status": "ok"}
