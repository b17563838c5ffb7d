"""Undo the offsets of Chinese consumer web maps: GCJ-02 (Amap/Gaode, Tencent) and BD-09 (Baidu).

Points copied from those apps are deliberately shifted by roughly 100-700 m (about 220 m around
Korla, 400 m around Wuhai; see ../shared/DOMAIN.md). PROJ knows neither system, so the
transforms live here:

* WGS84 -> GCJ-02 is the public "eviltransform"/"coordtransform" formula (Krasovsky-like
  a = 6378245.0, ee = 0.00669342162296594323). It is applied only inside the usual rough China
  bounding box (72.004-137.8347 E, 0.8293-55.8271 N); outside it GCJ-02 is WGS84, as in the
  reference implementations.
* GCJ-02 -> WGS84 has no closed form. The one-step "subtract the offset at the GCJ point" trick
  that many libraries ship is up to ~5 m off, so we iterate until the forward transform of the
  estimate reproduces the input to 1e-9 degrees (about 0.1 mm).
* GCJ-02 <-> BD-09 is Baidu's small rotation/scaling with x_pi = pi * 3000 / 180. Like the
  reference implementations (coordtransform, gcoord) it is applied everywhere, with no China
  check. Its published inverse is only approximate (up to ~2e-6 degrees, about 0.2 m), so
  `bd09_to_gcj02` keeps the published formula to agree with other tools, while `bd09_to_wgs84`
  iterates the whole forward chain WGS84 -> GCJ-02 -> BD-09 and is exact.

WGS84 and CGCS2000 (EPSG:4326 / EPSG:4490) differ by centimetres for points, far below the
accuracy of any web-map pick, so they are treated as identical here (PROJ does the same with a
ballpark transform; ingest/crs.py stores CGCS2000).

Every function takes floats or numpy arrays (anything numpy broadcasts) and returns the same
kind: two floats for scalar input, two float64 arrays otherwise.
"""

from __future__ import annotations

import numpy as np
from pyproj import Geod

