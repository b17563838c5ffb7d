"""Keep the generated configuration and the tile cache in step with the catalog.

`connect()` (called from the tiles app's `ready()`), for a tiles directory already configured for
this database (`config.serves_this_database()`):
- a layer saved or deleted → `regenerate()` once the transaction commits (new layers, titles,
  access levels, extents; a layer that stops being public loses its stored tiles);
- a layer's data changed (`layers.changes.layer_data_changed`, sent after commit) → its cached
  tiles in the changed box are removed, and the configuration is regenerated (the extent moved).
"""

import itertools
import logging
import threading

from django.db import transaction
from django.db.models.signals import post_delete, post_save

from layers.changes import layer_data_changed
from layers.models import Layer

log = logging.getLogger(__name__)


# A load saves several layers in one transaction (a DEM and its products, a DXF's fan-out): their
# commit hooks run one after another in this thread, after the commit, and one regeneration sees
# them all. So a hook scheduled before a regeneration this thread started since is skipped.
_sequence = itertools.count(1)
_local = threading.local()


def _regenerate(scheduled: int | None = None):
    from .config import regenerate, serves_this_database

    if scheduled is not None and getattr(_local, "started", 0) > scheduled:
        return
    _local.started = next(_sequence)
    try:
        if serves_this_database():
            regenerate()
    except Exception:  # a broken tile configuration must not fail the catalog change itself
        log.exception("tiles: regenerating the MapProxy configuration failed")


def _layer_changed(sender, instance, **kwargs):
    scheduled = next(_sequence)
    transaction.on_commit(lambda: _regenerate(scheduled))


def _data_changed(sender, layer, bbox=None, **kwargs):
    from .config import serves_this_database
    from .invalidate import layer_tiles

    try:
        if serves_this_database():
            layer_tiles(layer.slug, bbox)
    except Exception:
        log.exception("tiles: removing cached tiles of %s failed", layer.slug)
    _regenerate()


def connect() -> None:
    post_save.connect(_layer_changed, sender=Layer, dispatch_uid="tiles.mapproxy.layer_saved")
    post_delete.connect(_layer_changed, sender=Layer, dispatch_uid="tiles.mapproxy.layer_deleted")
    layer_data_changed.connect(_data_changed, dispatch_uid="tiles.mapproxy.data_changed")
