"""GCJ-02 / BD-09 offsets of Chinese web maps and their removal (ingest/poi/coords.py).

Reference values come from independent published implementations and docs, cited per pair.
They all encode the same public formula, so they check our transcription of it; the exact
inverses are checked by round trips instead.
"""

import time

import numpy as np
import pytest

from ingest.poi.coords import (
    SYSTEMS,
    bd09_to_gcj02,
    bd09_to_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    normalise_system,
    offset_metres,
    to_cgcs2000,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)

KORLA = (86.15, 41.76)
WUHAI = (106.8, 39.67)
BEIJING = (116.397, 39.909)
SHANGHAI = (121.473, 31.230)
PLACES = [KORLA, WUHAI, BEIJING, SHANGHAI]

# --- published reference pairs, all (lon, lat) -> (lon, lat), with the tolerance they allow ----

WGS_TO_GCJ = [
    # googollee/eviltransform, python/test.py and go/transform_test.go (given there as lat, lng)
    ((121.5272106, 31.1774276), (121.531541859215, 31.17530398364597), 1e-6),  # Shanghai
    ((113.912316, 22.543847), (113.9171764808363, 22.540796131694766), 1e-6),  # Shenzhen
    ((116.377817, 39.911954), (116.38404722455657, 39.91334545536069), 1e-6),  # Beijing
    # wandergis/coordtransform, README.md example output of wgs84togcj02(116.404, 39.915)
    ((116.404, 39.915), (116.41024449916938, 39.91640428150164), 1e-6),
    # hujiulong/gcoord, test/unit/crs/WGS84.spec.ts ("WGS84 to GCJ02")
    ((123.0, 45.0), (123.00607541, 45.00197815), 1e-6),
]

GCJ_TO_BD = [
    # wandergis/coordtransform, README.md example output of gcj02tobd09(116.404, 39.915)
    ((116.404, 39.915), (116.41036949371029, 39.92133699351021), 1e-6),
    # hujiulong/gcoord, test/unit/crs/GCJ02.spec.ts ("GCJ02 to BD09")
    ((123.0, 45.0), (123.00636499, 45.00636899), 1e-6),
    # Alibaba Cloud address purification API docs, TransferCoord response example
    # (help.aliyun.com/zh/address-purification/addrpapi/developer-reference/coordinate-system-conversion);
    # published to 6 decimals, so half a unit of rounding on top of 1e-6.
    ((120.026268, 30.279164), (120.032768, 30.285238), 1.5e-6),
]

BD_TO_GCJ = [
    # wandergis/coordtransform, README.md example output of bd09togcj02(116.404, 39.915)
    ((116.404, 39.915), (116.39762729119315, 39.90865673957631), 1e-6),
    # hujiulong/gcoord, test/unit/crs/BD09.spec.ts ("BD09 to GCJ02")
    ((123.0, 45.0), (122.99363304, 44.99365430), 1e-6),
]

# Inverses other tools publish. gcoord stops iterating at 1e-6 degrees and goes BD -> GCJ with
# Baidu's approximate formula, and its tests check 5 decimals (toBeCloseTo(x, 5): |d| < 5e-6),
# so that is the precision these pairs carry.
INVERSES = [
    # hujiulong/gcoord, test/unit/crs/GCJ02.spec.ts ("GCJ02 to WGS84")
    (gcj02_to_wgs84, (123.0, 45.0), (122.99395597, 44.99804071), 5e-6),
    # hujiulong/gcoord, test/unit/crs/BD09.spec.ts ("BD09 to WGS84")
    (bd09_to_wgs84, (123.0, 45.0), (122.98762210, 44.99171540), 5e-6),
    # hujiulong/gcoord, test/unit/crs/WGS84.spec.ts ("WGS84 to BD09"), a forward chain
    (wgs84_to_bd09, (123.0, 45.0), (123.0124491, 45.0083293), 5e-6),
]


