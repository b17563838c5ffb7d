"""MapProxy tile service (tiles/mapproxy/): generated configuration, WMS/WMTS/TMS, access rules.

The WSGI app runs in-process on a configuration generated into a temporary DATA_DIR, mounted at
/tiles exactly as geoplatform/wsgi.py mounts it. MapServer (a separate process) reads the session's
committed sample data; tokens and sessions made inside a test's transaction are seen by the access
check, which runs in this process on the test's connection.
"""

import io
import math
import threading
import wsgiref.simple_server
from pathlib import Path
from types import SimpleNamespace
from xml.etree import ElementTree

import pytest
import yaml
from django.conf import settings
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connection, connections
from django.test import Client as DjangoClient
from django.test.utils import override_settings
from PIL import Image
from pyproj import Transformer
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.test import Client

from layers.models import Access, Layer
from layers.tokens import create_token
from tests.conftest import user
from tiles.mapproxy import auth, config, invalidate
from tiles.mapproxy.app import make_app
from tiles.mapproxy.paths import paths

WEBMERCATOR_ORIGIN = 20037508.342789244
TIANDITU_C_LEVEL1_SCALE = 2.958293554545656e8  # as Tianditu's capabilities publish it (96 dpi)
M_PER_DEGREE = 111319.4907932736  # OGC WMTS well-known scale sets (GoogleCRS84Quad)


def _not_django(environ, start_response):
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"django"]


@pytest.fixture(scope="module")
def tiles(django_db_setup, django_db_blocker, tmp_path_factory):
    """The configuration generated from the test catalog, and the app mounted at /tiles."""
    data_dir = tmp_path_factory.mktemp("data")
    with override_settings(DATA_DIR=data_dir, TILES_DIR=data_dir / "tiles"), django_db_blocker.unblock():
        assert config.regenerate() is True
        app = DispatcherMiddleware(_not_django, {"/tiles": make_app()})
        yield SimpleNamespace(app=app, data_dir=data_dir, root=data_dir / "tiles", cache=data_dir / "tiles/mapproxy/cache")


def use_dir(settings, data_dir):
    settings.DATA_DIR, settings.TILES_DIR = data_dir, data_dir / "tiles"


@pytest.fixture(autouse=True)
def _keep_test_connection():
    """The app sends Django's request signals; like Django's test client, keep the test's
    transaction open across them."""
    auth.forget_public_layers()
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def client(tiles):
    return Client(tiles.app)


def token_for(username: str) -> dict:
    _token, key = create_token(user(username))
    return {"Authorization": f"Token {key}"}


def png(response) -> Image.Image:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.headers["Content-Type"] == "image/png"
    return Image.open(io.BytesIO(response.data)).convert("RGBA")


def max_alpha(img: Image.Image, x: float, y: float, r: int = 3) -> int:
    box = (max(int(x) - r, 0), max(int(y) - r, 0), min(int(x) + r + 1, img.width), min(int(y) + r + 1, img.height))
    return img.getchannel("A").crop(box).getextrema()[1]


def drawn_pixels(img: Image.Image) -> int:
    return sum(img.getchannel("A").point(lambda a: 1 if a else 0).histogram()[1:])


@pytest.fixture(scope="module")
def korla_vertex(django_db_blocker, tiles):
    """A vertex of Korla's (652801) boundary, lon/lat: the outline is drawn through it."""
    with django_db_blocker.unblock(), connection.cursor() as cur:
        cur.execute("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointN(ST_ExteriorRing(ST_GeometryN(geom, 1)), 1) p "
                    "FROM data.layer_admin_counties WHERE adcode = '652801') v")
        return cur.fetchone()


def public_slugs() -> set[str]:
    """The layers everyone sees: the public catalog layers and the combined basemap."""
    return set(Layer.objects.filter(access=Access.PUBLIC).values_list("slug", flat=True)) | {config.BASEMAP}


