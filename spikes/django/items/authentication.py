"""DRF authentication: `Authorization: Bearer <JWT>`, verified and backed by a live user row."""

from rest_framework import authentication, exceptions
from rest_framework.request import Request

from .models import User
from .security import user_id_from_token


class BearerJWTAuthentication(authentication.BaseAuthentication):
    keyword = b"bearer"

    def authenticate(self, request: Request) -> tuple[User, str] | None:
        # Split on spaces only (RFC 7235: 1*SP): a tab is not a separator.
        parts = [p for p in authentication.get_authorization_header(request).split(b" ") if p]
        if not parts or parts[0].lower() != self.keyword:
            return None  # no credentials: IsAuthenticated turns this into a 401
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header.")
        try:
            token = parts[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Malformed token.") from None
        user_id = user_id_from_token(token)
        if user_id is None:
            raise exceptions.AuthenticationFailed("Invalid or expired token.")
        # Loading the row on every request is deliberate: a deleted user's token stops working.
        try:
            return User.objects.get(pk=user_id), token
        except User.DoesNotExist:
            raise exceptions.AuthenticationFailed("Invalid or expired token.") from None

    def authenticate_header(self, request: Request) -> str:
        # Having a challenge is what makes DRF answer 401 rather than 403.
        return "Bearer"