def assert_close(got, expected, tol):
    assert abs(got[0] - expected[0]) <= tol and abs(got[1] - expected[1]) <= tol, (got, expected)


@pytest.mark.parametrize(("wgs", "gcj", "tol"), WGS_TO_GCJ)
def test_wgs84_to_gcj02_matches_published_pairs(wgs, gcj, tol):
    assert_close(wgs84_to_gcj02(*wgs), gcj, tol)


@pytest.mark.parametrize(("gcj", "bd", "tol"), GCJ_TO_BD)
def test_gcj02_to_bd09_matches_published_pairs(gcj, bd, tol):
    assert_close(gcj02_to_bd09(*gcj), bd, tol)


@pytest.mark.parametrize(("bd", "gcj", "tol"), BD_TO_GCJ)
def test_bd09_to_gcj02_matches_published_pairs(bd, gcj, tol):
    assert_close(bd09_to_gcj02(*bd), gcj, tol)


@pytest.mark.parametrize(("func", "src", "dst", "tol"), INVERSES)
def test_agrees_with_published_inverses_to_their_precision(func, src, dst, tol):
    assert_close(func(*src), dst, tol)


@pytest.mark.parametrize(("wgs", "gcj", "_tol"), WGS_TO_GCJ[:3])
def test_gcj02_to_wgs84_recovers_published_wgs_points(wgs, gcj, _tol):
    assert offset_metres(*gcj02_to_wgs84(*gcj), *wgs) < 0.01


def test_one_step_inverse_published_by_aliyun_is_metres_off():
    # The Aliyun docs example above gives WGS84 120.021519, 30.281543 for GCJ 120.026268,
    # 30.279164: the common one-step shortcut (subtract the offset found at the GCJ point).
    # The exact inverse lands about 1.5 m away and maps forward onto the GCJ point again.
    gcj = (120.026268, 30.279164)
    exact = gcj02_to_wgs84(*gcj)
    assert 0.5 < offset_metres(*exact, 120.021519, 30.281543) < 5
    assert_close(wgs84_to_gcj02(*exact), gcj, 1e-9)


# --- round trips -------------------------------------------------------------------------------

def china_points(n=1000, seed=20240601):
    """Random points over China, inside the GCJ box with room to spare."""
    rng = np.random.default_rng(seed)
    return rng.uniform(73.5, 134.5, n), rng.uniform(18.5, 53.0, n)


@pytest.mark.parametrize("place", PLACES, ids=["korla", "wuhai", "beijing", "shanghai"])
def test_round_trips_at_places(place):
    assert offset_metres(*gcj02_to_wgs84(*wgs84_to_gcj02(*place)), *place) < 0.5
    assert offset_metres(*bd09_to_wgs84(*wgs84_to_bd09(*place)), *place) < 0.5
    # The other way round: a GCJ/BD point read off a map goes back onto itself.
    assert_close(wgs84_to_gcj02(*gcj02_to_wgs84(*place)), place, 1e-9)
    assert_close(wgs84_to_bd09(*bd09_to_wgs84(*place)), place, 1e-9)


def test_round_trips_over_china():
    lon, lat = china_points()
    assert offset_metres(*gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat)), lon, lat).max() < 0.5
    assert offset_metres(*bd09_to_wgs84(*wgs84_to_bd09(lon, lat)), lon, lat).max() < 0.5
    # Converged inverses: the forward transform reproduces the input to ~1e-9 degrees (0.1 mm).
    for forward, inverse in [(wgs84_to_gcj02, gcj02_to_wgs84), (wgs84_to_bd09, bd09_to_wgs84)]:
        flon, flat = forward(*inverse(lon, lat))
        assert np.abs(flon - lon).max() < 1e-8 and np.abs(flat - lat).max() < 1e-8


