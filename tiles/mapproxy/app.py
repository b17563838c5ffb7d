"""The tile service as a WSGI application: `make_app()`, mounted at `/tiles` beside Django."""

import logging
import os
import threading
from urllib.parse import parse_qsl

from django.core import signals

from . import config
from .auth import authorizer, caller
from .paths import paths

log = logging.getLogger(__name__)


def _plain(start_response, status: str, text: str, headers=()):
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"), *headers])
    return [text.encode()]


class AccessMiddleware:
    """Authenticates the caller through Django and hands MapProxy a `mapproxy.authorize` hook that
    allows exactly the layers `layers_for(user, VIEW)` returns."""

    VARY = "Cookie, Authorization"

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        # Django's request signals keep the database connection healthy (close_old_connections),
        # as for a Django view; the database is only needed for the access check.
        signals.request_started.send(sender=self.__class__, environ=environ)
        try:
            who = caller(environ)
        finally:
            signals.request_finished.send(sender=self.__class__)

        if who.response is not None:  # invalid token (401) or rate limit (429)
            response = who.response
            headers = [*response.items(), ("Vary", self.VARY)]
            start_response(f"{response.status_code} {response.reason_phrase}", headers)
            return [response.content]

        # The combined basemap holds public layers only (and no catalog layer has its name).
        allowed = who.layers | {config.BASEMAP}
        # MapProxy 7 answers WMS GetLegendGraphic without asking the hook.
        args = {k.lower(): v for k, v in parse_qsl(environ.get("QUERY_STRING", ""))}
        if args.get("request", "").lower() == "getlegendgraphic" and args.get("layer") not in allowed:
            return _plain(start_response, "403 Forbidden", "forbidden", [("Vary", self.VARY)])

        environ["mapproxy.authorize"] = authorizer(allowed)

        def start(status, headers, exc_info=None):
            if who.authenticated:  # what an authorised caller sees is for them alone
                headers = [(k, v) for k, v in headers if k.lower() != "cache-control"]
                headers.append(("Cache-Control", "private"))
            vary = [v for k, v in headers if k.lower() == "vary"] + [self.VARY]
            headers = [(k, v) for k, v in headers if k.lower() != "vary"] + [("Vary", ", ".join(vary))]
            return start_response(status, headers, exc_info)

        return self.app(environ, start)


class _Pending:
    """Stands in while no configuration could be generated (database down, mapserv missing): 503,
    and another attempt on the next request. The rest of the site keeps working."""

    def __init__(self, build):
        self.build = build
        self.app = None
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        if self.app is None:
            with self.lock:
                if self.app is None:
                    try:
                        self.app = self.build()
                    except Exception:
                        log.exception("tiles: the tile service is not available")
        if self.app is None:
            return _plain(start_response, "503 Service Unavailable", "tile service not configured",
                          [("Retry-After", "30")])
        return self.app(environ, start_response)


def make_app(*, reload: bool = True):
    """MapProxy on the configuration generated from the catalog, behind the platform's access rules.
    One per process: MapServer's config file is named in the (process-wide) environment.

    The configuration is regenerated at start (written only if it changed: a new database, new
    styles after a deploy) and MapProxy reloads it whenever `regenerate()` rewrites it later."""
    from mapproxy.wsgiapp import make_wsgi_app

    p = paths()
    # MapServer 8 reads its config file from the environment; MapProxy's CGI client passes it on.
    os.environ["MAPSERVER_CONFIG_FILE"] = str(p.mapserver_conf)

    def build():
        try:
            config.regenerate()
        except Exception:
            if not p.mapproxy_yaml.exists():
                raise
            log.exception("tiles: regenerating failed; serving the previous configuration")
        return AccessMiddleware(make_wsgi_app(str(p.mapproxy_yaml), reloader=reload))

    pending = _Pending(build)
    try:
        pending.app = build()
    except Exception:
        log.exception("tiles: the tile service is not available yet; retrying on the next request")
    return pending
