"""Load a vector file into a new layer: one transaction, so a failure leaves nothing behind.

The full surveyor pipeline (formats, encodings, Chinese CRSs, sheet replace) grows from here;
this is the path the bundled sample data takes.
"""

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import shapely
from django.db import transaction
from pyproj import CRS, Transformer

from layers import audit, storage
from layers.errors import Conflict, InvalidInput
from layers.models import Access, Department, Layer

from .readers.ogr import batches, open_source

MULTI = {"Point": "MultiPoint", "LineString": "MultiLineString", "Polygon": "MultiPolygon"}


@dataclass
class LayerSpec:
    slug: str
    title_zh: str
    department: str
    title_en: str = ""
    access: str = Access.INTERNAL  # secure by default
    source: str = ""
    scale: int | None = None
    survey_date: date | None = None
    abstract: str = ""
    keywords: list[str] = field(default_factory=list)
    licence: str = ""
    attribution: str = ""
    contact: str = ""


_MULTI_OF = {  # storage type -> (single-part type id, vectorised constructor)
    "MultiPoint": (shapely.GeometryType.POINT, shapely.multipoints),
    "MultiLineString": (shapely.GeometryType.LINESTRING, shapely.multilinestrings),
    "MultiPolygon": (shapely.GeometryType.POLYGON, shapely.multipolygons),
}


def _to_multi(geoms: np.ndarray, target: str) -> np.ndarray:
    # One storage type per table: single parts are promoted, as ogr2ogr's -nlt PROMOTE_TO_MULTI does.
    single, build = _MULTI_OF[target]
    mask = shapely.get_type_id(geoms) == single
    if mask.any():
        geoms = geoms.copy()
        geoms[mask] = build(geoms[mask], indices=np.arange(mask.sum()))
    return geoms


def _check_geometries(geoms: np.ndarray, path: Path, first_feature: int) -> None:
    """Refuse the load at the first missing, empty or invalid geometry, naming the feature."""
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    if missing.any():
        i = int(np.argmax(missing))
        raise InvalidInput(f"{path}: feature {first_feature + i}: no geometry")
    valid = shapely.is_valid(geoms)
    if not valid.all():
        i = int(np.argmin(valid))
        raise InvalidInput(f"{path}: feature {first_feature + i}: invalid geometry ({shapely.is_valid_reason(geoms[i])})")


def _python_values(column: np.ndarray) -> list:
    """Column values as Python objects for COPY, NaN and NaT as NULL."""
    if column.dtype.kind in "fM":
        values = column.astype(object)
        values[np.isnan(column)] = None
        return values.tolist()
    return column.tolist()


def _storage_geometry_type(declared: str, path: Path) -> str:
    base = declared.removeprefix("Multi").replace(" Z", "").replace(" M", "").replace("3D ", "")
    if base not in MULTI:
        raise InvalidInput(f"{path}: geometry type {declared!r} is not a single point, line or polygon type")
    return MULTI[base]


def load_new_layer(path: Path | str, spec: LayerSpec, *, user=None, via: str = "cli") -> Layer:
    path = Path(path)
    if Layer.objects.filter(slug=spec.slug).exists():
        raise Conflict(f"layer {spec.slug!r} already exists")
    try:
        owner = Department.objects.get(code=spec.department)
    except Department.DoesNotExist:
        raise InvalidInput(f"unknown department {spec.department!r}") from None
    if spec.access not in Access.values:
        raise InvalidInput(f"access must be one of {', '.join(Access.values)}, not {spec.access!r}")

    source = open_source(path)
    if source.crs is None:
        raise InvalidInput(f"{path}: no coordinate reference system; give one explicitly")
    geometry_type = _storage_geometry_type(source.geometry_type, path)
    srid = storage.storage_srid()
    transformer = Transformer.from_crs(source.crs, CRS.from_epsg(srid), always_xy=True)
    table = storage.table_for_slug(spec.slug)

    def rows():
        done = 0
        for wkb, fields in batches(source):
            geoms = shapely.transform(shapely.from_wkb(wkb), transformer.transform, interleaved=False)
            _check_geometries(geoms, path, first_feature=done + 1)
            geoms = shapely.set_srid(_to_multi(geoms, geometry_type), srid)
            done += len(geoms)
            yield from zip(shapely.to_wkb(geoms, include_srid=True), *(_python_values(col) for col in fields))

    with transaction.atomic():
        storage.create_table(table, geometry_type, source.columns, srid)
        storage.copy_rows(table, source.columns, rows())
        storage.create_spatial_index(table)
        count, box = storage.table_stats(table)
        layer = Layer.objects.create(
            slug=spec.slug,
            title_zh=spec.title_zh,
            title_en=spec.title_en,
            kind=Layer.Kind.VECTOR,
            geometry_type=geometry_type,
            table_name=table,
            native_srid=source.crs.to_epsg(),
            storage_srid=srid,
            extent=_extent_polygon(box, srid),
            feature_count=count,
            source=spec.source,
            scale_denominator=spec.scale,
            survey_date=spec.survey_date,
            access=spec.access,
            owner=owner,
            abstract=spec.abstract,
            keywords=spec.keywords,
            licence=spec.licence,
            attribution=spec.attribution,
            contact=spec.contact,
        )
        audit.record(user, "layer.create", layer, via=via, file=path.name, features=count)
    return layer


def _extent_polygon(box, srid):
    from django.contrib.gis.geos import Polygon

    if box is None:
        return None
    poly = Polygon.from_bbox(box)
    poly.srid = srid
    return poly

