"""The MapProxy configuration, generated from the layer catalog (never edited by hand), and
`regenerate()`, which writes it together with the MapServer files into the tiles directory
(`DATA_DIR/tiles/`, see paths.py).

Per layer: one `mapserver` source (the layer of the generated mapfile), one cache on both grids
and one layer. Public layers are cached on disk; internal and restricted layers use caches with
`disable_storage` (rendered per request, never written anywhere) and answer WMS straight from
MapServer. One more layer, `basemap`, draws the public layers whose style says so in one GetMap
(labels of different layers avoid each other). See docs/tiles.md.
"""

import html
import logging
import shutil
from pathlib import Path

import yaml
from django.conf import settings

from .. import front
from . import catalog, fonts, mapfile, renderpool
from .files import atomic_write, exclusive, staged
from .grids import BBOX_SRS, GRID_CONF, GRIDS, WMS_SRS
from .paths import Paths, paths

log = logging.getLogger(__name__)

META_BUFFER = 80  # px around a metatile: labels and symbols crossing tile edges
# mapserv processes at once per lock directory (each holds a database connection).
CONCURRENT_RENDERS = 4
# Degrees added around a layer's extent for its source's coverage: MapProxy never starts mapserv
# for tiles outside it, and asks only for the part of a metatile inside it. No label is placed
# within META_BUFFER px of a request's edge (see geoplatform.map), so features near the coverage's
# edge need room there for theirs: public layers (rendered once, then stored) get a wide margin,
# which lets them keep labels from level 8 on; others (rendered per request) a narrower one, enough
# from level 13 on.
COVERAGE_MARGIN = 0.02
PUBLIC_COVERAGE_MARGIN = 0.5
BASEMAP = "basemap"  # the combined public layer; a catalog layer of this slug is not served
BASEMAP_TITLE = "底图"
SERVICE_MD = {
    "title": "geoplatform 瓦片服务",
    "abstract": "WMS, WMTS and TMS of the geoplatform layer catalog (CGCS2000 / EPSG:4490).",
    "access_constraints": "Public layers for everyone; internal and restricted layers only for "
                          "authorised users (session or API token).",
    "fees": "none",
}


def _xml(text: str) -> str:
    """MapProxy 7 puts titles and abstracts into its capabilities documents unescaped."""
    return html.escape(text, quote=True)


def cache_name(layer: catalog.LayerSpec, key: str) -> str:
    """Public caches carry the layer's render key: a style change starts a fresh cache directory."""
    return f"{layer.slug}_{key}" if layer.public else f"{layer.slug}_live"


def _coverage(layer: catalog.LayerSpec) -> dict:
    if layer.extent:
        minx, miny, maxx, maxy = layer.extent
    else:  # no data yet: the region
        boxes = settings.GEOPLATFORM["REGION_BOUNDS"]
        minx, miny = min(b[0] for b in boxes), min(b[1] for b in boxes)
        maxx, maxy = max(b[2] for b in boxes), max(b[3] for b in boxes)
    m = PUBLIC_COVERAGE_MARGIN if layer.public else COVERAGE_MARGIN
    return {"bbox": [minx - m, miny - m, maxx + m, maxy + m], "srs": "EPSG:4490"}


def _source(p: Paths, names: list[str], coverage: dict) -> dict:
    return {
        "type": "mapserver",
        # Several layers: one GetMap, drawn in this order, labels placed by one label cache.
        "req": {"map": str(p.mapfile), "layers": ",".join(names), "transparent": True, "format": "image/png"},
        # MapServer reprojects the vectors itself: every CRS the WMS offers.
        "supported_srs": [s for s in WMS_SRS if s.startswith("EPSG:")],
        "coverage": coverage,
        "wms_opts": {"version": "1.1.1", "legendgraphic": True},
        # Every mapserver source has the same lock (MapProxy keys it on the URL's host, empty
        # for mapserver://): a limit for all layers together.
        "concurrent_requests": CONCURRENT_RENDERS,
    }


def _cache(src: str) -> dict:
    return {
        "grids": list(GRIDS),
        "sources": [src],
        "format": "image/png",
        "request_format": "image/png",
        "image": {"transparent": True},
        # <cache_dir>/<cache>/<grid>/<z>/<x>/<y>.png
        "cache": {"type": "file", "directory_layout": "tms", "use_grid_names": True},
    }


