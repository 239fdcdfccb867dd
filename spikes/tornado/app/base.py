"""The handler base: per-request session, authentication in `prepare`, the contract's body
rules, and every error (tornado's own 404/405 included) as {"error": code, "detail": text}."""

import asyncio
import contextlib
import functools
import json
import logging
from collections.abc import Awaitable, Callable
from decimal import Decimal
from http import HTTPStatus
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, ProgrammingError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncSession
from tornado.web import HTTPError, RequestHandler, stream_request_body

from app.db import SessionLocal
from app.security import load_user

logger = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)
Verb = TypeVar("Verb", bound=Callable[..., Awaitable[None]])
MAX_BODY_BYTES = 65_536
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
_background: set[asyncio.Task[None]] = set()


class ApiError(HTTPError):
    """An HTTPError that names its contract error code (401 has two of them)."""

    def __init__(self, status_code: int, code: str, detail: str) -> None:
        super().__init__(status_code, reason=HTTPStatus(status_code).phrase)
        self.code, self.detail = code, detail


def _integer(literal: str) -> int | Decimal:
    """Any length is JSON; past int()'s 4,300-digit guard it is a Decimal, so a range error
    (422) rather than a parse failure."""
    return int(literal) if len(literal) <= 4000 else Decimal(literal)


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def _error(exc: BaseException | None, status: int) -> tuple[int, str, str]:
    """(status, code, detail) for what ended the request."""
    if isinstance(exc, ApiError):
        return exc.status_code, exc.code, exc.detail
    if isinstance(exc, ValidationError):
        detail = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()
        )
        return 422, "validation_error", detail
    if isinstance(exc, DBAPIError | PoolTimeout | OSError) and not isinstance(
        exc, IntegrityError | DataError | ProgrammingError
    ):
        # The database went away (restart, network): a 503 the client may retry. SQLAlchemy
        # invalidates the broken pool connections, so later requests reconnect.
        return 503, "database_unavailable", "database is unreachable"
    if status >= 500:
        return 500, "internal_error", "internal server error"
    return status, CODES.get(status) or HTTPStatus(status).name.lower(), HTTPStatus(status).phrase


def authenticated(method: Verb) -> Verb:
    """Tornado's own `@authenticated` redirects to a login page (or answers 403); an API's
    answer is a 401. The user is loaded here, not in `prepare`: in streaming mode `prepare`
    runs before the body arrives, and answering then would cut the connection on the unread
    body."""

    @functools.wraps(method)
    async def wrapper(self: "JSONHandler", *args: str) -> None:
        user = await load_user(self.db, self.request.headers.get("Authorization", ""))
        if user is None:  # a deleted user's token too: every request loads the row
            raise ApiError(401, "not_authenticated", "missing, invalid or expired token")
        self.current_user = user
        await method(self, *args)

    return wrapper


# Streaming mode: tornado would otherwise parse form bodies itself before any handler code,
# and answer a broken multipart body with its own 400 where the contract wants a 401 or a 415.
@stream_request_body
class JSONHandler(RequestHandler):
    """Base of every handler. Order of checks (contract): the method (405), `@authenticated`
    (401), `read_json` (413/415/400/422), then the handler's 404."""

    db: AsyncSession

    def initialize(self) -> None:
        self.db = SessionLocal()  # takes a pooled connection only when first used
        self._chunks: list[bytes] = []
        self._size = 0

    def decode_argument(self, value: bytes, name: str | None = None) -> str:
        # tornado answers a path or query argument that is not UTF-8 with its own 400; here it
        # is just text that names no item (404) or is no number (422).
        return value.decode("utf-8", "replace")

    def _methods(self) -> list[str]:
        return [m for m in self.SUPPORTED_METHODS if type(self).__dict__.get(m.lower())]

    def data_received(self, chunk: bytes) -> None:
        self._size += len(chunk)
        if self._size <= MAX_BODY_BYTES:  # past the limit, count but keep nothing (413)
            self._chunks.append(chunk)

    async def read_json(self, model: type[M]) -> M:
        declared = self.request.headers.get("Content-Length", "")
        if self._size > MAX_BODY_BYTES or (declared.isdigit() and int(declared) > MAX_BODY_BYTES):
            raise ApiError(413, "payload_too_large", "request body is larger than 65536 bytes")
        raw = b"".join(self._chunks)
        if not raw:  # no body at all is a missing required body, not malformed JSON
            raise ApiError(422, "validation_error", "body: a JSON object is required")
        media_type = self.request.headers.get("Content-Type", "").split(";")[0]
        if media_type.strip().lower() != "application/json":
            raise ApiError(415, "unsupported_media_type", "request body must be application/json")
        try:
            # decode first: json.loads(bytes) would sniff UTF-16 and skip a BOM
            data = json.loads(
                raw.decode("utf-8"),
                parse_constant=_not_json,
                parse_int=_integer,
                parse_float=Decimal,
            )
        except RecursionError:
            raise ApiError(422, "validation_error", "body: JSON nested too deeply") from None
        except ValueError:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
            raise ApiError(400, "malformed_json", "request body is not valid JSON") from None
        return model.model_validate(data)

    def send_json(self, model: BaseModel, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(model.model_dump_json())

    def log_exception(self, typ: Any, value: BaseException | None, tb: Any) -> None:
        status = value.status_code if isinstance(value, HTTPError) else 500
        if _error(value, status)[0] == 500:  # contract answers (4xx, 503) are no server errors
            super().log_exception(typ, value, tb)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs["exc_info"][1] if "exc_info" in kwargs else None
        status, code, detail = _error(exc, status_code)
        self.set_status(status)  # tornado chose 500 for any exception; a dead database is 503
        if status == 401:
            self.set_header("WWW-Authenticate", "Bearer")
        if status == 405:
            self.set_header("Allow", ", ".join(self._methods()))
        if self.request.method not in self.SUPPORTED_METHODS:
            # tornado answers an unknown method before reading the body, then closes the
            # connection; say so, or a client reuses it and its next request is reset.
            self.set_header("Connection", "close")
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps({"error": code, "detail": detail}))

    def on_finish(self) -> None:
        # on_finish cannot await: close the session (back to the pool) in a task. A connection
        # the database dropped fails this rollback; SQLAlchemy has already discarded it.
        async def close(session: AsyncSession) -> None:
            with contextlib.suppress(DBAPIError):
                await session.close()

        task = asyncio.get_running_loop().create_task(close(self.db))
        _background.add(task)
        task.add_done_callback(_background.discard)


class NotFoundHandler(JSONHandler):
    """The application's default handler: an unknown path is a JSON 404 whatever the method
    (answered by the verb, not `prepare`, for the reason given at `authenticated`)."""

    async def get(self) -> None:
        raise ApiError(404, "not_found", "not found")

    head = post = put = patch = delete = options = get
