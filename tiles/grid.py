"""Web Mercator tile arithmetic (XYZ, origin top-left), for tile ranges and invalidation."""

import math

MAX_ZOOM = 22


def tile_range(bbox: tuple[float, float, float, float], z: int) -> tuple[int, int, int, int]:
    """(xmin, ymin, xmax, ymax) of the XYZ tiles at zoom z that intersect a lon/lat bbox."""
    lon0, lat0, lon1, lat1 = bbox
    n = 2**z
    x0, y0 = _tile(lon0, lat1, n)
    x1, y1 = _tile(lon1, lat0, n)
    return x0, y0, x1, y1


def _tile(lon: float, lat: float, n: int) -> tuple[int, int]:
    lat = max(min(lat, 85.0511287798), -85.0511287798)
    x = int((lon + 180.0) / 360.0 * n)
    y = int((1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0 * n)
    return min(max(x, 0), n - 1), min(max(y, 0), n - 1)


def valid(z: int, x: int, y: int) -> bool:
    return 0 <= z <= MAX_ZOOM and 0 <= x < 2**z and 0 <= y < 2**z


def pixel_metres(z: int) -> float:
    """Ground size of one pixel of a 256-px tile at the equator, in Web Mercator metres."""
    return 2 * math.pi * 6378137 / 256 / 2**z