def _basemap(members: list[catalog.LayerSpec], p: Paths, key: str) -> tuple[dict, dict, dict]:
    """Source, cache and layer of the combined basemap: public layers only, so it is public
    (cached, and allowed for every caller by the access middleware)."""
    boxes = [_coverage(layer)["bbox"] for layer in members]
    coverage = {"bbox": [min(b[0] for b in boxes), min(b[1] for b in boxes),
                         max(b[2] for b in boxes), max(b[3] for b in boxes)], "srs": "EPSG:4490"}
    source = _source(p, [layer.slug for layer in members], coverage)
    cache = _cache(f"{BASEMAP}_source") | {"meta_size": [4, 4], "meta_buffer": META_BUFFER}
    abstract = "The public layers in one image, labels placed together (bottom first): " + \
        ", ".join(layer.slug for layer in members)
    entry = {"name": BASEMAP, "title": _xml(BASEMAP_TITLE), "md": {"abstract": _xml(abstract)},
             "sources": [f"{BASEMAP}_{key}"]}
    return source, cache, entry


def build(layers: list[catalog.LayerSpec], p: Paths, render_keys: dict[str, str],
          basemap: list[catalog.LayerSpec] | None = None) -> dict:
    sources, caches, mp_layers = {}, {}, []
    if basemap:
        sources[f"{BASEMAP}_source"], caches[f"{BASEMAP}_{render_keys[BASEMAP]}"], entry = \
            _basemap(basemap, p, render_keys[BASEMAP])
        mp_layers.append(entry)
    for layer in layers:
        src, cache = f"{layer.slug}_source", cache_name(layer, render_keys[layer.slug])
        sources[src] = _source(p, [layer.slug], _coverage(layer))
        cache_conf = _cache(src)
        if layer.kind == "raster":
            # One tile per call, no buffer: no labels to keep whole, and the warm mapserv reads a
            # tile's window of the COG in ≈ 25 ms, where a 4 × 4 metatile (1184 px) took ≈ 190 ms
            # before the first tile of a view came back (docs/benchmarks.md, Raster).
            cache_conf |= {"meta_size": [1, 1], "meta_buffer": 0}
        elif layer.public:
            cache_conf |= {"meta_size": [4, 4], "meta_buffer": META_BUFFER}
        else:
            # Never stored: one tile per request (a 4×4 metatile would be rendered and thrown away).
            cache_conf |= {"meta_size": [1, 1], "meta_buffer": META_BUFFER}
        if not layer.public:
            cache_conf["disable_storage"] = True
        caches[cache] = cache_conf
        md = {"abstract": _xml(layer.abstract)} if layer.abstract else {}
        if layer.attribution:
            md["attribution"] = {"title": _xml(layer.attribution)}
        entry = {"name": layer.slug, "title": _xml(layer.title), "md": md}
        if layer.public:
            entry["sources"] = [cache]
        else:
            entry |= {"sources": [src], "tile_sources": [cache]}
        mp_layers.append(entry)

    return {
        "services": {
            "wms": {
                "versions": ["1.1.1", "1.3.0"],
                "srs": list(WMS_SRS),
                "bbox_srs": list(BBOX_SRS),
                "image_formats": ["image/png", "image/jpeg"],
                "md": {k: _xml(v) for k, v in SERVICE_MD.items()},
            },
            "wmts": {"restful": True, "kvp": True, "md": {k: _xml(v) for k, v in SERVICE_MD.items()}},
            # TMS numbers rows from the south (the TMS spec); WMTS from the north.
            "tms": {"use_grid_names": True},
            # No demo, no kml, and no ogcapi: MapProxy's OGC API service ignores `mapproxy.authorize`.
        },
        "layers": mp_layers,
        "caches": caches,
        "sources": sources,
        "grids": GRID_CONF,
        "globals": {
            "cache": {"base_dir": str(p.cache_dir), "lock_dir": str(p.cache_dir / "tile_locks")},
            "image": {"paletted": False},
            "mapserver": {"binary": str(p.mapserv_cgi), "working_dir": str(p.work_dir)},
        },
    }


class _Dumper(yaml.SafeDumper):
    def ignore_aliases(self, data):  # spell every value out: the file is read by people too
        return True