def wms_layer_names(response) -> set[str]:
    assert response.status_code == 200, response.data[:300]
    names = set()
    for layer in ElementTree.fromstring(response.data).iter():
        if layer.tag.split("}")[-1] == "Layer":
            names |= {child.text for child in layer if child.tag.split("}")[-1] == "Name"}
    return names


def getmap(client, layer, crs, bbox, version="1.3.0", size=256, headers=None):
    srs_key = "CRS" if version == "1.3.0" else "SRS"
    query = {"SERVICE": "WMS", "REQUEST": "GetMap", "VERSION": version, "LAYERS": layer, "STYLES": "",
             srs_key: crs, "BBOX": ",".join(f"{v:.10f}" for v in bbox), "WIDTH": size, "HEIGHT": size,
             "FORMAT": "image/png", "TRANSPARENT": "TRUE"}
    return client.get("/tiles/service", query_string=query, headers=headers or {})


# --- generated files -------------------------------------------------------------------------


def test_generated_files(tiles):
    root = tiles.root
    conf = yaml.safe_load((root / "mapproxy/mapproxy.yaml").read_text())

    assert set(conf["services"]) == {"wms", "wmts", "tms"}  # no demo, kml, ogcapi
    assert conf["services"]["wmts"]["restful"] is True and conf["services"]["wmts"]["kvp"] is True
    assert conf["grids"]["cgcs2000_c"]["origin"] == "nw"
    assert conf["globals"]["cache"]["base_dir"] == str(tiles.cache)
    assert conf["globals"]["image"]["paletted"] is False

    layers = {layer["name"]: layer for layer in conf["layers"]}
    for slug in ["admin-counties", "admin-prefectures", "places", "lakes"]:
        cache = conf["caches"][layers[slug]["sources"][0]]
        assert not cache.get("disable_storage") and cache["grids"] == ["cgcs2000_c", "GLOBAL_WEBMERCATOR"]
    for slug in ["korla-sheet-index", "korla-buildings-gbk", "korla-control-points", "korla-dlg-roads"]:
        assert layers[slug]["sources"] == [f"{slug}_source"]  # WMS straight from MapServer
        assert conf["caches"][layers[slug]["tile_sources"][0]]["disable_storage"] is True
    source = conf["sources"]["admin-counties_source"]
    assert source["type"] == "mapserver" and source["req"]["map"] == f"{root}/mapserver/geoplatform.map"

    mapfile = (root / "mapserver/geoplatform.map").read_text()
    assert 'DATA "geom FROM data.layer_admin_counties USING UNIQUE fid USING SRID=4490"' in mapfile
    # CGCS2000 as a PROJ string (no database search per call); the same coordinates as EPSG:4490.
    assert '"+proj=longlat +ellps=GRS80 +no_defs"' in mapfile and "init=epsg:4490" not in mapfile
    assert mapfile.count('PROCESSING "CLOSE_CONNECTION=DEFER"') == mapfile.count("CONNECTIONTYPE POSTGIS")
    s = connection.settings_dict
    assert f"host='{s['HOST']}'" in mapfile and f"dbname='{s['NAME']}'" in mapfile
    assert 'LABELITEM "名称"' in mapfile  # korla-buildings-gbk: Chinese column names
    assert "MS_MAP_PATTERN" in (root / "mapserver/mapserver.conf").read_text()
    font = (root / "mapserver/fonts.txt").read_text().split()[1]
    assert font.endswith((".otf", ".ttc", ".ttf"))


def test_regenerate_unchanged_catalog_keeps_files(tiles, settings, tmp_path):
    use_dir(settings, tmp_path)
    assert config.regenerate() is True
    before = paths().mapproxy_yaml.stat().st_mtime_ns
    assert config.regenerate() is False
    assert paths().mapproxy_yaml.stat().st_mtime_ns == before


