import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "geoplatform.settings")
django_application = get_wsgi_application()

from werkzeug.middleware.dispatcher import DispatcherMiddleware  # noqa: E402

from tiles.mapproxy.app import make_app  # noqa: E402

# /tiles/… → MapProxy (WMS, WMTS, TMS; docs/tiles.md); everything else → Django.
application = DispatcherMiddleware(django_application, {"/tiles": make_app()})
