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


def _to_multi(geoms: np.ndarray, target: str) -> np.ndarray:
    # One storage type per table: single parts are promoted, as ogr2ogr's -nlt PROMOTE_TO_MULTI does.
    wrap = getattr(shapely, target)
    return np.array([g if g.geom_type == target else wrap([g]) for g in geoms], dtype=object)


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
        feature = 0
        for wkb, fields in batches(source):
            geoms = shapely.from_wkb(wkb)
            geoms = shapely.transform(geoms, transformer.transform, interleaved=False)
            for g in geoms:
                feature += 1
                if g is None or g.is_empty:
                    raise InvalidInput(f"{path}: feature {feature}: no geometry")
                if not shapely.is_valid(g):
                    raise InvalidInput(f"{path}: feature {feature}: invalid geometry ({shapely.is_valid_reason(g)})")
            geoms = shapely.set_srid(_to_multi(geoms, geometry_type), srid)
            ewkb = shapely.to_wkb(geoms, include_srid=True)
            values = [[None if _is_missing(v) else _py(v) for v in col] for col in fields]
            for i, g in enumerate(ewkb):
                yield (g, *(col[i] for col in values))

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


def _is_missing(v) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v)) or (isinstance(v, np.floating) and np.isnan(v))


def _py(v):
    return v.item() if isinstance(v, np.generic) else v