def test_access_change_regenerates_and_drops_stored_tiles(tiles, settings, tmp_path, django_capture_on_commit_callbacks):
    from tiles.mapproxy import signals

    use_dir(settings, tmp_path)
    config.regenerate()
    lakes = yaml.safe_load(paths().mapproxy_yaml.read_text())
    cache = next(lyr for lyr in lakes["layers"] if lyr["name"] == "lakes")["sources"][0]
    stored = paths().cache_dir / cache / "cgcs2000_c" / "5"
    stored.mkdir(parents=True)
    (stored / "1.png").write_bytes(b"x")

    signals.connect()
    layer = Layer.objects.get(slug="lakes")
    layer.access = Access.RESTRICTED
    with django_capture_on_commit_callbacks(execute=True):
        layer.save()

    conf = yaml.safe_load(paths().mapproxy_yaml.read_text())
    entry = next(lyr for lyr in conf["layers"] if lyr["name"] == "lakes")
    assert conf["caches"][entry["tile_sources"][0]]["disable_storage"] is True
    assert not (paths().cache_dir / cache).exists()


def test_one_regeneration_per_commit_of_several_layers(tiles, settings, tmp_path, monkeypatch,
                                                      django_capture_on_commit_callbacks):
    from tiles.mapproxy import signals

    use_dir(settings, tmp_path)
    config.regenerate()
    runs = []
    real = config.regenerate
    monkeypatch.setattr(config, "regenerate", lambda: runs.append(1) or real())
    signals.connect()
    with django_capture_on_commit_callbacks(execute=True):
        for slug in ("lakes", "places", "admin-counties"):  # one load's layers: one transaction
            Layer.objects.get(slug=slug).save()
    assert len(runs) == 1
    with django_capture_on_commit_callbacks(execute=True):
        Layer.objects.get(slug="lakes").save()
    assert len(runs) == 2  # a later commit regenerates again


def test_signals_leave_other_tiles_directories_alone(settings, tmp_path, django_capture_on_commit_callbacks):
    from tiles.mapproxy import signals

    use_dir(settings, tmp_path)  # no configuration for this database here: nothing is written
    signals.connect()
    with django_capture_on_commit_callbacks(execute=True):
        Layer.objects.get(slug="lakes").save()
    assert not (tmp_path / "tiles").exists()


def test_data_change_signal_removes_cached_tiles(client, tiles, settings, korla_vertex):
    from layers.changes import layer_data_changed
    from tiles.mapproxy import signals

    use_dir(settings, tiles.data_dir)
    signals.connect()
    lon, lat = korla_vertex
    col, row, _px, _py = cgcs2000_tile(lon, lat, 14)
    png(client.get(f"/tiles/wmts/admin-counties/cgcs2000_c/14/{col}/{row}.png"))
    tile = next(tiles.cache.glob(f"admin-counties_*/cgcs2000_c/14/{col}/{row}.png"))
    layer_data_changed.send(sender=Layer, layer=Layer.objects.get(slug="admin-counties"),
                            bbox=(lon, lat, lon, lat), job=None)
    assert not tile.exists()


# --- WMS -------------------------------------------------------------------------------------


def test_wms_capabilities_list_public_layers_for_anonymous(client):
    for version in ["1.1.1", "1.3.0"]:
        r = client.get("/tiles/service", query_string={"SERVICE": "WMS", "REQUEST": "GetCapabilities", "VERSION": version})
        assert wms_layer_names(r) == public_slugs()
        assert "Cookie" in r.headers["Vary"] and "Authorization" in r.headers["Vary"]


def test_wms_capabilities_with_tokens(client):
    query = {"SERVICE": "WMS", "REQUEST": "GetCapabilities", "VERSION": "1.3.0"}
    owner = wms_layer_names(client.get("/tiles/service", query_string=query, headers=token_for("surveyor")))
    other = wms_layer_names(client.get("/tiles/service", query_string=query, headers=token_for("tourism")))
    public = public_slugs()
    assert public < other < owner
    assert {"korla-sheet-index", "korla-buildings-gbk"} <= other  # internal: any department member
    assert "korla-control-points" in owner and "korla-control-points" not in other


