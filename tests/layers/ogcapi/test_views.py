"""OGC API – Features: every endpoint × caller × access level, and the parameters' behaviour."""

import json

import pytest

from layers.models import AuditEntry
from layers.tokens import create_token

from ...conftest import INTERNAL, PUBLIC, RESTRICTED
from ..test_access import VIEW

SLUGS = {"public": PUBLIC, "internal": INTERNAL, "restricted": RESTRICTED}


def get(client, url, headers=None, **params):
    return client.get(url, params, **(headers or {}))


@pytest.mark.parametrize("who", VIEW)
@pytest.mark.parametrize("level", list(SLUGS))
def test_endpoint_matrix(client, users, layers, who, level):
    expected = VIEW[who][list(SLUGS).index(level)]
    slug = SLUGS[level]
    headers = {}
    if who != "anonymous":
        headers = {"HTTP_AUTHORIZATION": f"Token {create_token(users[who])[1]}"}
    listed = [c["id"] for c in get(client, "/ogcapi/collections", headers).json()["collections"]]
    assert (slug in listed) is expected
    ids = get(client, "/ogcapi/openapi", headers).json()["paths"]["/collections/{collectionId}"]["get"]["parameters"][0]["schema"]["enum"]
    assert (slug in ids) is expected
    status = 200 if expected else 404
    for url in [f"/ogcapi/collections/{slug}", f"/ogcapi/collections/{slug}/queryables",
                f"/ogcapi/collections/{slug}/items", f"/ogcapi/collections/{slug}/items/1",
                f"/ogcapi/collections/{slug}/items?f=html", f"/ogcapi/collections/{slug}/stats",
                f"/ogcapi/collections/{slug}/nearest?point=86.15,41.73&n=2"]:
        assert get(client, url, headers).status_code == status, url


def test_landing_conformance_and_html(client):
    landing = client.get("/ogcapi/").json()
    rels = {link["rel"] for link in landing["links"]}
    assert {"self", "service-desc", "conformance", "data"} <= rels
    conformance = client.get("/ogcapi/conformance").json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs" in conformance
    page = client.get("/ogcapi/collections", HTTP_ACCEPT="text/html").content.decode()
    assert "<html" in page and PUBLIC in page and INTERNAL not in page


def test_paging_with_next_links_and_counts(client):
    first = client.get("/ogcapi/collections/places/items", {"limit": 5}).json()
    assert (first["numberMatched"], first["numberReturned"]) == (14, 5)
    seen = [f["id"] for f in first["features"]]
    page = first
    while (nxt := next((link["href"] for link in page["links"] if link["rel"] == "next"), None)):
        page = client.get(nxt.replace("http://testserver", "")).json()
        seen += [f["id"] for f in page["features"]]
    assert len(seen) == len(set(seen)) == 14


def test_bbox_and_crs_axis_order(client):
    korla_only = {"bbox": "85.9,41.6,86.4,41.9"}
    data = client.get("/ogcapi/collections/places/items", korla_only).json()
    assert [f["properties"]["name"] for f in data["features"]] == ["Korla"]
    lon, lat = data["features"][0]["geometry"]["coordinates"][0]
    assert 85.5 < lon < 86.5 and 41 < lat < 42
    # EPSG:4490 is lat/lon: bbox and output swap
    swapped = client.get("/ogcapi/collections/places/items", {"bbox": "41.6,85.9,41.9,86.4", "bbox-crs": "EPSG:4490",
                                                              "crs": "http://www.opengis.net/def/crs/EPSG/0/4490"})
    assert swapped["Content-Crs"] == "<http://www.opengis.net/def/crs/EPSG/0/4490>"
    lat2, lon2 = swapped.json()["features"][0]["geometry"]["coordinates"][0]
    assert (lat2, lon2) == pytest.approx((lat, lon), abs=1e-6)
    # GK CM 87E (EPSG:4538) is northing, easting
    gk = client.get("/ogcapi/collections/places/items", korla_only | {"crs": "EPSG:4538"}).json()
    north, east = gk["features"][0]["geometry"]["coordinates"][0]
    assert 4_600_000 < north < 4_700_000 and 300_000 < east < 600_000


def test_cql2_text_and_json_filters(client):
    text = client.get("/ogcapi/collections/places/items", {"filter": "population > 100000 AND name LIKE 'K%'"}).json()
    assert [f["properties"]["name"] for f in text["features"]] == ["Korla"]
    as_json = json.dumps({"op": "and", "args": [
        {"op": ">", "args": [{"property": "population"}, 100000]},
        {"op": "s_intersects", "args": [{"property": "geometry"}, {"type": "Polygon", "coordinates": [[[85, 41], [87, 41], [87, 42], [85, 42], [85, 41]]]}]}]})
    data = client.get("/ogcapi/collections/places/items", {"filter": as_json, "filter-lang": "cql2-json"}).json()
    assert [f["properties"]["name"] for f in data["features"]] == ["Korla"]


@pytest.mark.parametrize("expression, expected", [
    ("population * 2 - 100000 > 258000 AND population < 200000", {"Korla"}),  # 179,465 × 2 − 100,000 = 258,930
    ("population / 1000 + 1 >= 180.4 AND population < 200000", {"Korla"}),  # 180.465: not integer division
    ("population * 2 - 100000 > 258931", {"Wuhai"}),
    ("S_INTERSECTS(geom, POLYGON((85 41, 87 41, 87 42, 85 42, 85 41))) AND population >= 179465", {"Korla"}),
    ("S_WITHIN(geom, POLYGON((86 41.5, 86.5 41.5, 86.5 42, 86 42, 86 41.5))) AND population > 0",
     {"Korla", "Sishilichengzi"}),
    ("S_DISJOINT(geom, POLYGON((80 30, 120 30, 120 50, 80 50, 80 30)))", set()),
])
def test_cql2_arithmetic_and_spatial_predicates(client, expression, expected):
    data = client.get("/ogcapi/collections/places/items", {"filter": expression, "limit": 100}).json()
    assert {f["properties"]["name"] for f in data["features"]} == expected, data


