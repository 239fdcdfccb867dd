"""One error body for everything: {"error": "<code>", "detail": "<message>"}.

Ninja's errors go through the API's exception handlers (install_error_handlers); Django's own
400/404/500 pages (e.g. an unknown path) through the handlerXXX views of the root URLconf."""

from collections.abc import Callable
from typing import Any

import pydantic
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError


class ApiError(HttpError):
    """An HttpError that names its contract error code (401 has two of them)."""

    def __init__(self, status_code: int, code: str, message: str) -> None:
        super().__init__(status_code, message)
        self.code = code


def error_response(status: int, code: str, detail: str) -> JsonResponse:
    response = JsonResponse({"error": code, "detail": detail}, status=status)
    if status == 401:
        response["WWW-Authenticate"] = "Bearer"
    return response


def _describe(errors: list[dict[str, Any]]) -> str:
    parts = []
    for err in errors:
        where = ".".join(str(p) for p in err["loc"] if p != "data")
        message = "must be a JSON object" if err["type"] == "model_type" else err["msg"]
        parts.append(f"{where}: {message}")
    # User input can echo into detail (an unknown field name holding a lone surrogate).
    return "; ".join(parts).encode("utf-8", "replace").decode("utf-8")


def install_error_handlers(api: NinjaAPI) -> None:
    def handler(exc_class: type[Exception]) -> Callable[[Callable], Callable]:
        return api.exception_handler(exc_class)

    @handler(HttpError)
    def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        # Ninja turns every parser exception into a 400; the cause says which contract error.
        if isinstance(exc.__cause__, ApiError):
            exc = exc.__cause__
        code = getattr(exc, "code", None) or {400: "malformed_json"}.get(exc.status_code, "error")
        return error_response(exc.status_code, code, str(exc))

    @handler(AuthenticationError)
    def not_authenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        return error_response(401, "not_authenticated", "missing, invalid or expired token")

    @handler(ValidationError)
    def validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
        return error_response(422, "validation_error", _describe(exc.errors))

    @handler(pydantic.ValidationError)
    def query_error(request: HttpRequest, exc: pydantic.ValidationError) -> HttpResponse:
        return error_response(422, "validation_error", _describe(exc.errors(include_url=False)))

    @handler(Http404)
    def not_found_error(request: HttpRequest, exc: Http404) -> HttpResponse:
        return error_response(404, "not_found", "item not found")

    @handler(RequestDataTooBig)
    def too_large(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
        return error_response(413, "payload_too_large", "request body is larger than 65536 bytes")

    @handler(OperationalError)
    @handler(InterfaceError)
    def database_down(request: HttpRequest, exc: Exception) -> HttpResponse:
        """The database went away (restart, network): a 503 to retry, not a 500. Django's
        pool discards the broken connection, so the next request reconnects."""
        return error_response(503, "database_unavailable", "database is unreachable")


def json_method_not_allowed(get_response: Callable[[HttpRequest], HttpResponse]) -> Callable:
    """Middleware: Ninja answers a wrong method with Django's plain-text HttpResponseNotAllowed;
    the contract wants the JSON error body (its Allow header already lists the path's methods)."""

    def middleware(request: HttpRequest) -> HttpResponse:
        response = get_response(request)
        if isinstance(response, HttpResponseNotAllowed):
            allow = response["Allow"]
            response = error_response(405, "method_not_allowed", "method not allowed")
            response["Allow"] = allow
        return response

    return middleware


def bad_request(request: HttpRequest, exception: Exception) -> JsonResponse:
    # Django's own 400 (e.g. an unparseable Host header). The contract's only 400 code is
    # malformed_json, so that is the code, with an honest detail.
    return error_response(400, "malformed_json", f"Bad request: {exception.__class__.__name__}.")


def not_found(request: HttpRequest, exception: Exception) -> JsonResponse:
    return error_response(404, "not_found", "Not found.")


def server_error(request: HttpRequest) -> JsonResponse:
    return error_response(500, "internal_error", "Internal server error.")