def test_session_cookie_authenticates(client):
    django_client = DjangoClient()
    django_client.force_login(user("surveyor"))
    cookie = django_client.cookies[settings.SESSION_COOKIE_NAME].value
    client.set_cookie(settings.SESSION_COOKIE_NAME, cookie)
    r = client.get("/tiles/service", query_string={"SERVICE": "WMS", "REQUEST": "GetCapabilities", "VERSION": "1.3.0"})
    assert "korla-control-points" in wms_layer_names(r)
    assert r.headers["Cache-Control"] == "private"


def test_bad_token_is_401_not_anonymous(client):
    r = client.get("/tiles/service", query_string={"SERVICE": "WMS", "REQUEST": "GetCapabilities"},
                   headers={"Authorization": "Token gp_nonsense"})
    assert r.status_code == 401
    assert r.json["code"] == "InvalidToken"


def test_getmap_epsg4490_axis_order_per_version(client, korla_vertex):
    lon, lat = korla_vertex
    d = 0.05
    img13 = png(getmap(client, "admin-counties", "EPSG:4490", (lat - d, lon - d, lat + d, lon + d)))  # 1.3.0: lat/lon
    img11 = png(getmap(client, "admin-counties", "EPSG:4490", (lon - d, lat - d, lon + d, lat + d), version="1.1.1"))
    for img in (img13, img11):
        assert max_alpha(img, 128, 128) > 200  # the outline runs through the vertex at the centre
    assert img13.tobytes() == img11.tobytes()
    empty = png(getmap(client, "admin-counties", "EPSG:4490", (10, 150, 12, 152)))  # the Pacific
    assert drawn_pixels(empty) == 0


@pytest.mark.parametrize("crs", ["EPSG:3857", "EPSG:4538", "EPSG:4517", "EPSG:4326"])
def test_getmap_projected_crs(client, korla_vertex, crs):
    lon, lat = korla_vertex
    x, y = Transformer.from_crs("EPSG:4490", crs, always_xy=True).transform(lon, lat)
    d = 4000 if crs != "EPSG:4326" else 0.04
    bbox = (y - d, x - d, y + d, x + d) if crs != "EPSG:3857" else (x - d, y - d, x + d, y + d)  # north first
    img = png(getmap(client, "admin-counties", crs, bbox))
    assert max_alpha(img, 128, 128) > 200


def test_getmap_restricted_layer(client):
    extent = Layer.objects.get(slug="korla-control-points").extent.extent
    bbox = (extent[1] - 0.002, extent[0] - 0.002, extent[3] + 0.002, extent[2] + 0.002)  # 1.3.0 lat/lon
    assert getmap(client, "korla-control-points", "EPSG:4490", bbox).status_code == 403
    assert getmap(client, "korla-control-points", "EPSG:4490", bbox, headers=token_for("tourism")).status_code == 403
    r = getmap(client, "korla-control-points", "EPSG:4490", bbox, headers=token_for("surveyor"))
    assert drawn_pixels(png(r)) > 50
    assert r.headers["Cache-Control"] == "private"
    # A mix with a layer the caller may not see is refused as a whole.
    assert getmap(client, "admin-counties,korla-control-points", "EPSG:4490", bbox).status_code == 403


def test_legend_only_for_visible_layers(client):
    query = {"SERVICE": "WMS", "VERSION": "1.1.1", "REQUEST": "GetLegendGraphic", "FORMAT": "image/png", "STYLE": ""}
    assert png(client.get("/tiles/service", query_string=query | {"LAYER": "admin-counties"}))
    restricted = query | {"LAYER": "korla-control-points"}
    assert client.get("/tiles/service", query_string=restricted).status_code == 403
    assert png(client.get("/tiles/service", query_string=restricted, headers=token_for("surveyor")))


