"""OGC API – Features (Parts 1–3) over the layer catalog, behind the same access rules as
everything else: a collection the caller may not view does not exist for them."""

import json
from datetime import datetime, timezone
from urllib.parse import urlencode

from django.db import connection
from django.http import FileResponse, Http404, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_GET

from .. import access, audit, storage
from ..errors import PlatformError
from ..models import Access, Layer, Permission
from . import analysis, crs
from . import export as exporting
from .openapi import document as openapi_document
from .query import DEFAULT_LIMIT, MAX_LIMIT, ItemsQuery

GEOJSON = "application/geo+json"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/html",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
    "http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions",
    "http://www.opengis.net/spec/cql2/1.0/conf/arithmetic",
]
ITEMS_PARAMS = {"f", "limit", "offset", "bbox", "bbox-crs", "datetime", "crs", "filter", "filter-lang", "filter-crs",
                "sortby", "properties", "adcode"}


class ApiError(Exception):
    def __init__(self, status: int, code: str, description: str):
        self.status, self.code, self.description = status, code, description


def api_view(func):
    """JSON errors with OGC exception codes; typed platform errors keep their HTTP status."""

    @require_GET
    def wrapper(request, *args, **kwargs):
        try:
            response = func(request, *args, **kwargs)
        except PlatformError as exc:
            response = _error(exc.http_status, exc.code if exc.http_status != 400 else "InvalidParameterValue", str(exc))
        except ApiError as exc:
            response = _error(exc.status, exc.code, exc.description)
        except Http404 as exc:
            response = _error(404, "NotFound", str(exc) or "not found")
        patch_vary_headers(response, ["Cookie", "Authorization", "Accept"])
        if request.user.is_authenticated:
            response["Cache-Control"] = "private, no-store"
        return response

    wrapper.__name__ = func.__name__
    return wrapper


def _error(status: int, code: str, description: str) -> JsonResponse:
    return JsonResponse({"code": code, "description": description}, status=status)


def _wants_html(request) -> bool:
    f = request.GET.get("f")
    if f:
        if f not in {"json", "html", "geojson"}:
            raise ApiError(400, "InvalidParameterValue", "f must be json or html")
        return f == "html"
    accept = request.META.get("HTTP_ACCEPT", "")
    return "text/html" in accept and "json" not in accept.split("text/html")[0]


def _json(data, content_type="application/json", status=200) -> HttpResponse:
    return HttpResponse(json.dumps(data, ensure_ascii=False), content_type=content_type, status=status)


def _url(request, view_name, /, *args, **query) -> str:
    url = request.build_absolute_uri(reverse(view_name, args=args))
    query = {k: v for k, v in query.items() if v is not None}
    return url + ("?" + urlencode(query) if query else "")


def _layers(request):
    return access.layers_for(request.user).filter(kind=Layer.Kind.VECTOR).exclude(table_name=None).select_related("owner")


def _collection(request, collection_id) -> Layer:
    layer = _layers(request).filter(slug=collection_id).first()
    if layer is None:
        raise Http404(f"no collection {collection_id!r}")
    return layer


# --- resources ------------------------------------------------------------------------------

@api_view
def landing(request):
    data = {
        "title": "Digital Bazhou · Digital Wuhai — OGC API Features",
        "description": "Vector layers of the platform: the ones you may see.",
        "links": [
            {"rel": "self", "type": "application/json", "href": _url(request, "ogc-landing")},
            {"rel": "alternate", "type": "text/html", "href": _url(request, "ogc-landing", f="html")},
            {"rel": "service-desc", "type": "application/vnd.oai.openapi+json;version=3.0", "href": _url(request, "ogc-openapi")},
            {"rel": "conformance", "type": "application/json", "href": _url(request, "ogc-conformance")},
            {"rel": "data", "type": "application/json", "href": _url(request, "ogc-collections")},
        ],
    }
    if _wants_html(request):
        return render(request, "ogcapi/landing.html", {"data": data})
    return _json(data)


@api_view
def conformance(request):
    data = {"conformsTo": CONFORMANCE}
    if _wants_html(request):
        return render(request, "ogcapi/conformance.html", {"data": data})
    return _json(data)


@api_view
def openapi(request):
    return _json(openapi_document(request, [layer.slug for layer in _layers(request)]),
                 content_type="application/vnd.oai.openapi+json;version=3.0")


