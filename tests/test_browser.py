"""The home page in Debian's Chromium (Playwright), served by the production server (gunicorn)."""

import io
import os
import shutil
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from PIL import Image
from playwright.sync_api import sync_playwright

from .conftest import INTERNAL, PUBLIC, RESTRICTED

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.browser
PUBLIC_SLUGS = "admin-counties,admin-prefectures,lakes,places,poi"


@pytest.fixture(scope="module")
def browser():
    # Playwright's sync API keeps an event loop running in this thread; the test's own
    # database work (fixtures, rollback) is still synchronous and safe.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )
        yield browser
        browser.close()
    del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    yield page
    context.close()
    assert not errors, errors


def test_anonymous_visitor_sees_public_layers_on_the_map(server, page):
    tiles = []
    page.on("response", lambda r: tiles.append(r) if "/tiles/" in r.url else None)
    page.goto(server + "/")
    page.wait_for_selector("#map[data-ready]", timeout=20_000)
    assert page.get_attribute("#map", "data-ready") == PUBLIC_SLUGS
    # every feature of the public layers is on the map (clickable; the basemap draws them)
    assert int(page.get_attribute("#map", "data-features")) >= 12 + 2 + 4 + 14
    listed = page.locator("#layer-list .layer").evaluate_all("els => els.map(e => e.dataset.slug)")
    assert PUBLIC in listed and INTERNAL not in listed and RESTRICTED not in listed
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    assert "县级行政区划" in page.content()
    # the basemap comes from MapProxy/MapServer under /tiles/, Web Mercator grid
    assert page.get_attribute("#map", "data-mode") == "GLOBAL_WEBMERCATOR"
    wait_for_tiles(page, "GLOBAL_WEBMERCATOR")
    assert tiles and all("/tiles/wmts/basemap/GLOBAL_WEBMERCATOR/" in r.url for r in tiles)
    loaded = [r for r in tiles if r.status == 200]
    assert loaded and all(Image.open(io.BytesIO(r.body())).size == (256, 256) for r in loaded)


def wait_for_tiles(page, mode, count=1):
    page.wait_for_function(
        "([mode, n]) => (JSON.parse(document.getElementById('map').dataset.tilesLoaded || '{}')[mode] || 0) >= n",
        arg=[mode, count], timeout=30_000)


def show(page, lon, lat, zoom):
    """Centre the map on lon/lat (in the current mode's projection) and wait until it is drawn."""
    page.evaluate("""([lon, lat, zoom]) => new Promise((resolve) => {
        const m = window.geoplatformMap;
        const view = m.map.getView();
        m.map.once("rendercomplete", resolve);
        view.setCenter(ol.proj.fromLonLat([lon, lat], view.getProjection()));
        view.setZoom(zoom);
    })""", [lon, lat, zoom])


def screen_pixel(page, lon, lat):
    x, y = page.evaluate("""([lon, lat]) => {
        const m = window.geoplatformMap.map;
        return m.getPixelFromCoordinate(ol.proj.fromLonLat([lon, lat], m.getView().getProjection()));
    }""", [lon, lat])
    shot = Image.open(io.BytesIO(page.locator("#map").screenshot())).convert("RGB")
    return shot.getpixel((round(x), round(y)))


def lake_point():
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM data.layer_lakes "
                    "WHERE name = '博斯腾湖') s")
        return cur.fetchone()


