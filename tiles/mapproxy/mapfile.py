"""The MapServer side: one mapfile with a LAYER per catalog layer, MapServer 8's config file and the
FONTSET, all from the templates in `tiles/styles/`.

Styles: `tiles/styles/layers/<slug>.map` if it exists, else the one for the geometry type
(`polygon.map`, `line.map`, `point.map`). Templates use Django's template language; every value put
into a mapfile string goes through the `ms` filter.
"""

import dataclasses
import hashlib
import shutil
import subprocess
import urllib.parse
from pathlib import Path

from django import template
from django.db import connection

from .catalog import LayerSpec
from .grids import WMS_SRS
from .paths import Paths

STYLES = Path(__file__).resolve().parent.parent / "styles"
MAPSERV = shutil.which("mapserv") or "/usr/bin/mapserv"
PROJ_DATA = Path("/usr/share/proj")  # the system PROJ mapserv is linked against, not a wheel's

register = template.Library()


@register.filter
def ms(value) -> str:
    """A value for a double-quoted mapfile string."""
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


_engine = template.Engine(dirs=[str(STYLES)], builtins=[__name__], autoescape=False)


def conninfo(settings_dict: dict | None = None) -> str:
    """libpq connection string for MapServer from Django's database settings (socket dir as host)."""
    s = settings_dict or connection.settings_dict

    def q(value) -> str:
        return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"

    parts = {"host": s.get("HOST"), "port": s.get("PORT"), "dbname": s.get("NAME"),
             "user": s.get("USER"), "password": s.get("PASSWORD")}
    return " ".join(f"{k}={q(v)}" for k, v in parts.items() if v)


def style_template(layer: LayerSpec) -> str:
    own = STYLES / "layers" / f"{layer.slug}.map"
    return f"layers/{layer.slug}.map" if own.exists() else f"{layer.ms_type.lower()}.map"


def layer_block(layer: LayerSpec, connection_string: str) -> str:
    return _engine.get_template("layer.map").render(template.Context(
        {"layer": layer, "connection": connection_string, "style": style_template(layer)}, autoescape=False))


def render_key(layer: LayerSpec) -> str:
    """Changes whenever what a layer's tiles look like changes (style, table, label column, the map
    template), never with the database connection or the title: names the layer's cache directory."""
    drawn = dataclasses.replace(layer, title="", abstract="", attribution="", access="", extent=None)
    text = layer_block(drawn, "") + (STYLES / "geoplatform.map").read_text()
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def render_mapfile(layers: list[LayerSpec], paths: Paths, connection_string: str | None = None) -> str:
    conn = connection_string if connection_string is not None else conninfo()
    blocks = [{"block": layer_block(layer, conn)} for layer in layers]
    return _engine.get_template("geoplatform.map").render(template.Context({
        "fontset": paths.fontset, "wms_srs": " ".join(s for s in WMS_SRS if s.startswith("EPSG:")),
        "layers": blocks,
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


def render_fontset(font: Path) -> str:
    return f"cjk  {font}\n"


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
