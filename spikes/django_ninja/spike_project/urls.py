"""Root URLconf: the Ninja API at the root; Django's own error pages speak the contract's body."""

from django.urls import path
from items.api import api

urlpatterns = [path("", api.urls)]

handler400 = "items.errors.bad_request"
handler404 = "items.errors.not_found"
handler500 = "items.errors.server_error"