def collection_json(request, layer: Layer) -> dict:
    box = list(layer.extent.extent) if layer.extent else [-180, -90, 180, 90]
    return {
        "id": layer.slug,
        "title": layer.title,
        "description": layer.abstract,
        "keywords": layer.keywords,
        "itemType": "feature",
        "extent": {"spatial": {"bbox": [box], "crs": crs.CRS84}},
        "crs": crs.supported_uris(),
        "storageCrs": crs.uri_of(layer.storage_srid),
        "links": [
            {"rel": "self", "type": "application/json", "href": _url(request, "ogc-collection", layer.slug)},
            {"rel": "alternate", "type": "text/html", "href": _url(request, "ogc-collection", layer.slug, f="html")},
            {"rel": "items", "type": GEOJSON, "href": _url(request, "ogc-items", layer.slug)},
            {"rel": "items", "type": "text/html", "href": _url(request, "ogc-items", layer.slug, f="html")},
            {"rel": "http://www.opengis.net/def/rel/ogc/1.0/queryables", "type": "application/schema+json",
             "href": _url(request, "ogc-queryables", layer.slug)},
        ],
    }


@api_view
def collections(request):
    layers = list(_layers(request).order_by("slug"))
    data = {
        "links": [{"rel": "self", "type": "application/json", "href": _url(request, "ogc-collections")},
                  {"rel": "alternate", "type": "text/html", "href": _url(request, "ogc-collections", f="html")}],
        "collections": [collection_json(request, layer) for layer in layers],
        "crs": crs.supported_uris(),
    }
    if _wants_html(request):
        return render(request, "ogcapi/collections.html", {"data": data, "layers": layers})
    return _json(data)


@api_view
def collection(request, collection_id):
    layer = _collection(request, collection_id)
    data = collection_json(request, layer)
    if _wants_html(request):
        return render(request, "ogcapi/collection.html", {"data": data, "layer": layer})
    return _json(data)


JSON_TYPES = {"text": "string", "bigint": "integer", "double precision": "number", "boolean": "boolean",
              "date": "string", "timestamptz": "string"}


@api_view
def queryables(request, collection_id):
    layer = _collection(request, collection_id)
    props = {}
    for column in storage.columns_of(layer.table_name):
        schema = {"title": column.name, "type": JSON_TYPES[column.type]}
        if column.type in {"date", "timestamptz"}:
            schema["format"] = "date" if column.type == "date" else "date-time"
        props[column.name] = schema
    props["geometry"] = {"format": "geometry-any", "title": "geometry (geom)"}
    data = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": _url(request, "ogc-queryables", layer.slug),
            "type": "object", "title": layer.title, "properties": props, "additionalProperties": False}
    return _json(data, content_type="application/schema+json")


def _query_for(request, layer: Layer, paging: bool = True) -> ItemsQuery:
    columns = {c.name: c.type for c in storage.columns_of(layer.table_name)}
    allowed = ITEMS_PARAMS if paging else ITEMS_PARAMS - {"limit", "offset", "f"}
    unknown = set(request.GET) - allowed - set(columns)
    if unknown:
        raise ApiError(400, "InvalidParameterValue", f"unknown parameter(s): {', '.join(sorted(unknown))}")
    q = ItemsQuery(table=layer.table_name, columns=columns)
    g = request.GET
    if paging:
        try:
            q.limit = int(g.get("limit", DEFAULT_LIMIT))
            q.offset = int(g.get("offset", 0))
        except ValueError:
            raise ApiError(400, "InvalidParameterValue", "limit and offset must be integers") from None
        if not 1 <= q.limit <= MAX_LIMIT or q.offset < 0:
            raise ApiError(400, "InvalidParameterValue", f"limit must be 1–{MAX_LIMIT} and offset ≥ 0")
    q.set_crs(g.get("crs"))
    if "bbox" in g:
        q.add_bbox(g["bbox"], g.get("bbox-crs"))
    elif "bbox-crs" in g:
        raise ApiError(400, "InvalidParameterValue", "bbox-crs without bbox")
    if "datetime" in g:
        q.add_datetime(g["datetime"])
    if "adcode" in g:
        q.add_admin_unit(g["adcode"])
    for name in set(g) & set(columns):
        q.add_property_filter(name, g[name])
    if "filter" in g:
        q.add_filter(g["filter"], g.get("filter-lang"), g.get("filter-crs"))
    if "sortby" in g:
        q.set_sortby(g["sortby"])
    if "properties" in g:
        q.set_properties(g["properties"])
    return q


