from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TilesConfig(AppConfig):
    name = "tiles"
    verbose_name = _("Tiles")

    def ready(self):
        from . import invalidation  # noqa: F401  (listens for layer data changes)