def test_internal_layer_for_any_department_member(client):
    extent = Layer.objects.get(slug="korla-sheet-index").extent.extent
    bbox = (extent[1], extent[0], extent[3], extent[2])
    assert getmap(client, "korla-sheet-index", "EPSG:4490", bbox).status_code == 403
    assert drawn_pixels(png(getmap(client, "korla-sheet-index", "EPSG:4490", bbox, headers=token_for("tourism")))) > 50


# --- WMTS / TMS ------------------------------------------------------------------------------


def cgcs2000_tile(lon, lat, z):
    span = 1.40625 / 2**z * 256
    fx, fy = (lon + 180) / span, (90 - lat) / span
    return int(fx), int(fy), (fx % 1) * 256, (fy % 1) * 256


def webmercator_tile(lon, lat, z):
    x, y = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True).transform(lon, lat)
    span = 2 * WEBMERCATOR_ORIGIN / 2**z
    fx, fy = (x + WEBMERCATOR_ORIGIN) / span, (WEBMERCATOR_ORIGIN - y) / span
    return int(fx), int(fy), (fx % 1) * 256, (fy % 1) * 256


@pytest.mark.parametrize("grid, tile_of", [("cgcs2000_c", cgcs2000_tile), ("GLOBAL_WEBMERCATOR", webmercator_tile)])
def test_wmts_tiles_rest_and_kvp(client, korla_vertex, grid, tile_of):
    z = 11
    col, row, px, py = tile_of(*korla_vertex, z)
    rest = png(client.get(f"/tiles/wmts/admin-counties/{grid}/{z:02d}/{col}/{row}.png"))
    assert max_alpha(rest, px, py) > 200
    kvp = png(client.get("/tiles/service", query_string={
        "SERVICE": "WMTS", "REQUEST": "GetTile", "VERSION": "1.0.0", "LAYER": "admin-counties", "STYLE": "default",
        "TILEMATRIXSET": grid, "TILEMATRIX": str(z), "TILEROW": row, "TILECOL": col, "FORMAT": "image/png"}))
    assert kvp.tobytes() == rest.tobytes()
    # A tile far away from the data is empty.
    far = png(client.get(f"/tiles/wmts/admin-counties/{grid}/{z:02d}/{col}/{row + 200}.png"))
    assert drawn_pixels(far) == 0


def test_tms_tile_rows_from_the_south(client, korla_vertex):
    z = 10
    col, row, px, py = cgcs2000_tile(*korla_vertex, z)
    rows = 2 ** (z - 1)
    img = png(client.get(f"/tiles/tms/1.0.0/admin-counties/cgcs2000_c/{z}/{col}/{rows - 1 - row}.png"))
    assert max_alpha(img, px, py) > 200


def test_public_tiles_are_stored_restricted_never(client, korla_vertex, tiles):
    col, row, _px, _py = cgcs2000_tile(*korla_vertex, 12)
    png(client.get(f"/tiles/wmts/admin-counties/cgcs2000_c/12/{col}/{row}.png"))
    stored = list(tiles.cache.rglob("*.png"))
    assert any(p.parts[-5].startswith("admin-counties_") and p.parts[-4] == "cgcs2000_c" for p in stored)

    extent = Layer.objects.get(slug="korla-control-points").extent.extent
    col, row, _px, _py = cgcs2000_tile((extent[0] + extent[2]) / 2, (extent[1] + extent[3]) / 2, 16)
    url = f"/tiles/wmts/korla-control-points/cgcs2000_c/16/{col}/{row}.png"
    assert client.get(url).status_code == 403
    assert drawn_pixels(png(client.get(url, headers=token_for("surveyor")))) > 0
    assert not [p for p in tiles.cache.rglob("*") if "korla" in str(p.relative_to(tiles.cache))]


