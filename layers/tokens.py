"""API tokens for scripts: `Authorization: Token <key>`.

Keys are shown once at creation; the database holds only their SHA-256 digest,
so a leaked database dump does not leak working tokens.
"""

import hashlib
import secrets

from django.conf import settings
from django.db import connection
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


def token_for_key(key: str) -> ApiToken | None:
    """The usable token a key belongs to, or None for an unknown, revoked or expired key, or
    one whose user is inactive."""
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
    return token


def count_request(token: ApiToken) -> tuple[bool, int]:
    """Count one request in the current minute: (allowed, seconds until the window ends)."""
    now = timezone.now()
    window = now.replace(second=0, microsecond=0)
    limit = token.rate_limit or settings.GEOPLATFORM["TOKEN_RATE_LIMIT"]
    with connection.cursor() as cur:
        cur.execute(
            """INSERT INTO layers_tokenusage (token_id, "window", count) VALUES (%s, %s, 1)
               ON CONFLICT (token_id, "window") DO UPDATE SET count = layers_tokenusage.count + 1
               RETURNING count""",
            [token.pk, window],
        )
        count = cur.fetchone()[0]
        if count == 1:  # first request of a new minute: forget the old ones
            cur.execute('DELETE FROM layers_tokenusage WHERE token_id = %s AND "window" < %s', [token.pk, window])
    return count <= limit, 60 - now.second


class TokenAuthenticationMiddleware:
    """Authenticates `Authorization: Token …` requests; a bad token is a 401, never a silent anonymous."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        scheme, _sep, key = header.partition(" ")
        if scheme.lower() == "token":
            token = token_for_key(key.strip())
            if token is None:
                response = JsonResponse({"code": "InvalidToken", "description": _("Invalid, expired or revoked API token.")}, status=401)
                response["WWW-Authenticate"] = 'Token realm="geoplatform"'
                return response
            allowed, retry_after = count_request(token)
            if not allowed:
                response = JsonResponse({"code": "TooManyRequests",
                                         "description": _("Request limit of this API token reached; try again shortly.")}, status=429)
                response["Retry-After"] = str(retry_after)
                return response
            request.user = token.user
            request._dont_enforce_csrf_checks = True  # not a browser session: CSRF does not apply
            request.auth_via = "token"
        return self.get_response(request)
