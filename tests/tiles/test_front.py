"""The static front (geoplatform/front.py, tiles/front.py): Debian's nginx in front of the real
server, as `make demo` runs it. Cached public tiles come from disk (nginx marks those answers
`X-Front: static`), everything else and every miss from the app; nothing non-public is ever read
from disk by nginx; a data change leaves no stale tile behind, and untouched tiles stay cached.

The session's `server` runs with the front when nginx is installed. Changes the server must see
are made by `geoplatform shell` with the server's environment (committed, like an operator's).
"""

import math
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import Message
from pathlib import Path

import pytest
import yaml

from geoplatform import front
from layers.models import Layer

from ..conftest import INTERNAL, RESTRICTED, ROOT, free_port

pytestmark = pytest.mark.skipif(not front.available(), reason="nginx is not installed (scripts/system-deps.sh)")

KORLA = (86.15231, 41.76055)  # a place of the sample `places` layer
WUHAI = (106.8, 39.67)  # far away from it
MVT = "application/vnd.mapbox-vector-tile"


@dataclass
class Answer:
    status: int
    headers: Message  # names in any case (MapProxy writes `Cache-control`)
    body: bytes

    @property
    def from_disk(self) -> bool:
        return self.headers.get("X-Front") == "static"


def fetch(url: str, headers: dict | None = None) -> Answer:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=60) as r:
            return Answer(r.status, r.headers, r.read())
    except urllib.error.HTTPError as e:
        return Answer(e.code, e.headers, e.read())


def shell(server_env: dict, code: str) -> str:
    """Python in a `geoplatform shell` on the server's database and tiles directory: what it
    commits, its signals (cache invalidation, regeneration) and all, happen as in production."""
    done = subprocess.run([sys.executable, "-m", "geoplatform.cli", "shell", "-c", code], cwd=ROOT, env=server_env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout


def token_for(server_env: dict, username: str) -> dict:
    done = subprocess.run([sys.executable, "-m", "geoplatform.cli", "token", "create", username], cwd=ROOT,
                          env=server_env, capture_output=True, text=True, check=True)
    return {"Authorization": f"Token {done.stdout.strip()}"}


def tiles_dir(server_env) -> Path:
    return Path(server_env["GEOPLATFORM_TILES_DIR"])


def xyz(lon, lat, z):
    """Web Mercator tile (x, y from the north): the vector tiles' and GLOBAL_WEBMERCATOR's."""
    n = 2**z
    return int((lon + 180) / 360 * n), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)


def cgcs2000(lon, lat, z):
    span = 1.40625 / 2**z * 256
    return int((lon + 180) / span), int((90 - lat) / span)


def rows(grid, z):
    return 2**z if grid == "GLOBAL_WEBMERCATOR" else max(2 ** (z - 1), 1)


GRIDS = {"GLOBAL_WEBMERCATOR": xyz, "cgcs2000_c": cgcs2000}


def wmts(layer, grid, z, x, y):
    return f"/tiles/wmts/{layer}/{grid}/{z:02d}/{x}/{y}.png"


def tms(layer, grid, z, x, y):
    return f"/tiles/tms/1.0.0/{layer}/{grid}/{z}/{x}/{rows(grid, z) - 1 - y}.png"


# --- static files ---------------------------------------------------------------------------


def test_static_files_come_from_nginx(server):
    js = fetch(server + "/static/vendor/leaflet/leaflet.js")
    assert js.status == 200 and js.from_disk and b"Leaflet" in js.body[:2000]
    assert js.headers["Cache-Control"] == "max-age=60, public"  # as WhiteNoise says
    gz = fetch(server + "/static/vendor/leaflet/leaflet.js", {"Accept-Encoding": "gzip"})
    assert gz.from_disk and gz.headers.get("Content-Encoding") == "gzip" and len(gz.body) < len(js.body)
    missing = fetch(server + "/static/no-such-file.js")
    assert missing.status == 404 and not missing.from_disk  # the app's answer


# --- raster tiles (MapProxy) -----------------------------------------------------------------


