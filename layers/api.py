"""The catalog's JSON endpoints. Every response passes through access.layers_for:
a layer the caller may not see is a 404, exactly like one that does not exist."""

from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET

from . import access, audit, storage
from .models import Access, Layer, Permission

MAX_MAP_FEATURES = 5000


def layer_summary(request, layer: Layer) -> dict:
    return {
        "slug": layer.slug,
        "title": {"zh": layer.title_zh, "en": layer.title_en},
        "kind": layer.kind,
        "geometry_type": layer.geometry_type or None,
        "access": layer.access,
        "owner": {"code": layer.owner.code, "name": layer.owner.name, "name_en": layer.owner.name_en},
        "feature_count": layer.feature_count,
        "extent": list(layer.extent.extent) if layer.extent else None,
        "storage_crs": f"EPSG:{layer.storage_srid}",
        "native_crs": f"EPSG:{layer.native_srid}" if layer.native_srid else None,
        "scale": layer.scale_label or None,
        "survey_date": layer.survey_date.isoformat() if layer.survey_date else None,
        "links": [
            {"rel": "self", "href": request.build_absolute_uri(reverse("api-layer", args=[layer.slug]))},
            {"rel": "data", "type": "application/geo+json",
             "href": request.build_absolute_uri(reverse("api-layer-features", args=[layer.slug]))},
        ],
    }


def _private(response, request):
    # Answers depend on who asks: never let a shared cache hand one caller's answer to another.
    patch_vary_headers(response, ["Cookie", "Authorization"])
    if request.user.is_authenticated:
        response["Cache-Control"] = "private, no-store"
    return response


def _visible_layer(request, slug: str, permission=Permission.VIEW) -> Layer:
    return get_object_or_404(access.layers_for(request.user, permission).select_related("owner"), slug=slug)


@require_GET
def layer_list(request):
    layers = access.layers_for(request.user).select_related("owner").order_by("slug")
    data = {"layers": [layer_summary(request, layer) for layer in layers]}
    return _private(JsonResponse(data, json_dumps_params={"ensure_ascii": False}), request)


@require_GET
def layer_detail(request, slug):
    layer = _visible_layer(request, slug)
    data = layer_summary(request, layer) | {
        "abstract": layer.abstract,
        "keywords": layer.keywords,
        "licence": layer.licence,
        "attribution": layer.attribution,
        "contact": layer.contact,
        "source": layer.source,
        "data_version": layer.data_version,
        "updated": layer.updated_at.isoformat(),
        "your_permission": (p.name.lower() if (p := access.permission_of(request.user, layer)) else None),
    }
    return _private(JsonResponse(data, json_dumps_params={"ensure_ascii": False}), request)


@require_GET
def layer_features(request, slug):
    """The layer as GeoJSON for the home page map (at most MAX_MAP_FEATURES, optionally simplified)."""
    layer = _visible_layer(request, slug)
    if layer.kind != Layer.Kind.VECTOR or not layer.table_name:
        raise Http404("not a vector layer")
    try:
        simplify = max(0.0, min(float(request.GET.get("simplify", "0")), 0.1))
    except ValueError:
        return JsonResponse({"code": "InvalidParameterValue", "description": "simplify must be a number (degrees)"}, status=400)
    body = storage.feature_collection(layer.table_name, limit=MAX_MAP_FEATURES, simplify=simplify)
    if layer.access != Access.PUBLIC:
        # Reads of non-public data are accountable: who saw which layer, when.
        audit.record(request.user, "layer.read", layer, via=getattr(request, "auth_via", "web"),
                     endpoint="features.geojson", features=min(layer.feature_count, MAX_MAP_FEATURES))
    return _private(HttpResponse(body, content_type="application/geo+json"), request)


@require_GET
def health(request):
    """For load balancers: the worker is up and reaches the database."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT postgis_lib_version()")
        postgis = cur.fetchone()[0]
    return JsonResponse({"status": "ok", "postgis": postgis})


def _bad(description: str, status: int = 400) -> JsonResponse:
    return JsonResponse({"code": "InvalidParameterValue", "description": description}, status=status)


def _dem(request) -> tuple[Layer, "object"]:
    from . import rasters

    layer = _visible_layer(request, request.GET.get("layer", ""))
    version = rasters.current(layer) if layer.kind == Layer.Kind.RASTER else None
    if version is None or version.kind != "dem":
        raise Http404("not an elevation model")
    return layer, version


@require_GET
def elevation(request):
    """`?layer=SLUG&lon=&lat=` (CGCS2000 degrees) → the DEM's height there, bilinear, in metres."""
    from . import rasters

    layer, version = _dem(request)
    try:
        lon, lat = float(request.GET["lon"]), float(request.GET["lat"])
    except (KeyError, ValueError):
        return _bad("lon and lat are required, in decimal degrees (CGCS2000)")
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        return _bad("lon/lat out of range")
    (height,) = rasters.sample(version, [lon], [lat])
    if layer.access != Access.PUBLIC:
        audit.record(request.user, "layer.read", layer, via=getattr(request, "auth_via", "web"),
                     endpoint="elevation", lon=lon, lat=lat)
    data = {"layer": layer.slug, "lon": lon, "lat": lat, "crs": "EPSG:4490",
            "elevation": None if height is None else round(height, 3), "unit": "m",
            "interpolation": "bilinear", "version": version.pk}
    return _private(JsonResponse(data), request)


@require_GET
def elevation_profile(request):
    """`?layer=SLUG&line=lon lat,lon lat,…&samples=N` → heights along the line."""
    from . import rasters
    from .errors import InvalidInput

    layer, version = _dem(request)
    try:
        line = [tuple(float(v) for v in p.split()) for p in request.GET.get("line", "").split(",") if p.strip()]
        if any(len(p) != 2 for p in line):
            raise ValueError
        samples = int(request.GET.get("samples", "100"))
    except ValueError:
        return _bad("line is `lon lat,lon lat,…` in CGCS2000 degrees; samples an integer")
    try:
        data = rasters.profile(version, line, samples)
    except InvalidInput as e:
        return _bad(str(e))
    if layer.access != Access.PUBLIC:
        audit.record(request.user, "layer.read", layer, via=getattr(request, "auth_via", "web"),
                     endpoint="elevation.profile", points=len(line), samples=samples)
    return _private(JsonResponse({"layer": layer.slug, "crs": "EPSG:4490", "unit": "m"} | data), request)
