"""Template helpers for maps that use the tile services."""

from django import template

from layers.models import Access, Layer

from ..mapproxy import catalog, mapfile

register = template.Library()


@register.simple_tag
def basemap_members(layers) -> list[str]:
    """The slugs among `layers` that the combined raster basemap (`/tiles/…/basemap/…`) draws: public
    vector layers whose style joins it (`{# basemap: N #}`), as `config.regenerate()` decides."""
    targets = mapfile.cass_targets()
    members = []
    for layer in layers:
        if layer.kind != Layer.Kind.VECTOR or layer.access != Access.PUBLIC or not layer.table_name \
                or layer.geometry_type not in catalog.MS_TYPES or not catalog.SLUG_RE.match(layer.slug):
            continue
        spec = catalog.LayerSpec(slug=layer.slug, title="", abstract="", attribution="", table=layer.table_name,
                                 schema="", geometry_type=layer.geometry_type, srid=0, access=layer.access,
                                 extent=None, label=None)
        if mapfile.basemap_order(mapfile.style_template(spec, targets)) is not None:
            members.append(layer.slug)
    return members
