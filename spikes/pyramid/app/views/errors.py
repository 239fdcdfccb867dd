"""Every error is {"error": code, "detail": msg}, Pyramid's own 404/403 pages included."""

from typing import Any

from pyramid.exceptions import PredicateMismatch, URLDecodeError
from pyramid.httpexceptions import HTTPException
from pyramid.request import Request
from pyramid.view import exception_view_config, forbidden_view_config, notfound_view_config
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from ..errors import ApiError

ErrorBody = dict[str, Any]


def _error(request: Request, status: int, code: str, detail: str) -> ErrorBody:
    request.response.status_code = status
    return {"error": code, "detail": detail}


def _allowed_methods(request: Request) -> list[str]:
    """The request methods of every view on the matched route (HEAD comes with GET)."""
    introspector = request.registry.introspector
    route = introspector.get("routes", request.matched_route.name)
    methods: set[str] = set()
    for related in introspector.related(route):
        if related.category_name == "views":
            found = related["request_methods"] or ()  # as given: one string or a tuple
            methods.update((found,) if isinstance(found, str) else found)
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


@notfound_view_config(renderer="json")
def not_found(exc: Exception, request: Request) -> ErrorBody:
    # Pyramid answers a known route with no view for the method as a 404 (PredicateMismatch);
    # the contract wants a 405 that lists the path's methods.
    if isinstance(exc, PredicateMismatch) and request.matched_route is not None:
        request.response.headers["Allow"] = ", ".join(_allowed_methods(request))
        return _error(request, 405, "method_not_allowed", "method not allowed")
    return _error(request, 404, "not_found", "not found")


@forbidden_view_config(renderer="json")
def forbidden(request: Request) -> ErrorBody:
    # The only permission is "authenticated", so every denial is the contract's 401.
    request.response.headers["WWW-Authenticate"] = "Bearer"
    return _error(request, 401, "not_authenticated", "not authenticated")


@exception_view_config(ApiError, renderer="json")
def api_error(exc: ApiError, request: Request) -> ErrorBody:
    request.response.headers.update(exc.headers)
    return _error(request, exc.status, exc.code, exc.detail)


@exception_view_config(URLDecodeError, renderer="json")
def undecodable_path(request: Request) -> ErrorBody:
    return _error(request, 404, "not_found", "not found")  # a path that is not UTF-8 names nothing


@exception_view_config(OperationalError, renderer="json")
@exception_view_config(InterfaceError, renderer="json")
@exception_view_config(PoolTimeout, renderer="json")
def database_down(request: Request) -> ErrorBody:
    """The database went away (restart, network): a 503 the client may retry, not a 500.
    pyramid_tm aborts the transaction; the pool drops the broken connections."""
    return _error(request, 503, "database_unavailable", "database is unreachable")


@exception_view_config(HTTPException, renderer="json")
def http_exception(exc: HTTPException, request: Request) -> ErrorBody:
    code = exc.title.lower().replace(" ", "_")
    return _error(request, exc.code, code, exc.detail or exc.explanation)
