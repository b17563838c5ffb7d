"""The OpenAPI 3.0 document of the API, for the caller (collection ids they may see)."""

from django.urls import reverse

from . import crs
from .query import DEFAULT_LIMIT, MAX_LIMIT

ERROR = {"description": "error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/exception"}}}}
JSON_OK = {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}, "text/html": {"schema": {"type": "string"}}}}
GEOJSON_OK = {"description": "OK", "content": {"application/geo+json": {"schema": {"type": "object"}}, "text/html": {"schema": {"type": "string"}}}}


def _param(name, schema, description="", required=False, location="query", style=None, explode=None):
    p = {"name": name, "in": location, "required": required, "schema": schema, "description": description}
    if style:
        p["style"], p["explode"] = style, explode
    return p


def document(request, collection_ids: list[str]) -> dict:
    base = request.build_absolute_uri(reverse("ogc-landing")).rstrip("/")
    crs_enum = {"type": "string", "enum": crs.supported_uris()}
    collection = _param("collectionId", {"type": "string", "enum": collection_ids or ["none"]}, required=True, location="path")
    f = _param("f", {"type": "string", "enum": ["json", "html"]}, "encoding")
    items_params = [
        collection, f,
        _param("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}),
        _param("offset", {"type": "integer", "minimum": 0, "default": 0}),
        _param("bbox", {"type": "array", "minItems": 4, "maxItems": 6, "items": {"type": "number"}}, style="form", explode=False),
        _param("bbox-crs", crs_enum),
        _param("datetime", {"type": "string"}, "RFC 3339 instant or interval (.. for open ends)"),
        _param("crs", crs_enum),
        _param("filter", {"type": "string"}, "CQL2 text or JSON"),
        _param("filter-lang", {"type": "string", "enum": ["cql2-text", "cql2-json"]}),
        _param("filter-crs", crs_enum),
        _param("sortby", {"type": "string"}, "comma-separated property names, - for descending"),
        _param("properties", {"type": "string"}, "comma-separated property names to return"),
        _param("adcode", {"type": "string", "pattern": "^[0-9]{6}$"}, "GB/T 2260 code of a county or prefecture"),
    ]
    query_params = [p for p in items_params if p["name"] not in {"limit", "offset", "f"}]
    get = lambda summary, params, ok: {"get": {"summary": summary, "parameters": params,  # noqa: E731
                                               "responses": {"200": ok, "400": ERROR, "404": ERROR}}}
    return {
        "openapi": "3.0.3",
        "info": {"title": "geoplatform OGC API – Features", "version": "1.0.0",
                 "description": "Vector layers of Digital Bazhou / Digital Wuhai. Anonymous callers see public layers; "
                                "send `Authorization: Token …` or a session cookie for more."},
        "servers": [{"url": base}],
        "components": {
            "schemas": {"exception": {"type": "object", "required": ["code"],
                                      "properties": {"code": {"type": "string"}, "description": {"type": "string"}}}},
            "securitySchemes": {"token": {"type": "apiKey", "in": "header", "name": "Authorization"}},
        },
        "paths": {
            "/": get("landing page", [f], JSON_OK),
            "/conformance": get("conformance classes", [f], JSON_OK),
            "/collections": get("the collections you may see", [f], JSON_OK),
            "/collections/{collectionId}": get("one collection", [collection, f], JSON_OK),
            "/collections/{collectionId}/queryables": get("queryable properties", [collection],
                                                          {"description": "OK", "content": {"application/schema+json": {"schema": {"type": "object"}}}}),
            "/collections/{collectionId}/items": get("features", items_params, GEOJSON_OK),
            "/collections/{collectionId}/export": {"get": {
                "summary": "the query result as a file (download permission)",
                "parameters": query_params + [
                    _param("format", {"type": "string", "enum": ["geojson", "csv", "kml", "gpkg", "shp"]}),
                    _param("encoding", {"type": "string", "enum": ["UTF-8", "GBK"]}, "Shapefile only")],
                "responses": {"200": {"description": "a file", "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
                              "400": ERROR, "403": ERROR, "404": ERROR}}},
            "/collections/{collectionId}/nearest": get("the n nearest features, with distance_m", query_params + [
                _param("point", {"type": "string", "pattern": "^-?[0-9.]+,-?[0-9.]+$"}, "lon,lat", required=True),
                _param("n", {"type": "integer", "minimum": 1, "maximum": 1000})], GEOJSON_OK),
            "/collections/{collectionId}/stats": get("count, length and area on the ellipsoid", query_params + [
                _param("group-by", {"type": "string"}, "a property name, or county")], JSON_OK),
            "/collections/{collectionId}/items/{featureId}": get(
                "one feature", [collection, _param("featureId", {"type": "string"}, required=True, location="path"), f,
                                _param("crs", crs_enum)], GEOJSON_OK),
        },
    }