def _run(query_and_params):
    query, params = query_and_params
    with connection.cursor() as cur:
        cur.cursor.execute(query, params)
        return cur.cursor.fetchone()


@api_view
def items(request, collection_id):
    layer = _collection(request, collection_id)
    q = _query_for(request, layer)
    features_text, returned = _run(q.features_sql())
    matched = layer.feature_count if not q.where else _run(q.count_sql())[0]
    base = {k: v for k, v in request.GET.items() if k not in {"offset", "f"}}
    links = [
        {"rel": "self", "type": GEOJSON, "href": _url(request, "ogc-items", layer.slug, **request.GET.dict())},
        {"rel": "alternate", "type": "text/html", "href": _url(request, "ogc-items", layer.slug, **(base | {"f": "html", "offset": q.offset}))},
        {"rel": "collection", "type": "application/json", "href": _url(request, "ogc-collection", layer.slug)},
    ]
    if q.offset + returned < matched:
        links.append({"rel": "next", "type": GEOJSON, "href": _url(request, "ogc-items", layer.slug, **(base | {"offset": q.offset + q.limit}))})
    if q.offset > 0:
        links.append({"rel": "prev", "type": GEOJSON, "href": _url(request, "ogc-items", layer.slug, **(base | {"offset": max(q.offset - q.limit, 0)}))})
    if layer.access != Access.PUBLIC:
        audit.record(request.user, "ogcapi.items", layer, via=getattr(request, "auth_via", "web"), returned=returned,
                     matched=matched, bbox=request.GET.get("bbox", ""), filter=request.GET.get("filter", "")[:500])
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
    if _wants_html(request):
        return render(request, "ogcapi/items.html", {
            "layer": layer, "features": json.loads(features_text), "matched": matched, "returned": returned,
            "links": links, "geojson": _url(request, "ogc-items", layer.slug, **(base | {"offset": q.offset, "f": "json"})),
        })
    body = ('{"type": "FeatureCollection", "numberMatched": %d, "numberReturned": %d, "timeStamp": %s, "links": %s, "features": '
            % (matched, returned, json.dumps(stamp), json.dumps(links, ensure_ascii=False))) + features_text + "}"
    response = HttpResponse(body, content_type=GEOJSON)
    response["Content-Crs"] = f"<{crs.uri_of(None if q.out_srid == 4326 and not q.out_flip else q.out_srid)}>"
    return response


@api_view
def nearest(request, collection_id):
    """`point=lon,lat` (CRS84) and `n`: the n nearest features with `distance_m`, nearest first."""
    layer = _collection(request, collection_id)
    params = request.GET.copy()
    try:
        lon, lat = (float(v) for v in params.pop("point", [""])[0].split(","))
        n = int(params.pop("n", ["5"])[0])
    except ValueError:
        raise ApiError(400, "InvalidParameterValue", "point=lon,lat and an integer n are required") from None
    request.GET = params
    q = _query_for(request, layer, paging=False)
    features_text, returned = _run(analysis.nearest_sql(q, lon, lat, n))
    if layer.access != Access.PUBLIC:
        audit.record(request.user, "ogcapi.nearest", layer, via=getattr(request, "auth_via", "web"), returned=returned,
                     point=[lon, lat])
    body = '{"type": "FeatureCollection", "numberReturned": %d, "features": %s}' % (returned, features_text)
    return HttpResponse(body, content_type=GEOJSON)


