"""Warm mapserv processes (tiles/mapproxy/renderpool.py) behind MapProxy's mapserver source: the
same images as a cold mapserv, the pool really answering, a dead process replaced, and a cold
mapserv again when the pool is gone, even if its socket file stayed."""

import os
import signal
import socket
import time

import pytest
from django.db import connection

from tiles.mapproxy import mapfile, renderpool
from tiles.mapproxy.paths import paths

from .test_mapproxy import _keep_test_connection, client, getmap, png, tiles, token_for  # noqa: F401


def warm_connections() -> int:
    with connection.cursor() as cur:
        cur.execute("SELECT pg_stat_clear_snapshot()")  # else the transaction's first snapshot again
        cur.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s AND datname = current_database()",
                    [renderpool.APP_NAME])
        return cur.fetchone()[0]


def render(client, crs: str = "EPSG:4490"):
    """A restricted layer: MapProxy never stores it, so every request runs the mapserver binary."""
    from layers.models import Layer

    lon0, lat0, lon1, lat1 = Layer.objects.get(slug="korla-control-points").extent.extent
    extent = (lon0 - 0.002, lat0 - 0.002, lon1 + 0.002, lat1 + 0.002)
    bbox = (extent[1], extent[0], extent[3], extent[2]) if crs == "EPSG:4490" else None
    if bbox is None:
        from pyproj import Transformer

        t = Transformer.from_crs("EPSG:4490", crs, always_xy=True)
        (x0, y0), (x1, y1) = t.transform(extent[0], extent[1]), t.transform(extent[2], extent[3])
        bbox = (x0, y0, x1, y1) if crs == "EPSG:3857" else (y0, x0, y1, x1)  # GK zones: northing first
    return png(getmap(client, "korla-control-points", crs, bbox, headers=token_for("surveyor"), size=512))


@pytest.fixture
def pool(tiles):
    pool = renderpool.RenderPool(paths(), mapfile.MAPSERV, 2)
    assert pool.start()
    yield pool
    pool.stop()


@pytest.mark.django_db
@pytest.mark.parametrize("crs", ["EPSG:4490", "EPSG:3857", "EPSG:4538"])
def test_warm_pool_draws_what_a_cold_mapserv_draws(client, tiles, crs):
    others = warm_connections()  # a session's server (tests/conftest.py) keeps its own pool
    cold = render(client, crs)
    assert cold.getchannel("A").getextrema()[1] > 200  # the points are drawn
    pool = renderpool.RenderPool(paths(), mapfile.MAPSERV, 2)
    assert pool.start()
    try:
        warm = [render(client, crs) for _ in range(3)]
        assert warm_connections() > others  # the pool answered, and kept its connection open
        assert all(img.tobytes() == cold.tobytes() for img in warm)
    finally:
        pool.stop()
    assert not pool.socket.exists()
    assert warm_connections() == others  # the processes ended with their connections


@pytest.mark.django_db
def test_one_pool_per_tiles_directory(pool):
    second = renderpool.RenderPool(paths(), mapfile.MAPSERV, 2)
    assert second.start() is False
    second.stop()  # a no-op: the first pool keeps serving
    assert pool.socket.is_socket()


@pytest.mark.django_db
def test_a_dead_process_is_replaced(client, pool):
    before = render(client)
    victim = pool.pids[0]
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (victim in pool.pids or len(pool.pids) < 2):
        time.sleep(0.1)
    assert victim not in pool.pids and len(pool.pids) == 2
    assert render(client).tobytes() == before.tobytes()


@pytest.mark.django_db
def test_cold_mapserv_when_the_pool_left_its_socket_behind(client, tiles):
    others = warm_connections()
    expected = render(client)
    path = renderpool.socket_path(paths())
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))  # a socket file nobody listens on: what a killed pool leaves
    stale.close()
    try:
        assert path.is_socket()
        assert render(client).tobytes() == expected.tobytes()
        assert warm_connections() == others
    finally:
        path.unlink(missing_ok=True)


def test_wrapper_is_what_mapproxy_runs(tiles):
    import yaml

    p = paths()
    conf = yaml.safe_load(p.mapproxy_yaml.read_text())
    assert conf["globals"]["mapserver"]["binary"] == str(p.mapserv_cgi)
    assert os.access(p.mapserv_cgi, os.X_OK)
    text = p.mapserv_cgi.read_text()
    assert str(renderpool.socket_path(p)) in text and mapfile.MAPSERV in text


def test_the_socket_is_machine_local_and_keyed_on_the_tiles_directory(settings, tmp_path):
    from tiles.mapproxy.paths import Paths

    settings.DATA_DIR = tmp_path / "data"
    shared = Paths(tmp_path / "nfs" / "tiles")  # TILES_DIR may be storage several servers share
    path = renderpool.socket_path(shared)
    assert path.parent == (tmp_path / "data" / "mapserv").resolve() and shared.root not in path.parents
    assert path != renderpool.socket_path(Paths(tmp_path / "nfs" / "other"))
    settings.DATA_DIR = tmp_path / ("d" * 120)  # too long for a socket address: no pool, cold mapserv
    assert renderpool.socket_path(shared) is None
    assert "cgi-fcgi" not in renderpool.wrapper(shared, mapfile.MAPSERV)
    assert renderpool.RenderPool(shared, mapfile.MAPSERV).socket is None