def test_cgcs2000_grid_shows_the_basemap_at_the_right_place(server, page):
    """Switching to Tianditu's `c` grid loads cgcs2000_c tiles; Bosten Lake is blue where it lies,
    in the tile MapProxy sends and on the screen."""
    from tests.tiles.test_mapproxy import cgcs2000_tile

    tiles = {}
    page.on("response", lambda r: tiles.setdefault(r.url.split("?")[0], r) if "/tiles/" in r.url else None)
    page.goto(server + "/")
    page.wait_for_selector("#map[data-ready]", timeout=20_000)
    for box in page.locator("#layer-list .toggle").all():  # the basemap alone
        box.uncheck()
    page.check("#map-mode input[value=cgcs2000_c]")
    page.wait_for_selector("#map[data-mode=cgcs2000_c]")
    assert page.evaluate("() => window.geoplatformMap.map.getView().getProjection().getCode()") == "EPSG:4490"
    lon, lat = lake_point()
    show(page, lon, lat, 9)
    wait_for_tiles(page, "cgcs2000_c")
    cgcs = [url for url in tiles if "/tiles/wmts/basemap/cgcs2000_c/" in url]
    assert cgcs
    col, row, px, py = cgcs2000_tile(lon, lat, 9)
    response = tiles[f"{server}/tiles/wmts/basemap/cgcs2000_c/9/{col}/{row}.png"]
    assert response.status == 200
    r, g, b, a = Image.open(io.BytesIO(response.body())).convert("RGBA").getpixel((int(px), int(py)))
    assert a > 150 and b > r + 40  # the lake's blue in the tile
    r, g, b = screen_pixel(page, lon, lat)
    assert b > r + 40, (r, g, b)  # and on the screen, where the lake lies
    r, g, b = screen_pixel(page, lon, lat - 0.6)  # south of the lake: a county's pale fill, no blue
    assert b < r + 10, (r, g, b)
    show(page, 100.0, 30.0, 9)  # Sichuan: no data, nothing drawn
    assert screen_pixel(page, 100.0, 30.0) == (0xEE, 0xF2, 0xF4)  # #map's background


def test_vector_mode_draws_the_vector_tiles(server, page):
    pbf = []
    page.on("response", lambda r: pbf.append(r) if ".pbf" in r.url else None)
    page.goto(server + "/")
    page.wait_for_selector("#map[data-ready]", timeout=20_000)
    page.check("#map-mode input[value=vector]")
    page.wait_for_selector("#map[data-mode=vector]")
    korla = (86.15231, 41.76055)  # the GeoNames point of Korla
    show(page, *korla, 10)
    wait_for_tiles(page, "vector")
    assert pbf and all("/vt/" in r.url for r in pbf)
    assert any(r.status == 200 and r.headers["content-type"] == "application/vnd.mapbox-vector-tile" for r in pbf)
    assert not page.evaluate("() => window.geoplatformMap.map.getAllLayers().some(l => l.getVisible() && "
                             "l.getSource() instanceof ol.source.XYZ)")  # no raster basemap
    # The county under Korla, from its vector tile.
    names = page.evaluate("""([lon, lat]) => {
        const m = window.geoplatformMap.map;
        const pixel = m.getPixelFromCoordinate(ol.proj.fromLonLat([lon, lat]));
        const layer = m.getAllLayers().find(l => l.get("slug") === "admin-counties" && l instanceof ol.layer.VectorTile);
        return layer.getFeatures(pixel).then(fs => fs.map(f => f.get("name")));
    }""", list(korla))
    assert "库尔勒市" in names


def test_department_member_logs_in_and_sees_internal_and_restricted_layers(server, page):
    password = (Path(settings.DATA_DIR) / "demo-password").read_text().strip()
    page.goto(server + "/accounts/login/")
    page.fill("#id_username", "surveyor")
    page.fill("#id_password", password)
    page.click("form[action='/accounts/login/'] button[type=submit]")
    page.wait_for_selector("#map[data-ready]", timeout=20_000)
    ready = page.get_attribute("#map", "data-ready").split(",")
    assert INTERNAL in ready and RESTRICTED in ready