@pytest.mark.parametrize("grid", list(GRIDS))
def test_public_raster_tile_is_rendered_once_then_read_from_disk(server, server_env, grid):
    z = 13
    x, y = GRIDS[grid](*KORLA, z)
    first = fetch(server + wmts("places", grid, z, x, y))
    assert first.status == 200 and first.headers["Content-Type"] == "image/png" and not first.from_disk
    stored = tiles_dir(server_env) / "front" / "raster" / "places" / grid / str(z) / str(x) / f"{y}.png"
    assert stored.read_bytes() == first.body  # MapProxy's file: rows from the north, like WMTS

    again = fetch(server + wmts("places", grid, z, x, y))
    assert again.from_disk and again.body == first.body
    for header in ("Content-Type", "Cache-Control", "Vary", "Access-Control-Allow-Origin"):
        assert again.headers[header] == first.headers[header], header
    assert again.headers["Last-Modified"] and again.headers["ETag"]
    # TMS counts rows from the south: the same file.
    south = fetch(server + tms("places", grid, z, x, y))
    assert south.from_disk and south.body == first.body
    # The rest of the rendered 4 × 4 metatile was stored too: from disk without the app ever asked.
    neighbour = fetch(server + wmts("places", grid, z, x ^ 1, y))
    assert neighbour.status == 200 and neighbour.from_disk

    # What nginx leaves to the app: query arguments (MapProxy reads some), and credentials.
    assert not fetch(server + wmts("places", grid, z, x, y) + "?origin=nw").from_disk
    with_token = fetch(server + wmts("places", grid, z, x, y), token_for(server_env, "tourism"))
    assert with_token.status == 200 and not with_token.from_disk and with_token.headers["Cache-Control"] == "private"
    bad_token = fetch(server + wmts("places", grid, z, x, y), {"Authorization": "Token gp_nonsense"})
    assert bad_token.status == 401  # never a silent anonymous, not even for a public tile on disk


# --- vector tiles ----------------------------------------------------------------------------


def test_public_vector_tile_is_rendered_once_then_read_from_disk(server):
    x, y = xyz(*KORLA, 13)
    first = fetch(f"{server}/vt/places/13/{x}/{y}.pbf?v=1")
    assert first.status == 200 and not first.from_disk and first.headers["ETag"].startswith('W/"places-')
    again = fetch(f"{server}/vt/places/13/{x}/{y}.pbf?v=1")
    assert again.from_disk and again.body == first.body
    assert again.headers["Content-Type"] == MVT
    assert again.headers["Cache-Control"] == first.headers["Cache-Control"] == "public, max-age=86400"
    assert again.headers["Vary"] == "Cookie, Authorization"
    # An empty tile is a 204 from the app, and from disk afterwards.
    empty = [fetch(f"{server}/vt/places/13/0/0.pbf") for _ in range(2)]
    assert [e.status for e in empty] == [204, 204] and [e.from_disk for e in empty] == [False, True]
    assert empty[1].headers["Cache-Control"] == "public, max-age=86400"


def test_a_session_goes_to_the_app_which_lets_nginx_send_the_cached_file(server):
    x, y = xyz(*KORLA, 13)
    fetch(f"{server}/vt/places/13/{x}/{y}.pbf")
    # A session cookie (here one Django does not know): the app checks, then X-Accel-Redirect.
    accel = fetch(f"{server}/vt/places/13/{x}/{y}.pbf", {"Cookie": "sessionid=unknown"})
    assert accel.status == 200 and accel.headers["X-Front"] == "accel" and accel.headers["Content-Type"] == MVT
    assert accel.body == fetch(f"{server}/vt/places/13/{x}/{y}.pbf").body
    # The internal location is not reachable from outside.
    assert fetch(f"{server}/_accel/vt/public/places/13/{x}/{y}.pbf").status == 404


# --- access ----------------------------------------------------------------------------------


