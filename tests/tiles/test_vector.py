"""Vector tiles: access, content at the right place, overviews at low zoom, caching, and exact
invalidation when data changes."""

import math

import mapbox_vector_tile
import pytest

from layers.tokens import create_token
from tiles import cache
from tiles.grid import tile_range

from ..conftest import INTERNAL, PUBLIC, RESTRICTED
from ..ingest.conftest import feature, load, point, square, write_geojson
from ..layers.test_access import VIEW

SLUGS = {"public": PUBLIC, "internal": INTERNAL, "restricted": RESTRICTED}
KORLA = (86.15231, 41.76055)  # the GeoNames point of Korla in the sample


@pytest.fixture(autouse=True)
def tile_dir(settings, tmp_path):
    settings.TILES_DIR = tmp_path / "tiles"
    return tmp_path


def tile_of(lon, lat, z):
    x, y, _, _ = tile_range((lon, lat, lon, lat), z)
    return x, y


def decode(response):
    return mapbox_vector_tile.decode(b"".join(response.streaming_content) if response.streaming else response.content)


@pytest.mark.parametrize("who", VIEW)
@pytest.mark.parametrize("level", list(SLUGS))
def test_tile_endpoints_follow_the_access_matrix(client, users, layers, who, level):
    expected = VIEW[who][list(SLUGS).index(level)]
    slug = SLUGS[level]
    headers = {} if who == "anonymous" else {"HTTP_AUTHORIZATION": f"Token {create_token(users[who])[1]}"}
    listed = [entry["id"] for entry in client.get("/vt/", **headers).json()["layers"]]
    assert (slug in listed) is expected
    assert (slug in client.get("/vt/style.json", **headers).json()["sources"]) is expected
    x, y = tile_of(86.15, 41.73, 12)
    for url in [f"/vt/{slug}.json", f"/vt/{slug}/12/{x}/{y}.pbf"]:
        status = client.get(url, **headers).status_code
        assert (status in (200, 204)) is expected and (status == 404) is not expected, url


def test_a_point_lands_in_its_tile_at_the_right_place(client):
    z = 14
    x, y = tile_of(*KORLA, z)
    data = decode(client.get(f"/vt/places/{z}/{x}/{y}.pbf"))
    (feat,) = data["places"]["features"]
    assert feat["properties"]["name"] == "Korla" and feat["properties"]["population"] == 179465
    px, py = feat["geometry"]["coordinates"][0] if feat["geometry"]["type"] == "MultiPoint" else feat["geometry"]["coordinates"]
    # expected position inside the tile, in 4096 units (MVT y axis points up in the decoder's default)
    n = 2**z
    fx = ((KORLA[0] + 180) / 360 * n - x) * 4096
    fy = (1 - math.asinh(math.tan(math.radians(KORLA[1]))) / math.pi) / 2 * n - y
    assert abs(px - fx) <= 2 and abs(py - (1 - fy) * 4096) <= 2


