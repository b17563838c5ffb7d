"""Who is calling, decided by Django's own middlewares, and what MapProxy may show them.

A WSGI environ becomes a Django request; the session, authentication and API-token middlewares run
on it exactly as for a Django view (a bad token is a 401, over the rate limit a 429, never a silent
anonymous), then `layers.access.layers_for` names the layers the caller may view.
"""

import threading
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.middleware import SessionMiddleware
from django.core.handlers.wsgi import WSGIRequest
from django.http import HttpResponse

from layers.access import layers_for
from layers.models import Permission
from layers.tokens import TokenAuthenticationMiddleware

# What an allowed layer may do. No feature info: it would bypass the query API's audit.
ALLOWED = {"map": True, "tile": True, "featureinfo": False, "legendgraphic": True}
# Requests without credentials reuse the public layer list this long (a tile map makes dozens of
# requests a second; the per-request queries would cost more than serving a cached tile). A layer
# made non-public disappears for anonymous callers at most this long after its change commits.
PUBLIC_TTL = 2.0

_public_lock = threading.Lock()
_public: tuple[float, frozenset[str]] = (0.0, frozenset())


@dataclass
class Caller:
    authenticated: bool = False
    layers: frozenset[str] = field(default_factory=frozenset)
    response: HttpResponse | None = None  # an answer the middlewares gave instead (401, 429)


class _Identified(HttpResponse):
    def __init__(self, user):
        super().__init__()
        self.user = user


def _identify(request):
    user = request.user
    user.is_authenticated  # resolve the lazy user inside the middleware chain  # noqa: B018
    return _Identified(user)


_chain = SessionMiddleware(AuthenticationMiddleware(TokenAuthenticationMiddleware(_identify)))


def public_layers() -> frozenset[str]:
    global _public
    with _public_lock:
        fetched, slugs = _public
        if time.monotonic() - fetched > PUBLIC_TTL:
            slugs = frozenset(layers_for(AnonymousUser(), Permission.VIEW).values_list("slug", flat=True))
            _public = (time.monotonic(), slugs)
        return slugs


def forget_public_layers() -> None:
    global _public
    with _public_lock:
        _public = (0.0, frozenset())


def has_credentials(environ: dict) -> bool:
    return bool(environ.get("HTTP_AUTHORIZATION")) or \
        f"{settings.SESSION_COOKIE_NAME}=" in environ.get("HTTP_COOKIE", "")


def caller(environ: dict) -> Caller:
    if not has_credentials(environ):
        return Caller(layers=public_layers())
    # A copy: WSGIRequest rewrites PATH_INFO/SCRIPT_NAME in the dict it is given.
    response = _chain(WSGIRequest(dict(environ)))
    if not isinstance(response, _Identified):
        return Caller(response=response)
    user = response.user
    slugs = frozenset(layers_for(user, Permission.VIEW).values_list("slug", flat=True))
    return Caller(authenticated=bool(user.is_authenticated), layers=slugs)


def authorizer(allowed: frozenset[str]):
    """The `mapproxy.authorize` callable: the allowed layers only, for every service. Answers for
    every allowed layer, not only those asked about: MapProxy's TMS asks with its internal keys
    (layer, grid) but then looks the answer up by layer name."""
    permissions = {name: dict(ALLOWED) for name in allowed}

    def authorize(service, layers, environ=None, query_extent=None, **kwargs):
        return {"authorized": "partial", "layers": permissions}

    return authorize
