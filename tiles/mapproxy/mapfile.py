"""The MapServer side: one mapfile with a LAYER per catalog layer, MapServer 8's config file and the
FONTSET, all from the templates in `tiles/styles/`.

Styles, first found:
1. `tiles/styles/layers/<slug>.map`, the layer's own;
2. `tiles/styles/targets/<target>.map` when the slug is `<target>` or ends in `-<target>`, for a
   target of the CASS mapping (`ingest/cass_mapping.json`: `buildings`, `roads`, `contours`, …) whose
   geometry is the layer's: every DXF sheet's fan-out layers (`<layer>-<target>`) get their style;
3. the one for the geometry type (`polygon.map`, `line.map`, `point.map`).
Templates use Django's template language; every value put into a mapfile string goes through the
`ms` filter. A style may start with `{# basemap: N #}`: public layers with such a style are drawn,
in the order of N, into the combined `basemap` layer (one GetMap, so labels avoid each other).
"""

import dataclasses
import functools
import hashlib
import json
import logging
import math
import re
import shutil
import subprocess
import urllib.parse
import warnings
from pathlib import Path

from django import template
from django.conf import settings
from django.db import connection

from .catalog import LayerSpec
from .grids import WMS_SRS
from .paths import Paths

log = logging.getLogger(__name__)

STYLES = Path(__file__).resolve().parent.parent / "styles"
CASS_MAPPING = Path(__file__).resolve().parent.parent.parent / "ingest" / "cass_mapping.json"
MAPPING_TYPES = {"Point": "POINT", "LineString": "LINE", "Polygon": "POLYGON", "": ""}
BASEMAP_ORDER = re.compile(r"^\{#\s*basemap:\s*(\d+)\s*#\}")
# Scale denominators as MapServer computes them (72 dpi) for a tile of zoom level z: Web Mercator
# 156543.03 m/px at z0 → 443 744 000; cgcs2000_c 1.40625°/px at z0 (4 374 754 inches per degree) →
# 442 937 842. Both grids share their level numbers within 0.2 %.
SCALE_Z0 = 443_744_000
# FROM_ZOOM[z]: a MAXSCALEDENOM that shows a class from level z on (halfway, in log scale, between
# levels z - 1 and z, so either grid and small WMS scale differences land on the same side).
FROM_ZOOM = [round(SCALE_Z0 / 2**z * math.sqrt(2)) for z in range(21)]
MAPSERV = shutil.which("mapserv") or "/usr/bin/mapserv"
PROJ_DATA = Path("/usr/share/proj")  # the system PROJ mapserv is linked against, not a wheel's

register = template.Library()


@register.filter
def ms(value) -> str:
    """A value for a double-quoted mapfile string."""
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


@register.filter
def proj(srid) -> str:
    """The PROJECTION string of EPSG:`srid`. CGCS2000 CRSs are spelt as PROJ strings: with
    `init=epsg:…` every mapserv call makes PROJ search its database for a CGCS2000 → WGS 84
    operation, 140-230 ms that end in the same no-op (ballpark) step (docs/benchmarks.md)."""
    return _proj(int(srid))


@functools.lru_cache(maxsize=None)
def _proj(srid: int) -> str:
    from pyproj import CRS

    crs = CRS.from_epsg(srid)
    if crs.geodetic_crs is None or crs.geodetic_crs.datum.name != "China 2000":
        return f"init=epsg:{srid}"
    with warnings.catch_warnings():  # "you will likely lose information": only the datum's name
        warnings.simplefilter("ignore", UserWarning)
        return crs.to_proj4().replace(" +type=crs", "")


_engine = template.Engine(dirs=[str(STYLES)], builtins=[__name__], autoescape=False)


def conninfo(settings_dict: dict | None = None) -> str:
    """libpq connection string for MapServer from Django's database settings (socket dir as host)."""
    s = settings_dict or connection.settings_dict

    def q(value) -> str:
        return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"

    parts = {"host": s.get("HOST"), "port": s.get("PORT"), "dbname": s.get("NAME"),
             "user": s.get("USER"), "password": s.get("PASSWORD")}
    return " ".join(f"{k}={q(v)}" for k, v in parts.items() if v)


