"""Map sheets (图幅): the frame a `replace-sheet` load replaces.

The frame comes, in order of preference, from the sheet's own TK frame in the delivery, from
the sheet number (SW corner "northing_km-easting_km" in the projected CRS, size by scale), or
from the extent of the delivered features.
"""

import re

import shapely
from pyproj import Transformer

from layers import storage

SHEET_ID = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*-\s*(\d+(?:\.\d+)?)\s*$")
# 50 cm × 50 cm sheets: ground size in metres by scale denominator.
SHEET_METRES = {500: 250.0, 1000: 500.0, 2000: 1000.0, 5000: 2000.0}


def frame_from_id(sheet: str, scale: int | None, transformer: Transformer, projected: bool):
    """The sheet frame in storage coordinates, or None when the id or CRS don't allow it."""
    m = SHEET_ID.match(sheet or "")
    if not m or not projected:
        return None
    north, east = float(m.group(1)) * 1000, float(m.group(2)) * 1000
    size = SHEET_METRES.get(scale or 500, 250.0)
    ring = shapely.segmentize(shapely.box(east, north, east + size, north + size), size / 10)
    return shapely.transform(ring, transformer.transform, interleaved=False)


def frame_wkb(sheet: str, frame_geometry, scale: int | None, transformer, projected: bool) -> tuple[bytes | None, str]:
    """(EWKB of the frame in the storage CRS, how it was found)."""
    if frame_geometry is not None:
        geom, how = frame_geometry, "the delivery's sheet frame (TK)"
    else:
        geom = frame_from_id(sheet, scale, transformer, projected)
        how = f"sheet number {sheet} at 1:{scale or 500}"
    if geom is None:
        return None, "no frame: only rows tagged with this sheet are replaced"
    geom = shapely.set_srid(shapely.buffer(geom, 1e-7), storage.storage_srid())  # tolerate edge round-off
    return shapely.to_wkb(geom, include_srid=True), how