def test_empty_tile_is_204_and_etag_gives_304(client):
    empty = client.get("/vt/places/14/0/0.pbf")
    assert empty.status_code == 204 and empty.content == b""
    x, y = tile_of(*KORLA, 10)
    first = client.get(f"/vt/places/10/{x}/{y}.pbf")
    assert first["Cache-Control"] == "public, max-age=86400" and first["ETag"].startswith('W/"places-')
    assert client.get(f"/vt/places/10/{x}/{y}.pbf", HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304
    assert client.get("/vt/places/99/0/0.pbf").status_code == 404


def test_low_zooms_come_from_an_overview_not_the_whole_layer(client):
    data = decode(client.get("/vt/places/0/0/0.pbf"))["places"]["features"]
    assert sum(f["properties"]["point_count"] for f in data) == 14
    assert all("population" not in f["properties"] for f in data)  # label fields only at low zoom


def test_a_dense_point_layer_is_clustered_above_the_overview_zoom(client, monkeypatch):
    from tiles import vector

    z = 11
    x, y = tile_of(*KORLA, z)
    plain = decode(client.get(f"/vt/places/{z}/{x}/{y}.pbf"))["places"]["features"]
    assert plain and all("point_count" not in f["properties"] for f in plain) and all("id" in f for f in plain)
    monkeypatch.setattr(vector, "TILE_BUDGET", 0.001)  # as if each tile held thousands of places
    assert vector.overview_zoom(vector.Layer.objects.get(slug="places"), z) == z
    cache.invalidate("places", None)  # (data that dense would be a new data version: new tiles)
    clustered = decode(client.get(f"/vt/places/{z}/{x}/{y}.pbf"))["places"]["features"]
    assert sum(f["properties"]["point_count"] for f in clustered) == len(plain)

    def xy(f):
        c = f["geometry"]["coordinates"]
        return tuple(c[0] if f["geometry"]["type"] == "MultiPoint" else c)

    # A cluster of one is the point itself, at the same place in the tile (overviews are stored in
    # EPSG:3857, the layer in 4490: the two paths must agree).
    singles = [xy(f) for f in clustered if f["properties"]["point_count"] == 1]
    assert singles and all(any(abs(a - c) <= 1 and abs(b - d) <= 1 for c, d in map(xy, plain)) for a, b in singles)
    assert all("population" not in f["properties"] for f in clustered)
    assert vector.overview_zoom(vector.Layer.objects.get(slug="places"), 10) == vector.OVERVIEW_ZOOM


def test_a_dense_polygon_layer_leaves_out_what_is_under_a_pixel(client, tmp_path, monkeypatch):
    from tiles import vector

    monkeypatch.setattr(vector, "TILE_BUDGET", 0.001)  # as if each tile held thousands of blocks
    lon, lat = 86.2, 41.7
    path = write_geojson(tmp_path / "blocks.geojson", [
        feature(square(lon, lat, 0.0001), name="小屋"),  # ≈ 10 m: a fraction of a pixel at z11 (≈ 57 m here)
        feature(square(lon + 0.01, lat, 0.02), name="大院"),  # ≈ 2 km
    ])
    load(path, layer="blocks", access="public")
    x, y = tile_of(lon, lat, 11)
    names = {f["properties"]["name"] for f in decode(client.get(f"/vt/blocks/11/{x}/{y}.pbf"))["blocks"]["features"]}
    assert names == {"大院"}
    x, y = tile_of(lon + 0.00005, lat + 0.00005, 16)
    names = {f["properties"]["name"] for f in decode(client.get(f"/vt/blocks/16/{x}/{y}.pbf"))["blocks"]["features"]}
    assert "小屋" in names  # ≈ 4 pixels at z16
    monkeypatch.setattr(vector, "TILE_BUDGET", 4096)  # 2 blocks: no overview above z10, all shown
    cache.invalidate("blocks", None)
    x, y = tile_of(lon, lat, 11)
    names = {f["properties"]["name"] for f in decode(client.get(f"/vt/blocks/11/{x}/{y}.pbf"))["blocks"]["features"]}
    assert names == {"小屋", "大院"}


def test_private_layers_cache_apart_from_public_ones(client, users, tile_dir):
    client.force_login(users["member"])
    x, y = tile_of(86.155, 41.733, 14)
    assert client.get(f"/vt/{RESTRICTED}/14/{x}/{y}.pbf")["Cache-Control"].startswith("private")
    assert list((tile_dir / "tiles" / "vt" / "private" / RESTRICTED).rglob("*.pbf"))
    assert not (tile_dir / "tiles" / "vt" / "public" / RESTRICTED).exists()


def test_a_load_invalidates_exactly_the_tiles_it_touches(client, tmp_path, django_capture_on_commit_callbacks):
    # Cache the Korla tile and a far-away Wuhai tile at two zooms.
    korla, wuhai = (86.16, 41.74), (106.8, 39.67)
    urls = {name: [f"/vt/places/{z}/{tile_of(*where, z)[0]}/{tile_of(*where, z)[1]}.pbf" for z in (11, 15)]
            for name, where in [("korla", korla), ("wuhai", wuhai)]}
    for url in urls["korla"] + urls["wuhai"]:
        client.get(url)
    from layers.models import Layer

    layer = Layer.objects.get(slug="places")
    cached = lambda url: cache.get(layer, *map(int, url.removesuffix(".pbf").split("/")[-3:])) is not None  # noqa: E731
    assert all(cached(u) for u in urls["korla"] + urls["wuhai"])

    path = write_geojson(tmp_path / "new.geojson", [feature(point(*korla), name="新村")])
    with django_capture_on_commit_callbacks(execute=True):
        load(path, layer="places", mode="append")
    assert not any(cached(u) for u in urls["korla"])
    assert all(cached(u) for u in urls["wuhai"])  # untouched tiles stay cached
    names = [f["properties"]["name"] for f in decode(client.get(urls["korla"][1]))["places"]["features"]]
    assert "新村" in names  # no stale tile


def test_seed_renders_the_extent_and_clear_empties_it(tile_dir):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("tiles", "seed", "--layer", "places", "--zoom", "0-6", stdout=out)
    assert "rendered" in out.getvalue()
    files = list((tile_dir / "tiles" / "vt" / "public" / "places").rglob("*.pbf"))
    assert len(files) >= 7 and {p.parts[-3] for p in files} == {str(z) for z in range(7)}
    again = StringIO()
    call_command("tiles", "seed", "--layer", "places", "--zoom", "0-6", stdout=again)
    assert again.getvalue().strip().endswith(", 0 rendered")  # already cached
    call_command("tiles", "clear", "--layer", "places", stdout=StringIO())
    assert not list((tile_dir / "tiles" / "vt" / "public" / "places").rglob("*.pbf"))


def test_raster_seed_fills_mapproxys_cache_for_public_layers_only(tile_dir):
    from io import StringIO

    from django.core.management import call_command
    from django.core.management.base import CommandError

    out = StringIO()
    call_command("tiles", "seed", "--layer", "lakes", "--raster", "--zoom", "0-3", "--grid", "GLOBAL_WEBMERCATOR", stdout=out)
    tiles = list((tile_dir / "tiles" / "mapproxy" / "cache").glob("lakes_*/GLOBAL_WEBMERCATOR/*/*/*.png"))
    assert tiles and {t.parts[-3] for t in tiles} == {"0", "1", "2", "3"}
    with pytest.raises(CommandError, match="not public"):
        call_command("tiles", "seed", "--layer", INTERNAL, "--raster", "--zoom", "0-1", stdout=StringIO())
    with pytest.raises(CommandError, match="not in the tile service"):
        call_command("tiles", "seed", "--layer", "no-such-layer", "--raster", "--zoom", "0-1", stdout=StringIO())


def test_basemap_seed_covers_its_members(tile_dir):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("tiles", "seed", "--layer", "basemap", "--zoom", "2-4", "--grid", "cgcs2000_c", stdout=out)
    assert "basemap: raster tiles of zooms 2-4" in out.getvalue()
    tiles = list((tile_dir / "tiles" / "mapproxy" / "cache").glob("basemap_*/cgcs2000_c/*/*/*.png"))
    assert {t.parts[-3] for t in tiles} == {"2", "3", "4"}
    assert not list((tile_dir / "tiles" / "mapproxy" / "cache").glob("basemap_*/GLOBAL_WEBMERCATOR"))