def test_invalidate_removes_tiles_in_the_changed_box(client, korla_vertex, tiles, settings):
    use_dir(settings, tiles.data_dir)
    lon, lat = korla_vertex
    col, row, _px, _py = cgcs2000_tile(lon, lat, 13)
    png(client.get(f"/tiles/wmts/admin-counties/cgcs2000_c/13/{col}/{row}.png"))
    png(client.get(f"/tiles/wmts/admin-counties/cgcs2000_c/13/{col + 40}/{row}.png"))  # 40 tiles east
    level = next(tiles.cache.glob("admin-counties_*/cgcs2000_c/13"))
    before = {p.relative_to(level) for p in level.rglob("*.png")}
    assert invalidate.layer_tiles("admin-counties", (lon - 0.001, lat - 0.001, lon + 0.001, lat + 0.001)) > 0
    after = {p.relative_to(level) for p in level.rglob("*.png")}
    # Rows count from the north in this grid's cache (origin nw), as in WMTS.
    assert Path(str(col), f"{row}.png") in before - after  # the changed tile went
    assert Path(str(col + 40), f"{row}.png") in after  # tiles far from the change stay
    span, pad = 1.40625 / 2**13 * 256, 0.001 + 80 * 1.40625 / 2**13  # the metatile buffer, 80 px
    for p in after:  # nothing left that meets the change widened by the buffer
        x, y = int(p.parts[0]), int(p.stem)
        west, north = -180 + x * span, 90 - y * span
        assert west > lon + pad or west + span < lon - pad or north < lat - pad or north - span > lat + pad


def test_wmts_capabilities_cgcs2000_c_matches_tianditu(client):
    r = client.get("/tiles/wmts/1.0.0/WMTSCapabilities.xml")
    assert r.status_code == 200
    from owslib.wmts import WebMapTileService

    wmts = WebMapTileService("http://testserver/tiles/wmts/1.0.0/WMTSCapabilities.xml", xml=r.data)
    assert set(wmts.contents) == public_slugs()
    tms = wmts.tilematrixsets["cgcs2000_c"]
    assert tms.crs.endswith("4490")
    for level in range(1, 19):  # Tianditu's levels 1-18
        m = tms.tilematrix[f"{level:02d}"]
        assert m.topleftcorner == (90.0, -180.0)  # lat/lon: EPSG:4490 axis order
        assert (m.matrixwidth, m.matrixheight) == (2**level, 2 ** (level - 1))
        assert (m.tilewidth, m.tileheight) == (256, 256)
        res = 0.703125 / 2 ** (level - 1)
        assert m.scaledenominator == pytest.approx(res * M_PER_DEGREE / 0.00028, rel=1e-12)
        # Tianditu publishes the same resolutions as scales for 96 dpi pixels (0.0254/96 m), not
        # WMTS's 0.28 mm: the same tile matrix, a different pixel-size convention.
        assert m.scaledenominator * 0.28e-3 / (0.0254 / 96) == pytest.approx(
            TIANDITU_C_LEVEL1_SCALE / 2 ** (level - 1), rel=1e-9)
    assert tms.tilematrix["18"].matrixwidth == 262144 and tms.tilematrix["18"].matrixheight == 131072
    assert "GLOBAL_WEBMERCATOR" in wmts.tilematrixsets


def test_wmts_capabilities_with_token_lists_more(client):
    r = client.get("/tiles/wmts/1.0.0/WMTSCapabilities.xml", headers=token_for("surveyor"))
    root = ElementTree.fromstring(r.data)
    names = {el.text for el in root.iter("{http://www.opengis.net/ows/1.1}Identifier")}
    assert "korla-control-points" in names