@api_view
def stats(request, collection_id):
    """count, length (m) and area (m², 亩) on the ellipsoid, of the items query, optionally
    grouped by a property or by county (`group-by=county`)."""
    layer = _collection(request, collection_id)
    params = request.GET.copy()
    group_by = params.pop("group-by", [None])[0]
    request.GET = params
    q = _query_for(request, layer, paging=False)
    query, values = analysis.stats_sql(q, group_by)
    with connection.cursor() as cur:
        cur.cursor.execute(query, values)
        rows = cur.cursor.fetchall()
    groups = [{"group": g, "name": name, "count": c, "length_m": round(length, 2), "area_m2": round(area, 2),
               "area_mu": round(area * analysis.MU_PER_M2, 2)} for g, name, c, length, area in rows]
    if layer.access != Access.PUBLIC:
        audit.record(request.user, "ogcapi.stats", layer, via=getattr(request, "auth_via", "web"), group_by=group_by or "",
                     filter=request.GET.get("filter", "")[:500], bbox=request.GET.get("bbox", ""))
    return _json({"collection": layer.slug, "groupBy": group_by, "groups": groups})


@api_view
def export(request, collection_id):
    """The query result (items parameters, no paging) as a file: download permission needed."""
    layer = _collection(request, collection_id)
    if not access.can(request.user, layer, Permission.DOWNLOAD):
        raise ApiError(403, "Forbidden", "downloading this layer needs the download permission")
    params = request.GET.copy()
    fmt, encoding = exporting.check_format(params.pop("format", [None])[0], params.pop("encoding", [None])[0])
    request.GET = params
    q = _query_for(request, layer, paging=False)
    matched = layer.feature_count if not q.where else _run(q.count_sql())[0]
    audit.record(request.user, "ogcapi.export", layer, via=getattr(request, "auth_via", "web"), format=fmt,
                 matched=matched, bbox=request.GET.get("bbox", ""), filter=request.GET.get("filter", "")[:500],
                 crs=exporting.content_crs(q))
    content_type, suffix = exporting.FORMATS[fmt]
    if fmt in {"gpkg", "shp"}:
        path = exporting.ogr_file(q, fmt, layer.slug, layer.geometry_type, encoding)
        response = FileResponse(_deleting(path), content_type=content_type, as_attachment=True,
                                filename=f"{layer.slug}.{suffix}")
    else:
        stream = {"geojson": exporting.geojson, "csv": exporting.csv_wkt}.get(fmt)
        body = stream(q) if stream else exporting.kml(q, layer.title)
        response = StreamingHttpResponse(body, content_type=content_type)
        response["Content-Disposition"] = f'attachment; filename="{layer.slug}.{suffix}"'
    response["Content-Crs"] = f"<{exporting.content_crs(q) if fmt != 'kml' else crs.CRS84}>"
    return response


def _deleting(path):
    """A file object that removes the export (and its folder) once it has been sent."""
    import shutil

    handle = open(path, "rb")
    original_close = handle.close

    def close():
        original_close()
        shutil.rmtree(path.parent, ignore_errors=True)

    handle.close = close
    return handle


@api_view
def item(request, collection_id, feature_id):
    layer = _collection(request, collection_id)
    if not feature_id.isdigit():
        raise Http404(f"no feature {feature_id!r}")
    columns = {c.name: c.type for c in storage.columns_of(layer.table_name)}
    unknown = set(request.GET) - {"f", "crs"}
    if unknown:
        raise ApiError(400, "InvalidParameterValue", f"unknown parameter(s): {', '.join(sorted(unknown))}")
    q = ItemsQuery(table=layer.table_name, columns=columns, limit=1, fid=int(feature_id))
    q.set_crs(request.GET.get("crs"))
    features_text, returned = _run(q.features_sql())
    if not returned:
        raise Http404(f"no feature {feature_id} in {layer.slug}")
    feature = json.loads(features_text)[0]
    feature["links"] = [
        {"rel": "self", "type": GEOJSON, "href": _url(request, "ogc-item", layer.slug, feature_id)},
        {"rel": "collection", "type": "application/json", "href": _url(request, "ogc-collection", layer.slug)},
    ]
    if layer.access != Access.PUBLIC:
        audit.record(request.user, "ogcapi.item", layer, via=getattr(request, "auth_via", "web"), feature=int(feature_id))
    if _wants_html(request):
        return render(request, "ogcapi/items.html", {"layer": layer, "features": [feature], "matched": 1, "returned": 1,
                                                     "links": feature["links"],
                                                     "geojson": _url(request, "ogc-item", layer.slug, feature_id, f="json")})
    response = _json(feature, content_type=GEOJSON)
    response["Content-Crs"] = f"<{crs.uri_of(None if q.out_srid == 4326 and not q.out_flip else q.out_srid)}>"
    return response
