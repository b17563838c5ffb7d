from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PoiConfig(AppConfig):
    name = "ingest.poi"
    label = "poi"
    verbose_name = _("Points of interest")
