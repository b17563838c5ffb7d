from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TilesConfig(AppConfig):
    name = "tiles"
    verbose_name = _("Tiles")

    def ready(self):
        from . import invalidation  # noqa: F401  (vector tiles follow layer data changes)
        from .mapproxy import signals as mapproxy_signals

        mapproxy_signals.connect()  # so do MapProxy's configuration and cache