def test_member_sees_the_orthophoto_under_the_vectors(server, page):
    """The internal orthophoto's tiles come from /tiles/ with the session, drawn above the basemap."""
    responses = []
    page.on("response", lambda r: responses.append((r.url, r.status)) if "/tiles/wmts/korla-dom/" in r.url else None)
    login(page, server, "surveyor")
    page.wait_for_selector("#map[data-ready]", timeout=20_000)
    assert page.locator("li[data-slug=korla-dom] input.toggle.raster").is_checked()
    page.evaluate("""() => { const v = window.geoplatformMap.map.getView();
                             v.setCenter(ol.proj.fromLonLat([86.187, 41.742])); v.setZoom(17); }""")
    page.wait_for_function("() => document.querySelector('.raster-korla-dom') !== null", timeout=20_000)
    page.wait_for_timeout(3000)
    assert any(status == 200 for _, status in responses), responses[:5]


def test_language_switch_to_uyghur_is_right_to_left(server, page):
    page.goto(server + "/")
    page.select_option("select[name=language]", "ug")
    page.wait_for_selector("html[lang=ug]")
    assert page.locator("html").get_attribute("dir") == "rtl"


def test_static_map_library_is_served_by_the_platform(server):
    with urllib.request.urlopen(server + "/static/vendor/leaflet/leaflet.js") as response:
        assert response.status == 200 and b"Leaflet" in response.read(2000)
    with urllib.request.urlopen(server + "/static/vendor/ol/ol.js") as response:
        assert response.status == 200 and response.read(100)


def login(page, server, username):
    password = (Path(settings.DATA_DIR) / "demo-password").read_text().strip()
    page.goto(server + "/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("form[action='/accounts/login/'] button[type=submit]")
    page.wait_for_url(server + "/")


def test_surveyor_uploads_while_no_worker_runs_and_the_load_completes_when_one_starts(server, page, tmp_path):
    """The job waits in PostgreSQL through a worker outage, then loads; the page follows it."""
    import subprocess
    import sys
    import zipfile

    from .conftest import ROOT, test_database_url

    archive = tmp_path / "buildings.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in (ROOT / "sample_data" / "gbk_shapefile").glob("korla_buildings_gbk.*"):
            zf.write(f, f.name)
    env = os.environ | {"DATABASE_URL": test_database_url()}
    login(page, server, "surveyor")
    page.goto(server + "/ingest/upload/")
    page.set_input_files("#id_files", str(archive))
    page.fill("#id_layer", "e2e-buildings")
    page.fill("#id_title", "房屋（浏览器上传）")
    page.select_option("#id_department", label="自然资源局 (zrzy)")
    page.click("#upload-form button[type=submit]")
    page.wait_for_selector("#job-status[data-status=queued]")
    log = tmp_path / "worker.log"
    worker = subprocess.Popen([sys.executable, "-m", "geoplatform.cli", "worker"], cwd=ROOT, env=env,
                              stdout=log.open("w"), stderr=subprocess.STDOUT)
    try:
        try:
            page.wait_for_selector("#job-status:not([data-status=queued]):not([data-status=running])", timeout=60_000)
        except Exception as exc:
            from procrastinate.contrib.django.models import ProcrastinateJob

            from ingest.models import IngestJob

            queued = list(ProcrastinateJob.objects.values_list("id", "task_name", "status", "args"))
            jobs = list(IngestJob.objects.values_list("id", "status", "message"))
            raise AssertionError(f"the job did not finish: {jobs} {queued}; worker log:\n{log.read_text()}") from exc
        status = page.get_attribute("#job-status", "data-status")
        assert status == "succeeded", page.inner_text("#job-message")
        assert "GB18030" in page.content()
        page.click("a[href='/layers/e2e-buildings/']")
        page.wait_for_selector("#map[data-ready='e2e-buildings']", timeout=20_000)
    finally:
        worker.terminate()
        worker.wait(timeout=20)
        subprocess.run([sys.executable, "-m", "geoplatform.cli", "shell", "-c",
                        "from layers.models import Layer; Layer.objects.filter(slug='e2e-buildings').delete()"],
                       cwd=ROOT, env=env, check=True, capture_output=True)
