"""The contract's request-body rules where FastAPI reads the body (its documented pattern of a
custom Request and APIRoute class): at most 64 KiB, `application/json` only, strict RFC 8259
JSON in UTF-8, numbers of any length and fractions parsed exactly (1e-400 is not 0.0), and
nesting beyond the parser a 422."""

import json
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.errors import ApiError

MAX_BODY_BYTES = 65_536
WRITE_METHODS = {"POST", "PUT", "PATCH"}
# Errors about the body; routes with authentication must authenticate before answering them.
BODY_STATUSES = {400, 413, 415, 422}


def _integer(literal: str) -> int | Decimal:
    """Any length is JSON; past int()'s 4,300-digit guard it is a Decimal, so a range error
    (422) rather than a parse failure."""
    return int(literal) if len(literal) <= 4000 else Decimal(literal)


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")  # FastAPI answers a parse failure with a 400


class ContractRequest(Request):
    async def body(self) -> bytes:
        if not hasattr(self, "_body"):
            declared = self.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
                raise ApiError(413, "payload_too_large", "request body is larger than 65536 bytes")
            if len(await super().body()) > MAX_BODY_BYTES:
                raise ApiError(413, "payload_too_large", "request body is larger than 65536 bytes")
        return await super().body()

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            raw = await self.body()
            try:
                text = raw.decode("utf-8")  # json.loads(bytes) would sniff UTF-16 and skip a BOM
            except UnicodeDecodeError as exc:
                raise json.JSONDecodeError("body is not UTF-8", "", 0) from exc
            try:
                self._json = json.loads(
                    text, parse_constant=_not_json, parse_int=_integer, parse_float=Decimal
                )
            except RecursionError:
                raise ApiError(422, "validation_error", "body: JSON nested too deeply") from None
            if isinstance(self._json, Decimal):  # a bare number: FastAPI would read it as an
                self._json = float(self._json)  # object with attributes (an empty PATCH)
        return self._json


class JSONRoute(APIRoute):
    """Routes whose bodies follow the contract: checked before FastAPI parses them."""

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        handler = super().get_route_handler()

        async def route_handler(request: Request) -> Response:
            request = ContractRequest(request.scope, request.receive)
            try:
                if request.method in WRITE_METHODS and await request.body():
                    media_type = request.headers.get("content-type", "").split(";")[0]
                    if media_type.strip().lower() != "application/json":
                        raise ApiError(
                            415, "unsupported_media_type", "request body must be application/json"
                        )
                return await handler(request)
            except RequestValidationError as exc:
                if any(error["type"] == "json_invalid" for error in exc.errors()):
                    await self.before_body_error(request)
                raise
            except StarletteHTTPException as exc:
                if exc.status_code in BODY_STATUSES:
                    await self.before_body_error(request)
                raise

        return route_handler

    async def before_body_error(self, request: Request) -> None:
        """Hook for checks that outrank body errors (authentication, in AuthFirstRoute)."""
