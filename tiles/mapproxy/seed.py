"""Seed MapProxy's cache of a public layer or of the combined basemap: MapProxy's own seeder,
driven by the generated configuration."""

import contextlib
import os
import tempfile
from pathlib import Path

import yaml
from mapproxy.config.loader import load_configuration
from mapproxy.seed.config import load_seed_tasks_conf
from mapproxy.seed.seeder import seed as run_seed

from layers.errors import InvalidInput

from . import catalog, mapfile, renderpool
from .config import BASEMAP, regenerate
from .grids import GRIDS, LEVELS
from .paths import paths


def _extent(slug: str) -> tuple | None:
    specs = catalog.vector_layers() + catalog.raster_layers()
    members = mapfile.basemap_layers(specs) if slug == BASEMAP else [s for s in specs if s.slug == slug]
    boxes = [s.extent for s in members if s.extent]
    if not boxes:
        return None
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


def seed_layer(slug: str, levels: range, bbox: tuple | None = None, grids: list[str] | None = None,
               concurrency: int = 2) -> Path:
    """Render and store the tiles of `slug` (a public layer, or `basemap`) in `levels` over `bbox`
    (lon/lat; default the layer's extent, for the basemap its members')."""
    if levels.start < 0 or levels.stop > LEVELS:
        raise InvalidInput(f"levels must lie within 0-{LEVELS - 1}")
    grids = grids or list(GRIDS)
    if unknown := set(grids) - set(GRIDS):
        raise InvalidInput(f"unknown grid(s) {', '.join(sorted(unknown))}; choose from {', '.join(GRIDS)}")
    regenerate()
    p = paths()
    conf_dict = yaml.safe_load(p.mapproxy_yaml.read_text())
    entry = next((entry for entry in conf_dict["layers"] if entry["name"] == slug), None)
    if entry is None:
        raise InvalidInput(f"{slug}: not in the tile service (no table or raster yet, or no such layer)")
    if "tile_sources" in entry:  # see config.build: non-public layers render per request
        raise InvalidInput(f"{slug} is not public: its raster tiles are never stored, so there is nothing to seed")
    cache = entry["sources"][0]
    box = list(bbox or _extent(slug) or ())
    if len(box) != 4:
        raise InvalidInput("give --bbox: the layer has no extent")
    # mapserv, which MapProxy runs as a CGI, finds its config file through the environment.
    os.environ["MAPSERVER_CONFIG_FILE"] = str(p.mapserver_conf)
    conf = load_configuration(str(p.mapproxy_yaml))
    seeds = {
        "seeds": {"seed": {"caches": [cache], "grids": grids,
                           "levels": {"from": levels.start, "to": levels.stop - 1}, "coverages": ["area"]}},
        "coverages": {"area": {"bbox": box, "srs": "EPSG:4490"}},
    }
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", dir=p.mapproxy_dir, delete=False) as fh:
        yaml.safe_dump(seeds, fh)
    try:
        tasks = load_seed_tasks_conf(fh.name, conf).seeds(["seed"])
        # Warm mapserv processes (unless `serve` already keeps some for this directory).
        with renderpool.RenderPool(p, mapfile.MAPSERV, max(2, concurrency)) if renderpool.available() \
                else contextlib.nullcontext():
            run_seed(tasks, concurrency=concurrency)
    finally:
        Path(fh.name).unlink(missing_ok=True)
    return p.cache_dir / cache