def to_yaml(conf: dict) -> str:
    header = "# Generated by tiles.mapproxy.config from the layer catalog. Do not edit: it is rewritten\n" \
             "# whenever a layer changes (`geoplatform shell -c 'from tiles.mapproxy.config import regenerate; regenerate()'`).\n"
    return header + yaml.dump(conf, Dumper=_Dumper, allow_unicode=True, sort_keys=False, default_flow_style=False)


def validate(yaml_file: Path) -> None:
    """MapProxy's own loader: YAML, option spec (warnings are errors here), references, and
    building every service, source and cache."""
    from mapproxy.config.loader import load_configuration
    from mapproxy.config.spec import validate_options

    errors, _informal = validate_options(yaml.safe_load(yaml_file.read_text()))
    if errors:  # the loader would only say "invalid configuration"
        raise ValueError("MapProxy configuration: " + "; ".join(errors))
    load_configuration(mapproxy_conf=str(yaml_file), ignore_warnings=False).configured_services()


def regenerate() -> bool:
    """Write the mapfile, MapServer config, fontset and MapProxy config for the current catalog.
    Returns True if the MapProxy configuration changed (running apps then reload it)."""
    p = paths()
    with exclusive(p.lock_file):
        for d in (p.mapproxy_dir, p.cache_dir, p.mapserver_dir, p.work_dir):
            d.mkdir(parents=True, exist_ok=True)
        layers = catalog.vector_layers() + catalog.raster_layers()
        if any(layer.slug == BASEMAP for layer in layers):
            log.warning("tiles: catalog layer %r not served: the name is the combined basemap's", BASEMAP)
            layers = [layer for layer in layers if layer.slug != BASEMAP]
        targets = mapfile.cass_targets()
        keys = {layer.slug: mapfile.render_key(layer, targets) for layer in layers}
        basemap = mapfile.basemap_layers(layers, targets)
        keys[BASEMAP] = mapfile.basemap_key(basemap, targets)

        font = fonts.cjk_font(p.font_dir)
        atomic_write(p.fontset, mapfile.render_fontset(font, fonts.arabic_font()))
        atomic_write(p.mapserver_conf, mapfile.render_config(p))
        atomic_write(p.mapserv_cgi, renderpool.wrapper(p, mapfile.MAPSERV), mode=0o755)
        map_text = mapfile.render_mapfile(layers, p, targets=targets, label_edge=META_BUFFER)
        if _differs(p.mapfile, map_text):
            with staged(p.mapfile, 0o600) as tmp:  # 0600: it holds the database connection
                tmp.write_text(map_text)
                mapfile.check_mapfile(tmp, p.mapserver_conf)

        conf = build(layers, p, keys, basemap)
        text = to_yaml(conf)
        changed = _differs(p.mapproxy_yaml, text)
        if changed:
            with staged(p.mapproxy_yaml) as tmp:
                tmp.write_text(text)
                validate(tmp)
        # The static front's links (tiles/front.py): only stored caches and public vector tiles.
        front.publish(conf, [layer.slug for layer in layers if layer.public and layer.kind == "vector"])
        _remove_stale_caches(p, conf)
    if changed:
        log.info("tiles: MapProxy configuration regenerated (%d layers)", len(layers))
    return changed


def serves_this_database() -> bool:
    """Whether the tiles directory holds a configuration for the database Django uses. Catalog
    signals only keep such a configuration current: a test run (another database) or a process
    that never served tiles does not rewrite it; `make_app()` always regenerates at start."""
    try:
        return f'CONNECTION "{mapfile.ms(mapfile.conninfo())}"' in paths().mapfile.read_text()
    except FileNotFoundError:
        return False


def _differs(path: Path, text: str) -> bool:
    try:
        return path.read_text() != text
    except FileNotFoundError:
        return True


def _remove_stale_caches(p: Paths, conf: dict) -> None:
    """Tiles of removed layers, of layers no longer public and of old styles."""
    keep = {name for name, cache in conf["caches"].items() if not cache.get("disable_storage")}
    keep |= {"tile_locks", "legends"}
    for entry in p.cache_dir.iterdir():
        if entry.is_dir() and entry.name not in keep:
            shutil.rmtree(entry, ignore_errors=True)
