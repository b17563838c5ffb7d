"""Keep vector tiles in step with the data: when a load or edit commits, exactly the cached
tiles that intersect the changed extent go, at every zoom, and low-zoom overviews are rebuilt
for the new data version. Changing a layer's access level moves its cache out of reach."""

from django.db.models.signals import post_delete, pre_save
from django.dispatch import receiver

from layers.changes import layer_data_changed
from layers.models import Layer

from . import cache, front, vector


@receiver(layer_data_changed)
def data_changed(sender, layer: Layer, bbox, job=None, **kwargs):
    if not layer.table_name:
        return  # a raster layer: no vector tiles (its MapProxy cache is handled in tiles.mapproxy)
    cache.invalidate(layer.slug, bbox, reach=vector.reach_degrees)
    vector.drop_overviews(layer)  # the next low-zoom request builds the new version's


@receiver(pre_save, sender=Layer)
def access_changed(sender, instance: Layer, **kwargs):
    if instance.pk:
        before = Layer.objects.filter(pk=instance.pk).values_list("access", flat=True).first()
        if before is not None and before != instance.access:
            front.withdraw(instance.slug)  # before the change commits: nginx stops serving it now
            cache.invalidate(instance.slug, None)


@receiver(post_delete, sender=Layer)
def layer_deleted(sender, instance: Layer, **kwargs):
    front.withdraw(instance.slug)
    cache.invalidate(instance.slug, None)
    if instance.table_name:
        vector.drop_overviews(instance)

