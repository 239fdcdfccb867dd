"""Routes, all without a trailing slash."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from .quote import ItemQuoteView
from .views import HealthView, ItemViewSet, LoginView, MeView, RegisterView

router = SimpleRouter(trailing_slash=False)
router.register("items", ItemViewSet, basename="item")

urlpatterns = [
    path("health", HealthView.as_view()),
    path("auth/register", RegisterView.as_view()),
    path("auth/login", LoginView.as_view()),
    path("me", MeView.as_view()),
    path("items/<str:pk>/quote", ItemQuoteView.as_view()),
    *router.urls,
]
