"""Raster layers' current files, and values read from them (the elevation query).

Bilinear interpolation between cell centres, as GIS tools report a DEM's height at a point;
coordinates arrive in CGCS2000 lon/lat and are transformed with pyproj into the raster's CRS.
"""

from functools import lru_cache

import numpy as np
import rasterio
from pyproj import CRS, Geod, Transformer
from rasterio.windows import Window

from .errors import InvalidInput
from .models import Layer, RasterVersion

_GEOD = Geod(ellps="GRS80")
MAX_PROFILE_SAMPLES = 2000


def current(layer: Layer) -> RasterVersion | None:
    return layer.raster_versions.filter(retired_at=None).order_by("-id").first()


@lru_cache(maxsize=64)
def _transformer(epsg: int | None, wkt: str) -> Transformer:
    target = CRS.from_epsg(epsg) if epsg else CRS.from_wkt(wkt)
    return Transformer.from_crs(4490, target, always_xy=True)


def sample(version: RasterVersion, lon: np.ndarray, lat: np.ndarray) -> list[float | None]:
    """Band 1 at each point, bilinear; None outside the raster or next to nodata cells."""
    x, y = _transformer(version.native_srid, version.crs_wkt).transform(np.asarray(lon, float), np.asarray(lat, float))
    out: list[float | None] = []
    with rasterio.open(version.absolute_path) as ds:
        inverse = ~ds.transform
        nodata = ds.nodata
        for px, py in zip(np.atleast_1d(x), np.atleast_1d(y)):
            col, row = inverse @ (px, py)
            col, row = col - 0.5, row - 0.5  # from cell corners to cell centres
            c0, r0 = int(np.floor(col)), int(np.floor(row))
            if not (-0.5 <= col <= ds.width - 0.5 and -0.5 <= row <= ds.height - 0.5):
                out.append(None)
                continue
            c0, r0 = min(max(c0, 0), ds.width - 2), min(max(r0, 0), ds.height - 2)
            fc, fr = min(max(col - c0, 0.0), 1.0), min(max(row - r0, 0.0), 1.0)
            block = ds.read(1, window=Window(c0, r0, 2, 2), masked=False).astype(float)
            if nodata is not None and np.any(block == nodata) or np.any(np.isnan(block)):
                out.append(None)
                continue
            top = block[0, 0] * (1 - fc) + block[0, 1] * fc
            bottom = block[1, 0] * (1 - fc) + block[1, 1] * fc
            out.append(float(top * (1 - fr) + bottom * fr))
    return out


def profile(version: RasterVersion, line: list[tuple[float, float]], samples: int) -> dict:
    """Heights at `samples` points spaced evenly (on the ellipsoid) along a lon/lat polyline."""
    if len(line) < 2:
        raise InvalidInput("a profile needs a line of at least two points")
    if not 2 <= samples <= MAX_PROFILE_SAMPLES:
        raise InvalidInput(f"samples must be between 2 and {MAX_PROFILE_SAMPLES}")
    lons, lats = np.array([p[0] for p in line]), np.array([p[1] for p in line])
    _, _, seg = _GEOD.inv(lons[:-1], lats[:-1], lons[1:], lats[1:])
    seg = np.atleast_1d(seg)
    total = float(seg.sum())
    cumulative = np.concatenate([[0.0], np.cumsum(seg)])
    distances = np.linspace(0.0, total, samples)
    pts_lon, pts_lat = [], []
    for d in distances:
        i = min(int(np.searchsorted(cumulative, d, side="right")) - 1, len(seg) - 1)
        az, _, _ = _GEOD.inv(lons[i], lats[i], lons[i + 1], lats[i + 1])
        lon, lat, _ = _GEOD.fwd(lons[i], lats[i], az, d - cumulative[i]) if seg[i] else (lons[i], lats[i], 0)
        pts_lon.append(float(lon))
        pts_lat.append(float(lat))
    heights = sample(version, np.array(pts_lon), np.array(pts_lat))
    return {"length_m": round(total, 3), "distance_m": [round(float(d), 3) for d in distances],
            "elevation": [None if h is None else round(h, 3) for h in heights],
            "points": [[round(a, 7), round(b, 7)] for a, b in zip(pts_lon, pts_lat)]}
