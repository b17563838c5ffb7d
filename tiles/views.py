"""Vector tiles for the layers the caller may see: tiles, TileJSON, an index, a MapLibre style."""

from django.http import Http404, HttpResponse, HttpResponseNotModified, JsonResponse
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET

from layers import access, storage
from layers.models import Access, Layer

from . import cache, front, vector
from .grid import MAX_ZOOM, valid

MVT = "application/vnd.mapbox-vector-tile"
COLOURS = ["#1a6fb0", "#c0392b", "#2e8b57", "#8e44ad", "#d35400", "#16a085", "#7f8c8d", "#b7950b"]


def _layers(request):
    return access.layers_for(request.user).filter(kind=Layer.Kind.VECTOR).exclude(table_name=None).order_by("slug")


def _layer(request, slug) -> Layer:
    layer = _layers(request).filter(slug=slug).first()
    if layer is None:
        raise Http404("no such layer")
    return layer


def _private(response, request, layer=None):
    patch_vary_headers(response, ["Cookie", "Authorization"])
    if layer is None or layer.access != Access.PUBLIC:
        response["Cache-Control"] = "private, max-age=60"
    return response


def tilejson(request, layer: Layer) -> dict:
    url = request.build_absolute_uri(reverse("vt-tile", args=[layer.slug, 0, 0, 0])).replace("/0/0/0.pbf", "/{z}/{x}/{y}.pbf")
    box = list(layer.extent.extent) if layer.extent else [-180, -85, 180, 85]
    return {
        "tilejson": "3.0.0",
        "name": layer.title,
        "description": layer.abstract,
        "attribution": layer.attribution,
        # The data version in the URL lets clients and proxies cache tiles for long.
        "tiles": [f"{url}?v={layer.data_version}"],
        "minzoom": 0,
        "maxzoom": MAX_ZOOM,
        "bounds": box,
        "center": [(box[0] + box[2]) / 2, (box[1] + box[3]) / 2, 8],
        "vector_layers": [{"id": layer.slug, "fields": {c.name: c.type for c in storage.columns_of(layer.table_name)},
                           "minzoom": 0, "maxzoom": MAX_ZOOM}],
    }


@require_GET
def index(request):
    data = {"layers": [{"id": layer.slug, "title": layer.title, "access": layer.access,
                        "tilejson": request.build_absolute_uri(reverse("vt-tilejson", args=[layer.slug])),
                        "version": layer.data_version} for layer in _layers(request)],
            "style": request.build_absolute_uri(reverse("vt-style"))}
    return _private(JsonResponse(data, json_dumps_params={"ensure_ascii": False}), request)


@require_GET
def tilejson_view(request, slug):
    layer = _layer(request, slug)
    return _private(JsonResponse(tilejson(request, layer), json_dumps_params={"ensure_ascii": False}), request, layer)


@require_GET
def tile(request, slug, z, x, y):
    if not valid(z, x, y):
        raise Http404("no such tile")
    layer = _layer(request, slug)
    etag = f'W/"{layer.slug}-{layer.data_version}-{z}-{x}-{y}"'
    if etag in request.headers.get("If-None-Match", ""):
        return _private(HttpResponseNotModified(headers={"ETag": etag}), request, layer)
    internal = front.accel_uri(request, cache.path(layer, z, x, y))
    if internal:  # behind nginx: access is checked, nginx sends the cached file itself
        response = HttpResponse(content_type=MVT, headers={"X-Accel-Redirect": internal})
    else:
        data = cache.get(layer, z, x, y)
        if data is None:
            data = vector.render(layer, z, x, y)
            cache.put(layer, z, x, y, data)
        response = HttpResponse(data, content_type=MVT, status=200 if data else 204)
    response["ETag"] = etag
    response["Cache-Control"] = "public, max-age=86400" if layer.access == Access.PUBLIC else "private, max-age=60"
    return _private(response, request, layer)


@require_GET
def style(request):
    """A MapLibre GL style drawing every layer the caller may see (no external basemap)."""
    sources, style_layers = {}, [{"id": "background", "type": "background", "paint": {"background-color": "#eef2f4"}}]
    for i, layer in enumerate(_layers(request)):
        colour = COLOURS[i % len(COLOURS)]
        sources[layer.slug] = {"type": "vector", "url": request.build_absolute_uri(reverse("vt-tilejson", args=[layer.slug]))}
        common = {"source": layer.slug, "source-layer": layer.slug}
        if layer.geometry_type == "MultiPolygon":
            style_layers += [{"id": f"{layer.slug}-fill", "type": "fill", **common, "paint": {"fill-color": colour, "fill-opacity": 0.15}},
                             {"id": f"{layer.slug}-line", "type": "line", **common, "paint": {"line-color": colour, "line-width": 1}}]
        elif layer.geometry_type == "MultiLineString":
            style_layers.append({"id": f"{layer.slug}-line", "type": "line", **common, "paint": {"line-color": colour, "line-width": 1.2}})
        else:
            style_layers.append({"id": f"{layer.slug}-circle", "type": "circle", **common,
                                 "paint": {"circle-color": colour, "circle-radius": 4, "circle-stroke-color": "#fff",
                                           "circle-stroke-width": 1}})
    data = {"version": 8, "name": "geoplatform", "sources": sources, "layers": style_layers,
            "center": [86.15, 41.73], "zoom": 6}
    return _private(JsonResponse(data, json_dumps_params={"ensure_ascii": False}), request)