def test_tms_capabilities_follow_access(client):
    anonymous = client.get("/tiles/tms/1.0.0/").get_data(as_text=True)
    owner = client.get("/tiles/tms/1.0.0/", headers=token_for("surveyor")).get_data(as_text=True)
    # MapProxy 7 lists one grid per layer here once an authorize hook is present (it keys the
    # allowed layers by name); every grid's TileMap resource is there all the same.
    assert "/tiles/tms/1.0.0/admin-counties/" in anonymous and "korla-control-points" not in anonymous
    assert "/tiles/tms/1.0.0/korla-control-points/" in owner
    tilemap = client.get("/tiles/tms/1.0.0/admin-counties/cgcs2000_c")
    assert tilemap.status_code == 200 and b"EPSG:4490" in tilemap.data
    assert client.get("/tiles/tms/1.0.0/korla-control-points/cgcs2000_c").status_code == 403
    assert client.get("/tiles/tms/1.0.0/korla-control-points/cgcs2000_c/16/0/0.png").status_code == 403


def test_unavailable_until_a_configuration_can_be_made(settings, tmp_path, monkeypatch):
    from tiles.mapproxy import mapfile

    use_dir(settings, tmp_path)
    monkeypatch.setenv("MAPSERVER_CONFIG_FILE", "")  # process-wide: restored for the module's app
    monkeypatch.setattr(mapfile, "MAPSERV", str(tmp_path / "no-mapserv"))
    app = make_app()
    r = Client(app).get("/service", query_string={"SERVICE": "WMS", "REQUEST": "GetCapabilities"})
    assert r.status_code == 503 and r.headers["Retry-After"]
    monkeypatch.setattr(mapfile, "MAPSERV", "/usr/bin/mapserv")
    r = Client(app).get("/service", query_string={"SERVICE": "WMS", "REQUEST": "GetCapabilities"})
    assert wms_layer_names(r) == public_slugs()


def test_demo_kml_and_ogcapi_are_off(client):
    for path in ["/tiles/demo/", "/tiles/ogcapi", "/tiles/ogcapi/collections", "/tiles/kml/admin-counties/EPSG4326/1/0/0.kml"]:
        assert client.get(path).status_code == 404, path


# --- over HTTP, with OWSLib ------------------------------------------------------------------


@pytest.fixture
def http_server(tiles):
    """The mounted app on a real socket (OWSLib speaks HTTP). Requests run in the server's thread
    on their own database connection, which sees only committed data: anonymous callers only."""

    def app(environ, start_response):
        try:
            return list(tiles.app(environ, start_response))
        finally:
            connections.close_all()

    class Quiet(wsgiref.simple_server.WSGIRequestHandler):
        def log_message(self, *args):
            pass

    server = wsgiref.simple_server.make_server("127.0.0.1", 0, app, handler_class=Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_owslib_wms_and_wmts(http_server, korla_vertex):
    from owslib.wms import WebMapService
    from owslib.wmts import WebMapTileService

    wms = WebMapService(f"{http_server}/tiles/service", version="1.3.0")
    assert set(wms.contents) == public_slugs()
    assert "EPSG:4538" in wms["admin-counties"].crsOptions
    lon, lat = korla_vertex
    img = wms.getmap(layers=["admin-counties"], styles=[""], srs="EPSG:4490",  # OWSLib swaps to lat/lon
                     bbox=(lon - 0.05, lat - 0.05, lon + 0.05, lat + 0.05), size=(256, 256),
                     format="image/png", transparent=True)
    assert max_alpha(Image.open(io.BytesIO(img.read())).convert("RGBA"), 128, 128) > 200

    wmts = WebMapTileService(f"{http_server}/tiles/wmts/1.0.0/WMTSCapabilities.xml")
    col, row, px, py = cgcs2000_tile(lon, lat, 9)
    tile = wmts.gettile(layer="admin-counties", tilematrixset="cgcs2000_c", tilematrix="09", row=row, column=col,
                        format="image/png")
    assert max_alpha(Image.open(io.BytesIO(tile.read())).convert("RGBA"), px, py) > 200
    assert math.isclose(wmts.tilematrixsets["cgcs2000_c"].tilematrix["01"].scaledenominator, 279541132.0143589)
