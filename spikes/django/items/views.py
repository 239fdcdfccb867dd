"""API views. Order of checks everywhere: authentication (DRF's initial()), then body/query
validation, then existence, so a bad body for a missing item is a 422, not a 404."""

from typing import Any

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import QuerySet
from django.utils import timezone
from rest_framework import status, viewsets
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.generics import get_object_or_404
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from . import live, security
from .errors import InvalidCredentials, UsernameTaken
from .models import Item, User
from .serializers import CredentialsSerializer, ItemSerializer, PageQuerySerializer, UserSerializer


def json_body(request: Request) -> Any:
    """request.data, except that a missing body is a 422 (DRF would read it as {}, which would
    let an empty PATCH through)."""
    if request.stream is None:
        raise ValidationError("A JSON object body is required.")
    return request.data


class HealthView(APIView):
    authentication_classes = []
    permission_classes = []

    def get(self, request: Request) -> Response:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
        except DatabaseError:
            return Response(
                {"error": "database_unavailable", "detail": "The database is unreachable."},
                status=status.HTTP_503_SERVICE_UNAVAILABLE,
            )
        return Response({"status": "ok"})


class RegisterView(APIView):
    authentication_classes = []
    permission_classes = []

    def post(self, request: Request) -> Response:
        credentials = CredentialsSerializer(data=json_body(request))
        credentials.is_valid(raise_exception=True)
        data = credentials.validated_data
        try:
            # The unique constraint is the source of truth: a race between two registrations
            # ends in IntegrityError for one of them, never in a 500.
            user = User.objects.create(
                username=data["username"], password_hash=security.hash_password(data["password"])
            )
        except IntegrityError:
            raise UsernameTaken() from None
        return Response(UserSerializer(user).data, status=status.HTTP_201_CREATED)


class LoginView(APIView):
    authentication_classes = []
    permission_classes = []

    def post(self, request: Request) -> Response:
        credentials = CredentialsSerializer(data=json_body(request))
        credentials.is_valid(raise_exception=True)
        data = credentials.validated_data
        user = User.objects.filter(username=data["username"]).first()
        if user is None or not security.verify_password(user.password_hash, data["password"]):
            raise InvalidCredentials()
        if security.password_hasher.check_needs_rehash(user.password_hash):
            user.password_hash = security.hash_password(data["password"])
            user.save(update_fields=["password_hash"])
        return Response(
            {
                "access_token": security.create_access_token(user.id),
                "token_type": "bearer",
                "expires_in": settings.SPIKE_JWT_TTL_SECONDS,
            }
        )


class MeView(APIView):
    def get(self, request: Request) -> Response:
        return Response(UserSerializer(request.user).data)


class ItemViewSet(viewsets.GenericViewSet):
    """The caller's items. Another user's item is simply not in the queryset: 404, never 403."""

    serializer_class = ItemSerializer
    lookup_value_regex = "[^/]+"  # any segment reaches the view, so auth runs before the 404

    def get_queryset(self) -> QuerySet[Item]:
        return Item.objects.filter(owner=self.request.user).order_by("id")

    def get_object(self, for_update: bool = False) -> Item:
        item_id = security.parse_positive_bigint(self.kwargs["pk"])
        if item_id is None:
            raise NotFound()  # 'abc', '0', '-1', beyond BIGINT: names no item
        queryset = self.get_queryset()
        if for_update:
            queryset = queryset.select_for_update()
        return get_object_or_404(queryset, pk=item_id)

    def list(self, request: Request) -> Response:
        query = PageQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        limit, offset = query.validated_data["limit"], query.validated_data["offset"]
        items = self.get_queryset()
        total = items.count()
        # Skipping the query past the end also keeps huge offsets away from Postgres' BIGINT.
        page = list(items[offset : offset + limit]) if offset < total else []
        return Response(
            {
                "items": self.get_serializer(page, many=True).data,
                "total": total,
                "limit": limit,
                "offset": offset,
            }
        )

    def create(self, request: Request) -> Response:
        serializer = self.get_serializer(data=json_body(request))
        serializer.is_valid(raise_exception=True)
        with transaction.atomic():  # the insert and its notification commit together
            live.publish("item.created", serializer.save(owner=request.user))
        return Response(serializer.data, status=status.HTTP_201_CREATED)

    def retrieve(self, request: Request, pk: str) -> Response:
        return Response(self.get_serializer(self.get_object()).data)

    def update(self, request: Request, pk: str, partial: bool = False) -> Response:
        # Validate before looking the item up (contract order: 422 before 404).
        serializer = self.get_serializer(data=json_body(request), partial=partial)
        serializer.is_valid(raise_exception=True)
        # Lock the row: concurrent writes queue up, and an item deleted meanwhile is a 404
        # (save() on a vanished row would INSERT it again).
        with transaction.atomic():
            item = self.get_object(for_update=True)
            if serializer.validated_data:  # an empty PATCH changes nothing, updated_at included
                serializer.instance = item
                serializer.save(updated_at=timezone.now())
            live.publish("item.updated", item)  # an empty PATCH is announced too
        return Response(self.get_serializer(item).data)

    def partial_update(self, request: Request, pk: str) -> Response:
        return self.update(request, pk, partial=True)

    def destroy(self, request: Request, pk: str) -> Response:
        # Lock, then delete: of N concurrent deletes exactly one still finds the row.
        with transaction.atomic():
            item = self.get_object(for_update=True)
            live.publish_deleted(item.owner_id, item.pk)
            item.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)