def test_bd09_to_wgs84_is_exact_where_the_two_step_path_is_not():
    lon, lat = china_points()
    exact = bd09_to_wgs84(lon, lat)
    two_step = gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))
    blon, blat = wgs84_to_bd09(*exact)
    assert np.abs(blon - lon).max() < 1e-8 and np.abs(blat - lat).max() < 1e-8
    # Baidu's approximate inverse leaves centimetres to decimetres, never metres.
    assert offset_metres(*exact, *two_step).max() < 0.5


# --- size of the shift where the platform works (../shared/DOMAIN.md) ---------------------------

def around(place, d=0.2, n=9):
    lon, lat = np.meshgrid(np.linspace(place[0] - d, place[0] + d, n), np.linspace(place[1] - d, place[1] + d, n))
    return lon.ravel(), lat.ravel()


@pytest.mark.parametrize(("place", "low", "high"), [(KORLA, 150, 300), (WUHAI, 300, 500)], ids=["korla", "wuhai"])
def test_shift_size_around_our_cities(place, low, high):
    lon, lat = around(place)
    shift = offset_metres(lon, lat, *wgs84_to_gcj02(lon, lat))
    assert 100 <= shift.min() and shift.max() <= 700  # the 100-700 m DOMAIN.md gives for China
    assert low <= shift.min() and shift.max() <= high  # ~220 m at Korla, ~400 m at Wuhai
    # GCJ -> WGS removes the same amount.
    assert np.allclose(offset_metres(lon, lat, *gcj02_to_wgs84(lon, lat)), shift, atol=5)


# --- outside China, input kinds, systems --------------------------------------------------------

OUTSIDE = [(139.69, 35.69), (-0.1276, 51.5072), (0.0, 0.0), (150.0, -33.9), (71.9, 40.0), (100.0, 56.0)]


@pytest.mark.parametrize("place", OUTSIDE)
def test_gcj02_is_identity_outside_china(place):
    assert wgs84_to_gcj02(*place) == place
    assert gcj02_to_wgs84(*place) == place
    # Baidu's step is applied everywhere, as in the reference implementations.
    assert wgs84_to_bd09(*place) == gcj02_to_bd09(*place)
    assert offset_metres(*bd09_to_wgs84(*wgs84_to_bd09(*place)), *place) < 0.5


def test_arrays_mixing_inside_and_outside():
    lon = np.array([KORLA[0], 139.69, WUHAI[0]])
    lat = np.array([KORLA[1], 35.69, WUHAI[1]])
    glon, glat = wgs84_to_gcj02(lon, lat)
    assert (glon[1], glat[1]) == (139.69, 35.69)
    assert (glon[0], glat[0]) == wgs84_to_gcj02(*KORLA)
    assert (glon[2], glat[2]) == wgs84_to_gcj02(*WUHAI)


FUNCS = [wgs84_to_gcj02, gcj02_to_wgs84, gcj02_to_bd09, bd09_to_gcj02, wgs84_to_bd09, bd09_to_wgs84]


@pytest.mark.parametrize("func", FUNCS, ids=lambda f: f.__name__)
def test_scalars_and_arrays(func):
    x, y = func(*KORLA)
    assert type(x) is float and type(y) is float

    lon = np.array([[KORLA[0], WUHAI[0]], [BEIJING[0], SHANGHAI[0]]])
    lat = np.array([[KORLA[1], WUHAI[1]], [BEIJING[1], SHANGHAI[1]]])
    before = lon.copy(), lat.copy()
    alon, alat = func(lon, lat)
    assert isinstance(alon, np.ndarray) and alon.shape == alat.shape == (2, 2)
    assert alon[0, 0] == pytest.approx(x, abs=1e-12) and alat[0, 0] == pytest.approx(y, abs=1e-12)
    assert np.array_equal(lon, before[0]) and np.array_equal(lat, before[1])  # inputs untouched

    llon, llat = func([KORLA[0]], [KORLA[1]])  # lists are accepted and give arrays
    assert isinstance(llon, np.ndarray) and llon.shape == (1,)

    nlon, nlat = func(np.array([np.nan, KORLA[0]]), np.array([np.nan, KORLA[1]]))
    assert np.isnan(nlon[0]) and np.isnan(nlat[0]) and nlon[1] == pytest.approx(x, abs=1e-12)