def test_non_public_tiles_never_come_from_disk(server, server_env, db):
    """Files planted where a careless front would look (the public folders, a MapProxy cache) are
    never sent: nginx reads only what tiles/front.py links, and links only public layers."""
    extent = Layer.objects.get(slug=RESTRICTED).extent.extent
    lon, lat = (extent[0] + extent[2]) / 2, (extent[1] + extent[3]) / 2
    z, decoy = 15, b"planted: must never be served"
    vx, vy = xyz(lon, lat, z)
    cx, cy = cgcs2000(lon, lat, z)
    root = tiles_dir(server_env)
    planted = [root / "vt" / "public" / slug / str(z) / str(vx) / f"{vy}.pbf" for slug in (RESTRICTED, INTERNAL)]
    planted += [root / "mapproxy" / "cache" / f"{slug}_planted" / "cgcs2000_c" / str(z) / str(cx) / f"{cy}.png"
                for slug in (RESTRICTED, INTERNAL)]
    try:
        for path in planted:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(decoy)
        assert not any((root / "front" / kind / RESTRICTED).exists() for kind in ("vt", "raster"))
        for slug in (RESTRICTED, INTERNAL):
            for url, refused in [(f"/vt/{slug}/{z}/{vx}/{vy}.pbf", 404), (wmts(slug, "cgcs2000_c", z, cx, cy), 403),
                                 (tms(slug, "cgcs2000_c", z, cx, cy), 403)]:
                answer = fetch(server + url)
                assert answer.status == refused and not answer.from_disk and decoy not in answer.body, url

        # A department that may see the restricted layer gets it from the app, never the planted files.
        token = token_for(server_env, "statistics")
        vt = fetch(f"{server}/vt/{RESTRICTED}/{z}/{vx}/{vy}.pbf", token)
        assert vt.status in (200, 204) and not vt.from_disk and vt.body != decoy
        assert vt.headers["Cache-Control"].startswith("private")
        raster = fetch(server + wmts(RESTRICTED, "cgcs2000_c", z, cx, cy), token)
        assert raster.status == 200 and raster.body.startswith(b"\x89PNG") and not raster.from_disk
        assert raster.headers["Cache-Control"] == "private"
        if vt.status == 200:  # cached in the private folder now: the app checks, nginx sends it
            again = fetch(f"{server}/vt/{RESTRICTED}/{z}/{vx}/{vy}.pbf", token)
            assert again.headers["X-Front"] == "accel" and again.body == vt.body
            assert again.headers["Cache-Control"].startswith("private")
    finally:
        for path in planted:
            path.unlink(missing_ok=True)


def test_a_layer_made_internal_leaves_the_front_at_once(server, server_env, db):
    extent = Layer.objects.get(slug="lakes").extent.extent  # MapProxy stores tiles within it only
    x, y = xyz((extent[0] + extent[2]) / 2, (extent[1] + extent[3]) / 2, 12)
    links = tiles_dir(server_env) / "front"
    vt_url, raster_url = f"{server}/vt/lakes/12/{x}/{y}.pbf", server + wmts("lakes", "GLOBAL_WEBMERCATOR", 12, x, y)
    for url in (vt_url, raster_url):
        fetch(url)
        assert fetch(url).from_disk
    set_access = "from layers.models import Layer\nl = Layer.objects.get(slug='lakes')\nl.access = '{}'\nl.save()"
    try:
        shell(server_env, set_access.format("internal"))
        assert not (links / "vt" / "lakes").exists() and not (links / "raster" / "lakes").exists()
        # Nor does any other link lead to a cache drawing it (the basemap of public layers).
        conf = yaml.safe_load((tiles_dir(server_env) / "mapproxy" / "mapproxy.yaml").read_text())
        for link in (links / "raster").iterdir():
            cache = conf["caches"][os.path.basename(os.readlink(link))]
            drawn = {name for source in cache["sources"] for name in conf["sources"][source]["req"]["layers"].split(",")}
            assert "lakes" not in drawn, link.name
        time.sleep(2.2)  # MapProxy's public layer list lives 2 s per process (tiles.mapproxy.auth)
        assert (fetch(vt_url).status, fetch(raster_url).status) == (404, 403)
    finally:
        shell(server_env, set_access.format("public"))
    assert (links / "vt" / "lakes").is_symlink() and (links / "raster" / "lakes").is_symlink()


# --- invalidation ----------------------------------------------------------------------------

