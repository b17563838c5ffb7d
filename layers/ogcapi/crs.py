"""The CRSs the API speaks (OGC API Features Part 2), with their axis order.

CRS84 is lon/lat. EPSG:4490 and EPSG:4326 are lat/lon and the CGCS2000 Gauss-Krüger CRSs
northing/easting in EPSG's definition: coordinates in those are swapped on the way in and out.
"""

from functools import cache

from pyproj import CRS

from ..errors import InvalidInput

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG_URI = "http://www.opengis.net/def/crs/EPSG/0/{}"

# Bayingolin spans 3° zones 27–31 (CM 81–93E), Wuhai zone 36 (CM 108E); both easting forms.
GK_ZONES = [4515, 4516, 4517, 4518, 4519, 4524, 4536, 4537, 4538, 4539, 4540, 4545]
SUPPORTED = [4490, 4326, 3857, *GK_ZONES]


def supported_uris() -> list[str]:
    return [CRS84] + [EPSG_URI.format(code) for code in SUPPORTED]


def uri_of(srid: int | None) -> str:
    return CRS84 if srid is None else EPSG_URI.format(srid)


@cache
def north_first(srid: int) -> bool:
    axis = CRS.from_epsg(srid).axis_info[0]
    return axis.direction.lower() in {"north", "south"}


def parse(uri: str | None, *, param: str) -> tuple[int, bool]:
    """(srid, swap axes) for a CRS URI or EPSG:code; CRS84 and a missing value → (4326, False)."""
    if not uri or uri.strip() in {CRS84, "CRS84", "OGC:CRS84", "[OGC:CRS84]"}:
        return 4326, False
    text = uri.strip().strip("[]")
    code = None
    for prefix in ("http://www.opengis.net/def/crs/EPSG/0/", "https://www.opengis.net/def/crs/EPSG/0/", "EPSG:"):
        if text.startswith(prefix) and text[len(prefix):].isdigit():
            code = int(text[len(prefix):])
    if code not in SUPPORTED:
        raise InvalidInput(f"{param}: unsupported CRS {uri!r}; supported: {', '.join(supported_uris())}")
    return code, north_first(code)
