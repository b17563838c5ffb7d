from django.contrib.gis.forms.widgets import OSMWidget


class LocalOSMWidget(OSMWidget):
    """GeoDjango's map widget with OpenLayers served by the platform instead of a CDN
    (government networks are often closed). Centred on the prefecture."""

    default_lon = 86.15
    default_lat = 41.73
    default_zoom = 6

    class Media:
        extend = False  # replace, not add to, the CDN links
        css = {"all": ("vendor/ol/ol.css", "gis/css/ol3.css")}
        js = ("vendor/ol/ol.js", "gis/js/OLMapWidget.js")