MOVE_KORLA = """
from django.db import connection, transaction
from layers.changes import announce
from layers.models import Layer
dx = {dx}
with transaction.atomic():
    layer = Layer.objects.get(slug="places")
    with connection.cursor() as cur:
        cur.execute('UPDATE data."' + layer.table_name + '" SET geom = ST_Translate(geom, %s, 0) WHERE name = %s '
                    'RETURNING ST_X(ST_Centroid(geom)), ST_Y(ST_Centroid(geom))', [dx, "Korla"])
        (x, y), = cur.fetchall()
    announce(layer, (min(x, x - dx), y, max(x, x - dx), y))
"""


def test_a_data_change_leaves_no_stale_tile_and_keeps_the_others(server, server_env):
    root = tiles_dir(server_env) / "front"
    z = 12
    vt = {name: f"/vt/places/{z}/{xyz(*where, z)[0]}/{xyz(*where, z)[1]}.pbf" for name, where in
          [("korla", KORLA), ("wuhai", WUHAI)]}
    raster = {name: wmts("places", "cgcs2000_c", z, *cgcs2000(*where, z)) for name, where in
              [("korla", KORLA), ("wuhai", WUHAI)]}

    def file_of(url):
        parts = url.removesuffix(".pbf").removesuffix(".png").split("/")
        kind = "vt" if url.startswith("/vt/") else "raster"
        base = root / kind / "places" / ("" if kind == "vt" else parts[-4])
        return base / str(int(parts[-3])) / parts[-2] / (parts[-1] + (".pbf" if kind == "vt" else ".png"))

    urls = [*vt.values(), *raster.values()]
    for url in urls:
        fetch(server + url)
    before = {url: fetch(server + url) for url in urls}
    assert all(a.from_disk for a in before.values())
    kept = {url: file_of(url).stat().st_ino for url in (vt["wuhai"], raster["wuhai"])}

    try:
        shell(server_env, MOVE_KORLA.format(dx=0.02))  # Korla moves 0.02° east: committed, announced
        for url in (vt["korla"], raster["korla"]):
            assert not file_of(url).exists(), url  # the app deleted the stale file
            after = fetch(server + url)
            assert after.status == 200 and not after.from_disk and after.body != before[url].body, url
            assert fetch(server + url).from_disk  # cached anew
        for url, inode in kept.items():  # far from the change: the same file, still from disk
            after = fetch(server + url)
            assert after.from_disk and after.body == before[url].body and file_of(url).stat().st_ino == inode
    finally:
        shell(server_env, MOVE_KORLA.format(dx=-0.02))
    restored = fetch(server + vt["korla"])
    assert not restored.from_disk and restored.body == before[vt["korla"]].body


# --- the processes ---------------------------------------------------------------------------


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _gone(pid: int, seconds: float = 15) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL])
def test_nginx_ends_with_serve(server_env, tmp_path, how):
    """Stopped or killed outright, `serve` leaves no nginx, gunicorn or warm mapserv behind."""
    port, run = free_port(), tmp_path / "front"
    env = server_env | {"GEOPLATFORM_TILES_DIR": str(tmp_path / "tiles")}  # a render pool of its own
    serve = subprocess.Popen([sys.executable, "-m", "geoplatform.cli", "serve", "--port", str(port), "--workers", "1",
                              "--no-jobs", "--front", "nginx", "--front-dir", str(run), "--render-processes", "2"],
                             cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not (run / "nginx.pid").exists() or not (run / "nginx.pid").read_text().strip() or not _listening(port):
            assert serve.poll() is None and time.monotonic() < deadline, "serve did not start nginx"
            time.sleep(0.1)
        nginx_pid = int((run / "nginx.pid").read_text())
        assert fetch(f"http://127.0.0.1:{port}/static/vendor/leaflet/leaflet.js").from_disk
        children = subprocess.run(["pgrep", "-P", str(serve.pid), "-x", "mapserv"], capture_output=True, text=True)
        mapserv = [int(pid) for pid in children.stdout.split()]
        assert len(mapserv) == 2
        serve.send_signal(how)
        serve.wait(timeout=30)
        assert _gone(nginx_pid) and not _listening(port)
        assert all(_gone(pid) for pid in mapserv)
        if how == signal.SIGTERM:
            assert serve.returncode == 0 and not (run / "app.sock").exists()
    finally:
        if serve.poll() is None:
            serve.kill()