__all__ = [
    "SYSTEMS",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "normalise_system",
    "offset_metres",
    "to_cgcs2000",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

SYSTEMS = ("WGS84", "CGCS2000", "GCJ02", "BD09")

_A = 6378245.0
_EE = 0.00669342162296594323
_X_PI = np.pi * 3000.0 / 180.0
_TOL = 1e-9  # degrees; ~0.1 mm, far inside the 0.5 m the platform needs
_MAX_ITER = 30
_GEOD = Geod(ellps="GRS80")  # the CGCS2000 ellipsoid (identical to WGS84's to 0.1 mm)


def _arrays(lon, lat):
    """float64 arrays of a common shape, and whether the caller passed plain scalars."""
    scalar = np.ndim(lon) == 0 and np.ndim(lat) == 0
    lon, lat = np.broadcast_arrays(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    return lon, lat, scalar


def _result(lon, lat, scalar):
    return (float(lon), float(lat)) if scalar else (lon, lat)


def _in_china(lon, lat):
    return (lon >= 72.004) & (lon <= 137.8347) & (lat >= 0.8293) & (lat <= 55.8271)


def _gcj_delta(lon, lat):
    """The GCJ-02 offset (dlon, dlat) in degrees at a WGS84 point, without the China check."""
    x, y = lon - 105.0, lat - 35.0
    common = (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    dlat = (-100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x)) + common
            + (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
            + (160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0)
    dlon = (300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x)) + common
            + (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
            + (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0)
    # The metre offsets above are turned into degrees on the Krasovsky-like ellipsoid.
    rad = np.radians(lat)
    magic = 1.0 - _EE * np.sin(rad) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = dlat * 180.0 / (_A * (1.0 - _EE) / (magic * sqrt_magic) * np.pi)
    dlon = dlon * 180.0 / (_A / sqrt_magic * np.cos(rad) * np.pi)
    return dlon, dlat


def _gcj_forward(lon, lat, inside):
    dlon, dlat = _gcj_delta(lon, lat)
    return np.where(inside, lon + dlon, lon), np.where(inside, lat + dlat, lat)


def _bd_forward(lon, lat):
    z = np.hypot(lon, lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def _bd_inverse(lon, lat):
    x, y = lon - 0.0065, lat - 0.006
    z = np.hypot(x, y) - 0.00002 * np.sin(y * _X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _X_PI)
    return z * np.cos(theta), z * np.sin(theta)


def _invert(forward, lon, lat, lon0, lat0):
    """Solve forward(w) = (lon, lat) from the start (lon0, lat0) by fixed-point iteration.

    The offsets vary slowly (their derivatives are below about 0.01), so each round of
    w += target - forward(w) shrinks the error some 100-fold: 4-6 rounds reach 1e-9 degrees.
    NaN inputs stay NaN and do not block convergence.
    """
    wlon, wlat = lon0.copy(), lat0.copy()
    for _ in range(_MAX_ITER):
        flon, flat = forward(wlon, wlat)
        rlon, rlat = lon - flon, lat - flat
        wlon += rlon
        wlat += rlat
        if not (np.any(np.abs(rlon) > _TOL) or np.any(np.abs(rlat) > _TOL)):
            break
    return wlon, wlat


def wgs84_to_gcj02(lon, lat):
    lon, lat, scalar = _arrays(lon, lat)
    return _result(*_gcj_forward(lon, lat, _in_china(lon, lat)), scalar)


def gcj02_to_wgs84(lon, lat):
    lon, lat, scalar = _arrays(lon, lat)
    # Decide "inside China" on the input and keep it fixed while iterating: re-testing the box
    # at each estimate could flip a point near the box edge back and forth.
    inside = _in_china(lon, lat)
    wlon, wlat = _invert(lambda x, y: _gcj_forward(x, y, inside), lon, lat, lon, lat)
    return _result(wlon, wlat, scalar)


def gcj02_to_bd09(lon, lat):
    lon, lat, scalar = _arrays(lon, lat)
    return _result(*_bd_forward(lon, lat), scalar)


def bd09_to_gcj02(lon, lat):
    """Baidu's published inverse; up to ~0.2 m off the exact inverse (see module doc)."""
    lon, lat, scalar = _arrays(lon, lat)
    return _result(*_bd_inverse(lon, lat), scalar)


def wgs84_to_bd09(lon, lat):
    lon, lat, scalar = _arrays(lon, lat)
    return _result(*_bd_forward(*_gcj_forward(lon, lat, _in_china(lon, lat))), scalar)


def bd09_to_wgs84(lon, lat):
    lon, lat, scalar = _arrays(lon, lat)
    glon, glat = _bd_inverse(lon, lat)
    inside = _in_china(glon, glat)
    # Iterating the whole chain, not bd09_to_gcj02 then gcj02_to_wgs84, also removes the error of
    # Baidu's approximate inverse.
    wlon, wlat = _invert(lambda x, y: _bd_forward(*_gcj_forward(x, y, inside)), lon, lat, glon, glat)
    return _result(wlon, wlat, scalar)


_ALIASES = {
    "WGS84": "WGS84", "4326": "WGS84",
    "CGCS2000": "CGCS2000", "CGCS": "CGCS2000", "4490": "CGCS2000",
    "GCJ02": "GCJ02", "GCJ": "GCJ02",
    "BD09": "BD09", "BD09LL": "BD09",  # bd09ll: Baidu's own API name for BD-09 lon/lat
}


def normalise_system(name) -> str:
    """Canonical name (one of `SYSTEMS`) for spellings like "gcj-02", "BD_09", "EPSG:4490"."""
    key = str(name).strip().upper()
    for ch in "-_ .:":
        key = key.replace(ch, "")
    key = key.removeprefix("EPSG")
    try:
        return _ALIASES[key]
    except KeyError:
        raise ValueError(
            f"unknown coordinate system {name!r}; expected one of {', '.join(SYSTEMS)} "
            "(aliases like 'gcj-02', 'bd-09', 'wgs-84', 'EPSG:4326', 'EPSG:4490' are accepted)"
        ) from None


def to_cgcs2000(lon, lat, system: str):
    """CGCS2000 lon/lat of points given in `system` (WGS84 counts as CGCS2000, see module doc)."""
    system = normalise_system(system)
    if system == "GCJ02":
        return gcj02_to_wgs84(lon, lat)
    if system == "BD09":
        return bd09_to_wgs84(lon, lat)
    lon, lat, scalar = _arrays(lon, lat)
    return _result(lon.copy(), lat.copy(), scalar)


def offset_metres(lon1, lat1, lon2, lat2):
    """Ellipsoidal (GRS80) distance in metres between two points or arrays of points."""
    scalar = all(np.ndim(v) == 0 for v in (lon1, lat1, lon2, lat2))
    arrays = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (lon1, lat1, lon2, lat2)))
    _, _, dist = _GEOD.inv(*(a.ravel() for a in arrays))
    dist = np.asarray(dist, dtype=float).reshape(arrays[0].shape)
    return float(dist) if scalar else dist
