"""Every error, aiohttp's own 404/405/413 included, is {"error": code, "detail": text}: one
middleware turns exceptions into the contract's JSON bodies."""

import logging
from http import HTTPStatus

from aiohttp import web
from aiohttp.typedefs import Handler
from pydantic import ValidationError
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, ProgrammingError
from sqlalchemy.exc import TimeoutError as PoolTimeout

logger = logging.getLogger(__name__)

# Default code per status, for HTTPExceptions raised by aiohttp itself (router, client_max_size).
CODES = {
    400: "malformed_json",
    401: "not_authenticated",
    404: "not_found",
    405: "method_not_allowed",
    409: "username_taken",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    503: "database_unavailable",
}


class ApiError(Exception):
    def __init__(self, status: int, code: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.code, self.detail = status, code, detail


def error_response(
    status: int, code: str, detail: str, headers: dict[str, str] | None = None
) -> web.Response:
    headers = dict(headers or {})
    if status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return web.json_response({"error": code, "detail": detail}, status=status, headers=headers)


def _validation_detail(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or 'body'}: {error['msg']}"
        for error in exc.errors()
    )


@web.middleware
async def contract_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc.status, exc.code, exc.detail)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = CODES.get(exc.status) or HTTPStatus(exc.status).name.lower()
        allow = {"Allow": exc.headers["Allow"]} if "Allow" in exc.headers else None
        return error_response(exc.status, code, exc.reason, allow)  # a 405 keeps its Allow
    except ValidationError as exc:
        return error_response(422, "validation_error", _validation_detail(exc))
    except (IntegrityError, DataError, ProgrammingError):
        # errors about the data or the SQL are a bug (500), not an outage
        logger.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", "internal server error")
    except (DBAPIError, PoolTimeout, OSError):
        # The database went away (restart, network): a 503 the client may retry. SQLAlchemy
        # invalidates the broken pool connections, so later requests reconnect.
        return error_response(503, "database_unavailable", "database is unreachable")
    except Exception:
        logger.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", "internal server error")
