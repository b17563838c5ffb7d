"""Seed MapProxy's cache of a public layer: MapProxy's own seeder, driven from the catalog."""

import os
import tempfile
from pathlib import Path

import yaml
from mapproxy.config.loader import load_configuration
from mapproxy.seed.config import load_seed_tasks_conf
from mapproxy.seed.seeder import seed as run_seed

from layers.errors import InvalidInput
from layers.models import Access, Layer

from . import catalog, mapfile
from .config import cache_name, regenerate
from .grids import GRIDS, LEVELS
from .paths import paths


def seed_layer(layer: Layer, levels: range, bbox: tuple | None, grids: list[str] | None = None, concurrency: int = 2):
    """Render and store the layer's tiles in `levels` over `bbox` (lon/lat; default its extent)."""
    if layer.access != Access.PUBLIC:
        raise InvalidInput(f"{layer.slug} is not public: its raster tiles are never stored, so there is nothing to seed")
    if levels.start < 0 or levels.stop > LEVELS:
        raise InvalidInput(f"levels must lie within 0-{LEVELS - 1}")
    grids = grids or list(GRIDS)
    if unknown := set(grids) - set(GRIDS):
        raise InvalidInput(f"unknown grid(s) {', '.join(sorted(unknown))}; choose from {', '.join(GRIDS)}")
    regenerate()
    spec = next((s for s in catalog.vector_layers() if s.slug == layer.slug), None)
    if spec is None:
        raise InvalidInput(f"{layer.slug} has no raster tiles")
    box = list(bbox or (layer.extent.extent if layer.extent else ()))
    if len(box) != 4:
        raise InvalidInput("give --bbox: the layer has no extent")
    p = paths()
    # mapserv, which MapProxy runs as a CGI, finds its config file through the environment.
    os.environ["MAPSERVER_CONFIG_FILE"] = str(p.mapserver_conf)
    conf = load_configuration(str(p.mapproxy_yaml))
    seeds = {
        "seeds": {"seed": {"caches": [cache_name(spec, mapfile.render_key(spec))], "grids": grids,
                           "levels": {"from": levels.start, "to": levels.stop - 1}, "coverages": ["area"]}},
        "coverages": {"area": {"bbox": box, "srs": "EPSG:4490"}},
    }
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", dir=p.mapproxy_dir, delete=False) as fh:
        yaml.safe_dump(seeds, fh)
    try:
        tasks = load_seed_tasks_conf(fh.name, conf).seeds(["seed"])
        run_seed(tasks, concurrency=concurrency)
    finally:
        Path(fh.name).unlink(missing_ok=True)
    return p.cache_dir / cache_name(spec, mapfile.render_key(spec))
