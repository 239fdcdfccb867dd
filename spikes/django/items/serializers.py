"""Request validation and response shapes.

DRF is lenient by default (it coerces 123 to "123" and "12" to Decimal("12"), trims strings and
ignores unknown keys); the contract wants JSON types kept and unknown fields rejected, so the
fields and the base serializer below tighten exactly those points.
"""

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.core.validators import RegexValidator
from rest_framework import serializers
from rest_framework.fields import empty

from .models import Item, User


class StrictCharField(serializers.CharField):
    """A JSON string only, kept as sent (DRF's CharField also takes numbers and trims)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class JSONNumberDecimalField(serializers.DecimalField):
    """A JSON number only: strings like "12" and booleans are rejected, not coerced."""

    def to_internal_value(self, data: Any) -> Decimal:
        if isinstance(data, bool) or not isinstance(data, (int, float, Decimal)):
            self.fail("invalid")
        value = super().to_internal_value(data)
        return value.copy_abs() if value.is_zero() else value  # -0.0 is plain 0

    def to_representation(self, value: Decimal) -> int | float:
        """12.50 -> 12.5 and 3.00 -> 3: NUMERIC(9,2) fits a float exactly enough to print."""
        quantized = super().to_representation(value)
        if quantized == quantized.to_integral_value():
            return int(quantized)
        return float(quantized)


class QueryIntegerField(serializers.IntegerField):
    """An integer query parameter; `?limit=` or `?limit=5.0` is an error, not the default."""

    pattern = re.compile(r"[0-9]+", re.ASCII)  # the contract: plain digits, no sign

    def get_value(self, dictionary: Mapping[str, Any]) -> Any:
        # QueryDict.get() takes the last of a repeated key; the contract says 422 instead.
        values = dictionary.getlist(self.field_name) if hasattr(dictionary, "getlist") else []
        if len(values) > 1:
            return values
        return dictionary.get(self.field_name, empty)

    def to_internal_value(self, data: Any) -> int:
        if not isinstance(data, str) or not self.pattern.fullmatch(data):
            self.fail("invalid")
        if len(data) > self.MAX_STRING_LENGTH:
            self.fail("max_string_length")
        return int(data)


class StrictSerializerMixin:
    """Reject keys that are not writable fields (unknown, or read-only like `id`)."""

    fields: dict[str, serializers.Field]

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, Mapping):
            writable = {name for name, field in self.fields.items() if not field.read_only}
            unknown = sorted(set(data) - writable)
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)  # type: ignore[misc]


class CredentialsSerializer(StrictSerializerMixin, serializers.Serializer):
    """Body of /auth/register and /auth/login."""

    username = StrictCharField(
        min_length=3,
        max_length=32,
        validators=[RegexValidator(r"\A[A-Za-z0-9_]*\Z", "Only A-Z, a-z, 0-9 and _ are allowed.")],
    )
    password = StrictCharField(min_length=8, max_length=128)


class UserSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "username"]


class ItemSerializer(StrictSerializerMixin, serializers.ModelSerializer):
    """Item in and out. `description` defaults to null on create and PUT, untouched on PATCH."""

    name = StrictCharField(max_length=100)
    description = StrictCharField(max_length=1000, allow_null=True, allow_blank=True, default=None)
    price = JSONNumberDecimalField(
        max_digits=9,
        decimal_places=2,
        min_value=Decimal("0"),
        max_value=Decimal("1000000"),
        coerce_to_string=False,
    )

    class Meta:
        model = Item
        fields = ["id", "name", "description", "price", "created_at", "updated_at"]
        read_only_fields = ["id", "created_at", "updated_at"]


class PageQuerySerializer(serializers.Serializer):
    """`?limit=&offset=` of GET /items."""

    limit = QueryIntegerField(min_value=1, max_value=100, default=20)
    offset = QueryIntegerField(min_value=0, max_value=2**63 - 1, default=0)
