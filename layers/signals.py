from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from . import storage
from .models import Layer, RasterVersion


@receiver(post_delete, sender=Layer)
def drop_layer_table(sender, instance: Layer, **kwargs):
    # Same transaction as the catalog row: a rolled-back delete keeps its table.
    if instance.table_name:
        from .versions import history_table

        storage.drop_table(instance.table_name)
        storage.drop_table(history_table(instance.table_name))


@receiver(post_delete, sender=RasterVersion)
def remove_raster_file(sender, instance: RasterVersion, **kwargs):
    # Only once the deletion commits: a rolled-back delete keeps its file.
    path = instance.absolute_path
    transaction.on_commit(lambda: path.unlink(missing_ok=True))
