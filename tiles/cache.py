"""Vector tile cache on shared storage: TILES_DIR/vt/{public|private}/<layer>/<z>/<x>/<y>.pbf.

Public layers' tiles sit apart, so a static front (nginx) may serve that folder directly;
private ones are only ever read by the app after the permission check. Empty tiles are
cached as zero-byte files, each with a zero-byte `<y>.empty` twin: nginx cannot test a file's
size, but it can test for the marker and answer 204 as the app does (tiles/front.py). Writes go
through a temporary file and a rename, so readers on any server see a whole tile or none.
"""

import os
import shutil
import tempfile
from pathlib import Path

from django.conf import settings

from layers.models import Access, Layer

from .grid import MAX_ZOOM, tile_range

EMPTY = ".empty"


def root() -> Path:
    return Path(settings.TILES_DIR) / "vt"


def layer_dir(layer: Layer) -> Path:
    return root() / ("public" if layer.access == Access.PUBLIC else "private") / layer.slug


def path(layer: Layer, z: int, x: int, y: int) -> Path:
    return layer_dir(layer) / str(z) / str(x) / f"{y}.pbf"


def empty_marker(tile: Path) -> Path:
    return tile.with_suffix(EMPTY)


def get(layer: Layer, z: int, x: int, y: int) -> bytes | None:
    try:
        return path(layer, z, x, y).read_bytes()
    except FileNotFoundError:
        return None


def put(layer: Layer, z: int, x: int, y: int, data: bytes) -> None:
    target = path(layer, z, x, y)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, target)
    if data:
        empty_marker(target).unlink(missing_ok=True)
    else:
        empty_marker(target).touch()


def invalidate(slug: str, bbox: tuple[float, float, float, float] | None, reach=lambda z: 0.0) -> int:
    """Remove the cached tiles of a layer that intersect bbox (lon/lat), at every zoom; the
    whole layer when bbox is None. `reach(z)` widens the bbox (degrees) by what a changed
    feature can touch beyond itself at zoom z (the tile buffer, an overview cell).
    Returns how many tiles were removed."""
    removed = 0
    for kind in ("public", "private"):
        base = root() / kind / slug
        if not base.exists():
            continue
        if bbox is None:
            removed += sum(1 for _ in base.rglob("*.pbf"))
            shutil.rmtree(base, ignore_errors=True)
            continue
        for zdir in base.iterdir():
            if not zdir.name.isdigit() or int(zdir.name) > MAX_ZOOM:
                continue
            r = reach(int(zdir.name))
            x0, y0, x1, y1 = tile_range((bbox[0] - r, bbox[1] - r, bbox[2] + r, bbox[3] + r), int(zdir.name))
            for xdir in zdir.iterdir():
                if xdir.name.isdigit() and x0 <= int(xdir.name) <= x1:
                    # Markers too, even one whose tile is gone: nginx would answer 204 from it.
                    for tile in xdir.iterdir():
                        if tile.suffix in (".pbf", EMPTY) and tile.stem.isdigit() and y0 <= int(tile.stem) <= y1:
                            tile.unlink(missing_ok=True)
                            removed += int(tile.suffix == ".pbf")
    return removed