def test_s_dwithin_uses_metres_on_the_ellipsoid(client):
    # Korla's GeoNames point is ~3 km from this point; Yanqi's ~50 km.
    near = client.get("/ogcapi/collections/places/items", {"filter": "S_DWITHIN(geom, POINT(86.15 41.76), 20, kilometers)"}).json()
    far = client.get("/ogcapi/collections/places/items", {"filter": "S_DWITHIN(geom, POINT(86.15 41.76), 100000)"}).json()
    assert [f["properties"]["name"] for f in near["features"]] == ["Korla"]
    assert len(far["features"]) > 1


def test_chinese_property_names_in_filters_sortby_and_properties(client, users, layers):
    client.force_login(users["member"])
    data = client.get("/ogcapi/collections/korla-buildings-gbk/items",
                      {"filter": "层数 >= 5", "sortby": "-层数", "properties": "名称,层数", "limit": 100}).json()
    floors = [f["properties"]["层数"] for f in data["features"]]
    assert floors and floors == sorted(floors, reverse=True) and min(floors) >= 5
    assert set(data["features"][0]["properties"]) == {"名称", "层数"}


def test_property_equality_and_datetime(client):
    assert client.get("/ogcapi/collections/places/items", {"name": "Korla"}).json()["numberMatched"] == 1
    # no temporal property on this layer: datetime is checked for syntax, then matches everything
    assert client.get("/ogcapi/collections/places/items", {"datetime": "2020-01-01/.."}).json()["numberMatched"] == 14
    assert client.get("/ogcapi/collections/places/items", {"datetime": "yesterday"}).status_code == 400


@pytest.mark.parametrize("params", [
    {"limit": "0"}, {"limit": "abc"}, {"offset": "-1"}, {"bbox": "1,2,3"}, {"bbox": "5,5,1,1"}, {"crs": "EPSG:9999"},
    {"bbox-crs": "EPSG:4490"}, {"filter": "nope nope"}, {"filter": "missing_column = 1"}, {"filter-lang": "sql", "filter": "1=1"},
    {"sortby": "missing"}, {"properties": "missing"}, {"unknown": "1"}, {"population": "many"},
    {"filter": "name = 'a'; DROP TABLE layers_layer; --"}, {"f": "xml"},
])
def test_bad_parameters_are_400_with_an_ogc_code(client, params):
    response = client.get("/ogcapi/collections/places/items", params)
    assert response.status_code == 400, (params, response.content[:300])
    assert response.json()["code"] == "InvalidParameterValue"


def test_injection_in_values_is_data_not_sql(client):
    hostile = json.dumps({"op": "=", "args": [{"property": "name"}, "x' OR '1'='1"]})
    data = client.get("/ogcapi/collections/places/items", {"filter": hostile, "filter-lang": "cql2-json"}).json()
    assert data["numberMatched"] == 0


def test_reading_restricted_items_is_audited(client, users):
    before = AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0
    client.force_login(users["granted"])
    client.get(f"/ogcapi/collections/{RESTRICTED}/items", {"bbox": "86,41,87,42", "limit": 100})
    client.get(f"/ogcapi/collections/{PUBLIC}/items")
    entries = list(AuditEntry.objects.filter(action__startswith="ogcapi.", id__gt=before))
    assert [(e.username, e.layer_slug, e.details["bbox"]) for e in entries] == [("statistics", RESTRICTED, "86,41,87,42")]
    assert entries[0].details["returned"] == 30


def test_nearest_is_ordered_by_metres_on_the_ellipsoid(client):
    data = client.get("/ogcapi/collections/places/nearest", {"point": "86.15,41.76", "n": 3}).json()
    distances = [f["properties"]["distance_m"] for f in data["features"]]
    assert data["features"][0]["properties"]["name"] == "Korla" and 150 < distances[0] < 260
    assert distances == sorted(distances) and len(distances) == 3
    assert client.get("/ogcapi/collections/places/nearest", {"point": "east"}).status_code == 400


def test_stats_grouped_by_county_and_attribute(client):
    by_county = {g["group"]: g["count"] for g in client.get("/ogcapi/collections/places/stats", {"group-by": "county"}).json()["groups"]}
    assert by_county["652801"] == 1 and sum(by_county.values()) == 14
    by_code = client.get("/ogcapi/collections/places/stats", {"group-by": "feature_code", "adcode": "650000"})
    assert by_code.status_code == 400  # not a county or prefecture we hold
    lakes = client.get("/ogcapi/collections/lakes/stats").json()["groups"][0]
    # Bosten Lake alone is about 1,000 km²; 1 ha = 15 mu
    assert 1.5e9 < lakes["area_m2"] < 3e9 and lakes["area_mu"] == pytest.approx(lakes["area_m2"] * 15 / 10_000, rel=1e-6)


def test_items_within_an_administrative_unit(client):
    data = client.get("/ogcapi/collections/places/items", {"adcode": "150300", "limit": 50}).json()
    assert sorted(f["properties"]["county_name"] for f in data["features"]) == ["乌达区", "乌达区", "海勃湾区"]
    assert client.get("/ogcapi/collections/places/items", {"adcode": "12"}).status_code == 400