@pytest.mark.parametrize("func", [gcj02_to_wgs84, bd09_to_wgs84, wgs84_to_bd09], ids=lambda f: f.__name__)
def test_100k_points_well_under_a_second(func):
    lon, lat = china_points(100_000)
    best = min(_timed(func, lon, lat) for _ in range(3))  # best of 3: robust to a busy machine
    assert best < 1.0


def _timed(func, *args):
    start = time.perf_counter()
    func(*args)
    return time.perf_counter() - start


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        ("WGS84", "WGS84"), ("wgs-84", "WGS84"), ("wgs84", "WGS84"), ("EPSG:4326", "WGS84"), ("epsg:4326", "WGS84"),
        ("4326", "WGS84"), ("CGCS2000", "CGCS2000"), ("cgcs2000", "CGCS2000"), ("EPSG:4490", "CGCS2000"),
        ("4490", "CGCS2000"), ("GCJ02", "GCJ02"), ("gcj-02", "GCJ02"), (" GCJ_02 ", "GCJ02"), ("BD09", "BD09"),
        ("bd-09", "BD09"), ("bd09ll", "BD09"),
    ],
)
def test_normalise_system(name, canonical):
    assert normalise_system(name) == canonical
    assert canonical in SYSTEMS


def test_systems():
    assert SYSTEMS == ("WGS84", "CGCS2000", "GCJ02", "BD09")
    assert all(normalise_system(s) == s for s in SYSTEMS)


@pytest.mark.parametrize("name", ["", "UTM", "EPSG:3857", "4214", "Xian1980", None])
def test_unknown_system_is_refused(name):
    with pytest.raises(ValueError, match="unknown coordinate system.*WGS84, CGCS2000, GCJ02, BD09"):
        normalise_system(name)
    with pytest.raises(ValueError, match="unknown coordinate system"):
        to_cgcs2000(*KORLA, name)


def test_to_cgcs2000():
    assert to_cgcs2000(*KORLA, "EPSG:4490") == KORLA
    assert to_cgcs2000(*KORLA, "wgs-84") == KORLA  # WGS84 counts as CGCS2000 for points
    assert to_cgcs2000(*KORLA, "gcj-02") == gcj02_to_wgs84(*KORLA)
    assert to_cgcs2000(*KORLA, "bd-09") == bd09_to_wgs84(*KORLA)
    # A point picked on Amap / Baidu at the true location comes back onto it.
    assert offset_metres(*to_cgcs2000(*wgs84_to_gcj02(*WUHAI), "GCJ02"), *WUHAI) < 0.5
    assert offset_metres(*to_cgcs2000(*wgs84_to_bd09(*WUHAI), "BD09"), *WUHAI) < 0.5

    lon, lat = np.array([KORLA[0], WUHAI[0]]), np.array([KORLA[1], WUHAI[1]])
    out = to_cgcs2000(lon, lat, "4490")
    assert isinstance(out[0], np.ndarray) and np.array_equal(out[0], lon) and out[0] is not lon


def test_offset_metres():
    # One degree of meridian from the equator is 110 574.389 m on WGS84; GRS80 differs by < 1 mm.
    assert offset_metres(0.0, 0.0, 0.0, 1.0) == pytest.approx(110_574.389, abs=0.01)
    assert offset_metres(*KORLA, *KORLA) == 0.0
    assert isinstance(offset_metres(*KORLA, *WUHAI), float)
    d = offset_metres(np.array([0.0, 0.0]), np.array([0.0, 0.0]), 0.0, np.array([1.0, 0.0]))
    assert d.shape == (2,) and d[0] == pytest.approx(110_574.389, abs=0.01) and d[1] == 0.0
