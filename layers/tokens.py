"""API tokens for scripts: `Authorization: Token <key>`.

Keys are shown once at creation; the database holds only their SHA-256 digest,
so a leaked database dump does not leak working tokens.
"""

import hashlib
import secrets

from django.http import JsonResponse
from django.utils import timezone
from django.utils.translation import gettext as _

from .models import ApiToken

KEY_PREFIX = "gp_"


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_token(user, name: str = "", expires_at=None) -> tuple[ApiToken, str]:
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(user=user, name=name, prefix=key[:10], digest=_digest(key), expires_at=expires_at)
    return token, key


def user_for_key(key: str):
    """The active user a key belongs to, or None for an unknown, revoked or expired key."""
    try:
        token = ApiToken.objects.select_related("user").get(digest=_digest(key), revoked=False)
    except ApiToken.DoesNotExist:
        return None
    now = timezone.now()
    if token.expires_at and token.expires_at <= now:
        return None
    if not token.user.is_active:
        return None
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


class TokenAuthenticationMiddleware:
    """Authenticates `Authorization: Token …` requests; a bad token is a 401, never a silent anonymous."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        scheme, _sep, key = header.partition(" ")
        if scheme.lower() == "token":
            user = user_for_key(key.strip())
            if user is None:
                response = JsonResponse({"code": "InvalidToken", "description": _("Invalid, expired or revoked API token.")}, status=401)
                response["WWW-Authenticate"] = 'Token realm="geoplatform"'
                return response
            request.user = user
            request._dont_enforce_csrf_checks = True  # not a browser session: CSRF does not apply
            request.auth_via = "token"
        return self.get_response(request)
