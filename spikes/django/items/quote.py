"""GET /items/<id>/quote: the caller's item priced by the upstream pricing service (contract v2)."""

from typing import Any

import requests
from django.conf import settings
from django.db import connection
from rest_framework import exceptions, status
from rest_framework.exceptions import NotFound
from rest_framework.generics import get_object_or_404
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from . import security
from .models import Item
from .serializers import ItemSerializer

# One keep-alive pool per worker: gunicorn imports the app in each worker after forking. Threads
# (gthread, ASGI's thread) share it: urllib3's pool is thread-safe, nothing mutates the session.
_upstream = requests.Session()


class UpstreamError(exceptions.APIException):
    status_code = status.HTTP_502_BAD_GATEWAY
    default_detail = "The pricing service is unreachable."
    default_code = "upstream_error"


class UpstreamTimeout(exceptions.APIException):
    status_code = status.HTTP_504_GATEWAY_TIMEOUT
    default_detail = "The pricing service did not answer in time."
    default_code = "upstream_timeout"


def ask_upstream(item_id: int, price: Any) -> Any:
    timeout = settings.SPIKE_UPSTREAM_TIMEOUT_MS / 1000
    try:
        resp = _upstream.get(
            f"{settings.SPIKE_UPSTREAM_URL}/quote",
            params={"item_id": item_id, "price": str(price)},
            headers={"Accept": "application/json"},
            timeout=(timeout, timeout),
        )
    except requests.Timeout:  # before ConnectionError: ConnectTimeout is both
        raise UpstreamTimeout() from None
    except requests.RequestException:
        raise UpstreamError() from None
    try:
        quote = resp.json()["quote"] if resp.status_code == 200 else None
    except (ValueError, KeyError, TypeError):
        quote = None
    if isinstance(quote, bool) or not isinstance(quote, int | float):
        raise UpstreamError(f"The pricing service answered {resp.status_code}.")
    return quote


class ItemQuoteView(APIView):
    # DRF's idiom would be an @action(detail=True) on ItemViewSet; a view of its own keeps the
    # contract v2 endpoint in this module (one URL line in urls.py), with the same lookup rules.
    def get(self, request: Request, pk: str) -> Response:
        item_id = security.parse_positive_bigint(pk)
        if item_id is None:
            raise NotFound()  # 'abc', '0', '-1', beyond BIGINT: names no item
        item = get_object_or_404(Item.objects.filter(owner=request.user), pk=item_id)
        price = ItemSerializer(item).data["price"]
        connection.close()  # back to the pool: no pooled connection waits on the upstream
        return Response({"item_id": item.pk, "price": price, "quote": ask_upstream(item.pk, price)})
