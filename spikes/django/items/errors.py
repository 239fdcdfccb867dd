"""One error body for everything: {"error": "<code>", "detail": "<message>"}.

DRF errors go through `exception_handler` (settings.REST_FRAMEWORK["EXCEPTION_HANDLER"]); Django's
own 400/404/500 pages (e.g. an unknown path) go through the handlerXXX views in the root URLconf.
"""

from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class InvalidCredentials(exceptions.APIException):
    status_code = status.HTTP_401_UNAUTHORIZED
    default_detail = "Invalid username or password."
    default_code = "invalid_credentials"


class UsernameTaken(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "This username is already taken."
    default_code = "username_taken"


# Contract code (and, where DRF's differs, status) for each DRF exception.
_CODES: list[tuple[type[exceptions.APIException], str, int | None]] = [
    (exceptions.ParseError, "malformed_json", None),
    (exceptions.NotAuthenticated, "not_authenticated", status.HTTP_401_UNAUTHORIZED),
    (exceptions.AuthenticationFailed, "not_authenticated", status.HTTP_401_UNAUTHORIZED),
    (exceptions.NotFound, "not_found", None),
    (exceptions.MethodNotAllowed, "method_not_allowed", None),
    # DRF says 400 for validation errors; the contract says 422.
    (exceptions.ValidationError, "validation_error", status.HTTP_422_UNPROCESSABLE_ENTITY),
    (exceptions.UnsupportedMediaType, "unsupported_media_type", None),
]


class DatabaseUnavailable(exceptions.APIException):
    """The database went away (restart, network): a 503 to retry, not a 500. Django's pool
    discards the broken connection, so the next request reconnects."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The database is unreachable."
    default_code = "database_unavailable"


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if isinstance(exc, Http404):  # get_object_or_404 and friends
        exc = exceptions.NotFound()
    elif isinstance(exc, RequestDataTooBig):  # over DATA_UPLOAD_MAX_MEMORY_SIZE
        from .parsers import PayloadTooLarge

        exc = PayloadTooLarge()
    elif isinstance(exc, (OperationalError, InterfaceError)):
        exc = DatabaseUnavailable()
    response = drf_exception_handler(exc, context)  # sets Allow, WWW-Authenticate headers
    if response is None:
        return None  # not an API error: a real bug, left to Django's 500 handler
    code, new_status = "error", None
    if isinstance(exc, exceptions.APIException):
        code = exc.default_code
        for exc_class, contract_code, contract_status in _CODES:
            if isinstance(exc, exc_class):
                code, new_status = contract_code, contract_status
                break
    response.data = {"error": code, "detail": _flatten(response.data)}
    if new_status is not None:
        response.status_code = new_status
    if response.status_code == status.HTTP_401_UNAUTHORIZED:
        response["WWW-Authenticate"] = "Bearer"
    return response


def _flatten(detail: Any, prefix: str = "") -> str:
    """DRF's nested error detail ({"price": ["..."]}) as one readable line."""
    if isinstance(detail, dict):
        if set(detail) == {"detail"}:
            return _flatten(detail["detail"], prefix)
        return "; ".join(_flatten(value, f"{prefix}{key}: ") for key, value in detail.items())
    if isinstance(detail, list):
        return "; ".join(_flatten(value, prefix) for value in detail)
    return f"{prefix}{detail}"


def error_response(status_code: int, code: str, detail: str) -> JsonResponse:
    return JsonResponse({"error": code, "detail": detail}, status=status_code)


def bad_request(request: HttpRequest, exception: Exception) -> JsonResponse:
    # Django's own 400 (e.g. an unparseable Host header). The contract's only 400 code is
    # malformed_json, so that is the code, with an honest detail.
    return error_response(400, "malformed_json", f"Bad request: {exception.__class__.__name__}.")


def not_found(request: HttpRequest, exception: Exception) -> JsonResponse:
    return error_response(404, "not_found", "Not found.")


def server_error(request: HttpRequest) -> JsonResponse:
    return error_response(500, "internal_error", "Internal server error.")
