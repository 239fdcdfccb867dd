"""GET /items/<id>/quote: the caller's item priced by the upstream pricing service (contract v2)."""

from typing import Any

import requests
from flask import Blueprint, Flask, current_app

from .db import db_session
from .errors import ApiError
from .items import _owned_item
from .security import login_required

bp = Blueprint("quote", __name__, url_prefix="/items")


def init_upstream(app: Flask) -> None:
    """One requests.Session (one keep-alive pool) per worker: gunicorn imports the app in each
    worker after forking, so no socket is shared between processes. A gthread worker's threads
    share it: urllib3's pool is thread-safe (10 connections ≥ SPIKE_THREADS) and nothing here
    changes the session's state."""
    app.extensions["upstream"] = requests.Session()


def _ask_upstream(item_id: int, price: Any) -> Any:
    session: requests.Session = current_app.extensions["upstream"]
    timeout = current_app.config["UPSTREAM_TIMEOUT_MS"] / 1000
    try:
        resp = session.get(
            f"{current_app.config['UPSTREAM_URL']}/quote",
            params={"item_id": item_id, "price": str(price)},
            headers={"Accept": "application/json"},
            timeout=(timeout, timeout),
        )
    except requests.Timeout:  # before ConnectionError: ConnectTimeout is both
        raise ApiError(504, "upstream_timeout", "pricing service did not answer in time") from None
    except requests.RequestException:
        raise ApiError(502, "upstream_error", "pricing service unreachable") from None
    try:
        quote = resp.json()["quote"] if resp.status_code == 200 else None
    except (ValueError, KeyError, TypeError):
        quote = None
    if isinstance(quote, bool) or not isinstance(quote, int | float):
        raise ApiError(502, "upstream_error", f"pricing service answered {resp.status_code}")
    return quote


@bp.get("/<item_id>/quote")
@login_required
def item_quote(item_id: str) -> dict[str, Any]:
    item = _owned_item(item_id)
    body = item.to_json()
    db_session.commit()  # end the read's transaction: no pooled connection waits on upstream
    quote = _ask_upstream(item.id, body["price"])
    return {"item_id": item.id, "price": body["price"], "quote": quote}
