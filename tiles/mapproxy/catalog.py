"""The layers MapProxy serves, as read from the catalog and the layer tables."""

import logging
import re
from dataclasses import dataclass

from django.conf import settings
from django.db import connection

from layers.models import Access, Layer

log = logging.getLogger(__name__)

SLUG_RE = re.compile(r"^[a-z][a-z0-9-]*$")
TABLE_RE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
MS_TYPES = {
    Layer.GeometryType.POLYGON: "POLYGON",
    Layer.GeometryType.LINE: "LINE",
    Layer.GeometryType.POINT: "POINT",
}
# The first of these columns a table has labels its features.
LABEL_COLUMNS = ["name_zh", "名称", "name", "title", "text", "point_id", "sheet_id"]


@dataclass(frozen=True)
class LayerSpec:
    slug: str
    title: str
    abstract: str
    attribution: str
    table: str
    schema: str
    geometry_type: str
    srid: int
    access: str
    extent: tuple[float, float, float, float] | None  # lon/lat in EPSG:4490
    label: str | None
    columns: tuple[str, ...] = ()  # the table's columns: styles use some when present
    # Raster layers (kind "raster"): the current COG, its product and value range.
    kind: str = "vector"
    raster_path: str = ""
    raster_kind: str = ""  # dom, dem, drg, hillshade, relief
    value_range: tuple[float, float] | None = None  # band 1 min/max (DEMs are drawn stretched)
    nodata: float | None = None

    @property
    def public(self) -> bool:
        return self.access == Access.PUBLIC

    @property
    def ms_type(self) -> str:
        return "RASTER" if self.kind == "raster" else MS_TYPES[self.geometry_type]

    @property
    def qualified_table(self) -> str:
        return f"{self.schema}.{self.table}"


def _columns(schema: str) -> dict[str, list[str]]:
    with connection.cursor() as cur:
        cur.execute(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = %s ORDER BY table_name, ordinal_position",
            [schema],
        )
        columns: dict[str, list[str]] = {}
        for table, column in cur.fetchall():
            columns.setdefault(table, []).append(column)
    return columns


def vector_layers() -> list[LayerSpec]:
    """Every vector layer with a table, whatever its access level (access is decided per request)."""
    schema = settings.GEOPLATFORM["DATA_SCHEMA"]
    columns = _columns(schema)
    specs = []
    for layer in Layer.objects.filter(kind=Layer.Kind.VECTOR).exclude(table_name=None).order_by("slug"):
        if layer.geometry_type not in MS_TYPES:
            continue
        # Names go into a mapfile and a SQL fragment: only the shapes the catalog allows.
        if not (SLUG_RE.match(layer.slug) and TABLE_RE.match(layer.table_name or "")):
            log.warning("tiles: layer %r skipped: unexpected slug or table name", layer.slug)
            continue
        table_columns = columns.get(layer.table_name)
        if not table_columns or "geom" not in table_columns or "fid" not in table_columns:
            log.warning("tiles: layer %r skipped: table %s.%s missing or without geom/fid",
                        layer.slug, schema, layer.table_name)
            continue
        label = next((c for c in LABEL_COLUMNS if c in table_columns), None)
        specs.append(LayerSpec(
            slug=layer.slug,
            title=layer.title_zh or layer.slug,
            abstract=layer.abstract,
            attribution=layer.attribution,
            table=layer.table_name,
            schema=schema,
            geometry_type=layer.geometry_type,
            srid=layer.storage_srid or settings.GEOPLATFORM["STORAGE_SRID"],
            access=layer.access,
            extent=tuple(layer.extent.extent) if layer.extent else None,
            label=label,
            columns=tuple(table_columns),
        ))
    return specs


def raster_layers() -> list[LayerSpec]:
    """Every raster layer with a current COG on disk, whatever its access level."""
    from layers.rasters import current  # noqa: PLC0415

    specs = []
    for layer in Layer.objects.filter(kind=Layer.Kind.RASTER).order_by("slug"):
        version = current(layer)
        if version is None or not SLUG_RE.match(layer.slug):
            continue
        path = version.absolute_path
        if not path.exists() or '"' in str(path):
            log.warning("tiles: raster layer %r skipped: %s missing", layer.slug, path)
            continue
        stats = (version.statistics or [{}])[0]
        value_range = (stats["min"], stats["max"]) if stats.get("min") is not None else None
        specs.append(LayerSpec(
            slug=layer.slug, title=layer.title_zh or layer.slug, abstract=layer.abstract,
            attribution=layer.attribution, table="", schema="", geometry_type="",
            srid=version.native_srid or 0, access=layer.access,
            extent=tuple(layer.extent.extent) if layer.extent else None, label=None,
            kind="raster", raster_path=str(path), raster_kind=version.kind, value_range=value_range,
            nodata=version.nodata,
        ))
    return specs
