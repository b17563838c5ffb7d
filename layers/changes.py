"""Announce that a layer's data changed, with the changed extent, so caches can be invalidated.

In-process listeners use the Django signal; other processes and servers LISTEN on the
PostgreSQL channel. Both fire only when the transaction that changed the data commits.
"""

import json

from django.db import connection, transaction
from django.db.models import F
from django.dispatch import Signal

from .models import Layer

CHANNEL = "geoplatform_layer_changed"

# sender=Layer, layer=Layer, bbox=(xmin, ymin, xmax, ymax) in EPSG:4490 or None, job=int or None
layer_data_changed = Signal()


def announce(layer: Layer, bbox: tuple | None, job: int | None = None) -> None:
    Layer.objects.filter(pk=layer.pk).update(data_version=F("data_version") + 1)
    layer.refresh_from_db(fields=["data_version"])
    payload = {"layer": layer.slug, "version": layer.data_version, "bbox": list(bbox) if bbox else None, "job": job}
    with connection.cursor() as cur:
        cur.execute("SELECT pg_notify(%s, %s)", [CHANNEL, json.dumps(payload)])
    # robust: the change has committed; a failing cache listener is logged, it does not undo it.
    transaction.on_commit(lambda: layer_data_changed.send(sender=Layer, layer=layer, bbox=bbox, job=job),
                          robust=True)