def cass_targets() -> dict[str, str]:
    """The CASS mapping's targets (the one the DXF reader uses): name → MapServer type ('' mixed)."""
    path = Path(settings.GEOPLATFORM.get("CASS_MAPPING") or CASS_MAPPING)
    try:
        targets = json.loads(path.read_text(encoding="utf-8"))["targets"]
        return {name: MAPPING_TYPES.get(spec.get("geometry", ""), "") for name, spec in targets.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        log.warning("tiles: CASS mapping %s unreadable (%s); DLG layers get the geometry styles", path, exc)
        return {}


def layer_target(layer: LayerSpec, targets: dict[str, str] | None = None) -> str | None:
    """The CASS target whose style the layer takes: its slug is `<target>` or ends in `-<target>`
    (the longest such target), the target's geometry is the layer's, and a style exists."""
    targets = cass_targets() if targets is None else targets
    for name in sorted(targets, key=len, reverse=True):
        if (layer.slug == name or layer.slug.endswith("-" + name)) and targets[name] in ("", layer.ms_type) \
                and (STYLES / "targets" / f"{name}.map").exists():
            return name
    return None


def style_template(layer: LayerSpec, targets: dict[str, str] | None = None) -> str:
    if (STYLES / "layers" / f"{layer.slug}.map").exists():
        return f"layers/{layer.slug}.map"
    if layer.kind == "raster":
        return f"rasters/{layer.raster_kind}.map"
    target = layer_target(layer, targets)
    return f"targets/{target}.map" if target else f"{layer.ms_type.lower()}.map"


def basemap_order(style: str) -> int | None:
    """The draw position a style declares for the combined basemap (`{# basemap: N #}`), or None."""
    match = BASEMAP_ORDER.match((STYLES / style).read_text())
    return int(match.group(1)) if match else None


def basemap_layers(layers: list[LayerSpec], targets: dict[str, str] | None = None) -> list[LayerSpec]:
    """The public layers drawn into the combined basemap, in drawing order (bottom first)."""
    targets = cass_targets() if targets is None else targets
    ordered = []
    for layer in layers:
        order = basemap_order(style_template(layer, targets))
        if layer.public and order is not None:
            ordered.append((order, layer.slug, layer))
    return [layer for _order, _slug, layer in sorted(ordered, key=lambda t: t[:2])]


def layer_block(layer: LayerSpec, connection_string: str, targets: dict[str, str] | None = None) -> str:
    frame = "raster.map" if layer.kind == "raster" else "layer.map"
    return _engine.get_template(frame).render(template.Context(
        {"layer": layer, "connection": connection_string, "style": style_template(layer, targets),
         "from_zoom": FROM_ZOOM}, autoescape=False))


def render_key(layer: LayerSpec, targets: dict[str, str] | None = None) -> str:
    """Changes whenever what a layer's tiles look like changes (style, table, label column, the map
    template), never with the database connection or the title: names the layer's cache directory."""
    drawn = dataclasses.replace(layer, title="", abstract="", attribution="", access="", extent=None)
    text = layer_block(drawn, "", targets) + (STYLES / "geoplatform.map").read_text()
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def basemap_key(members: list[LayerSpec], targets: dict[str, str] | None = None) -> str:
    """The combined basemap's key: its members' keys, in drawing order."""
    text = " ".join(f"{layer.slug}:{render_key(layer, targets)}" for layer in members)
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def render_mapfile(layers: list[LayerSpec], paths: Paths, connection_string: str | None = None,
                   targets: dict[str, str] | None = None, label_edge: int = 0) -> str:
    """`label_edge`: pixels along the image edge where no label is placed (the metatile buffer)."""
    conn = connection_string if connection_string is not None else conninfo()
    targets = cass_targets() if targets is None else targets
    blocks = [{"block": layer_block(layer, conn, targets)} for layer in layers]
    return _engine.get_template("geoplatform.map").render(template.Context({
        "fontset": paths.fontset, "wms_srs": " ".join(s for s in WMS_SRS if s.startswith("EPSG:")),
        "layers": blocks, "label_edge": label_edge,
    }, autoescape=False))


def render_config(paths: Paths) -> str:
    pattern = "^" + _regex_literal(str(paths.mapserver_dir) + "/") + "[^/]+[.]map$"
    return _engine.get_template("mapserver.conf").render(template.Context({
        "map_pattern": pattern, "proj_data": PROJ_DATA if (PROJ_DATA / "proj.db").exists() else None,
    }, autoescape=False))


def _regex_literal(text: str) -> str:
    """`text` as a regular expression without backslashes (they would need mapfile escaping)."""
    if any(c in text for c in "\\^]\n\""):
        raise ValueError(f"unsupported character in path {text!r}")
    return "".join(c if c.isalnum() or c in "/_-" else f"[{c}]" for c in text)


def render_fontset(font: Path, arabic: Path | None = None) -> str:
    """`cjk` (Chinese, Latin) and `arabic` (Uyghur; the CJK font if none was found). Styles write
    FONT "cjk,arabic": MapServer takes each glyph from the first font of the list that has it."""
    return f"cjk  {font}\narabic  {arabic or font}\n"


def check_mapfile(mapfile: Path, config_file: Path) -> None:
    """Let mapserv parse the mapfile (a GetCapabilities needs no database); raise on any error."""
    query = urllib.parse.urlencode({"map": str(mapfile), "SERVICE": "WMS", "VERSION": "1.1.1",
                                    "REQUEST": "GetCapabilities"})
    env = {"MAPSERVER_CONFIG_FILE": str(config_file), "QUERY_STRING": query, "REQUEST_METHOD": "GET",
           "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([MAPSERV], env=env, capture_output=True, timeout=60, check=False)
    body = proc.stdout.decode("utf-8", "replace")
    if proc.returncode != 0 or "WMT_MS_Capabilities" not in body or "ServiceException" in body:
        raise RuntimeError(f"mapserv rejected {mapfile}: {body[-2000:]} {proc.stderr.decode('utf-8', 'replace')[-2000:]}")
