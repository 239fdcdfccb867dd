"""Root URLconf; the handlers make Django's own error pages speak the contract's JSON error body."""

from django.urls import include, path

urlpatterns = [path("", include("items.urls"))]

handler400 = "items.errors.bad_request"
handler404 = "items.errors.not_found"
handler500 = "items.errors.server_error"
