"""Remove cached tiles of a layer whose data changed (only public layers have stored tiles), its
own and those of the combined basemap when it is drawn there.

Walks the tiles that exist rather than every tile of the extent (a county at level 19 is millions
of possible tiles): per level only the column directories crossing the changed box, and within them
the tiles whose box, widened by the metatile buffer, meets it.
"""

import logging
import os
import shutil
from pathlib import Path

import yaml

from .config import META_BUFFER
from .paths import paths

log = logging.getLogger(__name__)


def _load():
    from mapproxy.config.loader import load_configuration

    p = paths()
    if not p.mapproxy_yaml.exists():
        return None, None
    return load_configuration(mapproxy_conf=str(p.mapproxy_yaml)), yaml.safe_load(p.mapproxy_yaml.read_text())


def layer_tiles(slug: str, bbox: tuple | None) -> int:
    """Delete the stored tiles of layer `slug` meeting `bbox` (EPSG:4490 lon/lat; None: all of them).
    Returns the number of tiles removed."""
    conf, raw = _load()
    if conf is None:
        return 0
    # The caches drawing the layer: its own, and the combined basemap's if it is drawn there.
    drawing = {name for name, source in raw.get("sources", {}).items()
               if slug in str(source.get("req", {}).get("layers", "")).split(",")}
    cache_names = [name for name, cache in raw.get("caches", {}).items()
                   if drawing.intersection(cache.get("sources", []))]
    if not cache_names:
        return 0
    from mapproxy.config import local_base_config

    removed = 0
    with local_base_config(conf.base_config):
        for cache_name in cache_names:
            cache_conf = raw.get("caches", {}).get(cache_name)
            if not cache_conf or cache_conf.get("disable_storage"):
                continue
            for grid, _extent, manager in conf.caches[cache_name].caches():
                removed += _remove(grid, Path(manager.cache.cache_dir), manager.cache.file_ext, bbox)
    if removed:
        log.info("tiles: removed %d cached tiles of %s", removed, slug)
    return removed


def _remove(grid, cache_dir: Path, ext: str, bbox: tuple | None) -> int:
    from mapproxy.srs import SRS

    if not cache_dir.is_dir():
        return 0
    if bbox is None:
        count = sum(len(files) for _dir, _sub, files in os.walk(cache_dir))
        shutil.rmtree(cache_dir, ignore_errors=True)
        return count
    minx, miny, maxx, maxy = bbox
    if grid.srs.srs_code != "EPSG:4490":
        miny, maxy = max(miny, -85.0), min(maxy, 85.0)
        minx, miny, maxx, maxy = SRS(4490).transform_bbox_to(grid.srs, (minx, miny, maxx, maxy))
    removed = 0
    for level in range(len(grid.resolutions)):
        level_dir = cache_dir / str(level)
        if not level_dir.is_dir():
            continue
        pad = META_BUFFER * grid.resolution(level)
        box = (minx - pad, miny - pad, maxx + pad, maxy + pad)
        x0 = _column(grid, box[0], level)
        x1 = _column(grid, box[2], level)
        for x_dir in level_dir.iterdir():
            if not (x_dir.name.isdigit() and x0 <= int(x_dir.name) <= x1):
                continue
            for tile in x_dir.iterdir():
                y = tile.name.removesuffix("." + ext)
                if not y.isdigit():
                    continue
                tminx, tminy, tmaxx, tmaxy = grid.tile_bbox((int(x_dir.name), int(y), level))
                if tminx <= box[2] and tmaxx >= box[0] and tminy <= box[3] and tmaxy >= box[1]:
                    tile.unlink(missing_ok=True)
                    removed += 1
    return removed


def _column(grid, x: float, level: int) -> int:
    width = grid.resolution(level) * grid.tile_size[0]
    return int((x - grid.bbox[0]) // width)
