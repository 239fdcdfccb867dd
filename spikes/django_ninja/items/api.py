"""The API: one NinjaAPI, bearer-JWT auth by default, the contract's routes. Order of checks
everywhere: authentication (Ninja's auth runs first), then body/query validation, then existence,
so a bad body for a missing item is a 422, not a 404."""

from typing import Any

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.http import HttpRequest
from django.shortcuts import get_object_or_404
from django.utils import timezone
from ninja import NinjaAPI
from ninja.security import HttpBearer

from . import security
from .errors import ApiError, error_response, install_error_handlers
from .models import Item, User
from .parser import ContractParser
from .schemas import Credentials, ItemIn, ItemOut, ItemPage, ItemPatch, ListQuery, TokenOut, UserOut


class BearerJWT(HttpBearer):
    """A valid, unexpired token whose user row still exists; request.auth is the User."""

    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        # HttpBearer joins what follows "Bearer" on single spaces: RFC 7235 allows several
        # before the token (stripped here), but none inside it.
        token = token.lstrip(" ")
        if not token or any(c.isspace() for c in token):
            return None
        user_id = security.user_id_from_token(token)
        # Loading the row on every request is deliberate: a deleted user's token stops working.
        return User.objects.filter(pk=user_id).first() if user_id is not None else None


# No served docs: the contract's openapi.yaml is the specification.
api = NinjaAPI(auth=BearerJWT(), parser=ContractParser(), docs_url=None, openapi_url=None)
install_error_handlers(api)


def _user(request: HttpRequest) -> User:
    user: User = request.auth  # type: ignore[attr-defined]
    return user


def _owned_item(request: HttpRequest, raw_id: str, for_update: bool = False) -> Item:
    """One of the caller's items or 404; another user's item is simply not in the queryset."""
    item_id = security.parse_positive_bigint(raw_id)
    if item_id is None:
        raise ApiError(404, "not_found", "item not found")  # 'abc', '0', '-1', beyond BIGINT
    items = Item.objects.filter(owner=_user(request))
    return get_object_or_404(items.select_for_update() if for_update else items, pk=item_id)


@api.get("/health", auth=None)
def health(request: HttpRequest) -> Any:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError:
        return error_response(503, "database_unavailable", "database is unreachable")
    return {"status": "ok"}


@api.post("/auth/register", auth=None, response={201: UserOut})
def register(request: HttpRequest, data: Credentials) -> Any:
    try:
        # The unique constraint is the source of truth: a race between two registrations
        # ends in IntegrityError for one of them, never in a 500.
        user = User.objects.create(
            username=data.username, password_hash=security.hash_password(data.password)
        )
    except IntegrityError:
        raise ApiError(409, "username_taken", "username is already taken") from None
    return 201, user


@api.post("/auth/login", auth=None, response=TokenOut)
def login(request: HttpRequest, data: Credentials) -> Any:
    user = User.objects.filter(username=data.username).first()
    if user is None or not security.verify_password(user.password_hash, data.password):
        raise ApiError(401, "invalid_credentials", "wrong username or password")
    return {
        "access_token": security.create_access_token(user.id),
        "expires_in": settings.SPIKE_JWT_TTL_SECONDS,
    }


@api.get("/me", response=UserOut)
def me(request: HttpRequest) -> Any:
    return _user(request)


@api.get("/items", response=ItemPage)
def list_items(request: HttpRequest) -> Any:
    # Validated by hand, not as Query params: Ninja takes the last of a repeated key and
    # reads `limit=` as absent; the contract calls both a 422.
    query = ListQuery.model_validate(
        {k: v[0] if len(v) == 1 else v for k, v in request.GET.lists()}
    )
    items = Item.objects.filter(owner=_user(request)).order_by("id")
    total = items.count()
    # Skipping the query past the end also keeps huge offsets away from Postgres' BIGINT.
    end = query.offset + query.limit
    page = list(items[query.offset : end]) if query.offset < total else []
    return {"items": page, "total": total, "limit": query.limit, "offset": query.offset}


@api.post("/items", response={201: ItemOut})
def create_item(request: HttpRequest, data: ItemIn) -> Any:
    return 201, Item.objects.create(owner=_user(request), **data.model_dump())


@api.get("/items/{item_id}", response=ItemOut)
def get_item(request: HttpRequest, item_id: str) -> Any:
    return _owned_item(request, item_id)


def _write(request: HttpRequest, item_id: str, changes: dict[str, Any]) -> Item:
    # Lock the row: concurrent writes queue up, and an item deleted meanwhile is a 404
    # (save() on a vanished row would INSERT it again).
    with transaction.atomic():
        item = _owned_item(request, item_id, for_update=True)
        if changes:  # an empty PATCH changes nothing, updated_at included
            for field, value in changes.items():
                setattr(item, field, value)
            item.updated_at = timezone.now()
            item.save(update_fields=[*changes, "updated_at"])
    return item


@api.put("/items/{item_id}", response=ItemOut)
def replace_item(request: HttpRequest, item_id: str, data: ItemIn) -> Any:
    return _write(request, item_id, data.model_dump())


@api.patch("/items/{item_id}", response=ItemOut)
def update_item(request: HttpRequest, item_id: str, data: ItemPatch) -> Any:
    return _write(request, item_id, data.model_dump(exclude_unset=True))


@api.delete("/items/{item_id}", response={204: None})
def delete_item(request: HttpRequest, item_id: str) -> Any:
    # One DELETE whose row count decides: of N concurrent deletes exactly one sees its row.
    target = security.parse_positive_bigint(item_id)
    deleted = 0
    if target is not None:
        deleted, _ = Item.objects.filter(pk=target, owner=_user(request)).delete()
    if not deleted:
        raise ApiError(404, "not_found", "item not found")
    return 204, None
