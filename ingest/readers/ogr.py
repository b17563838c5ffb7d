"""Read any OGR vector source (GeoJSON, Shapefile, GeoPackage, …) with pyogrio, in batches."""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyogrio
import pyogrio.raw
from pyproj import CRS

from layers.errors import InvalidInput
from layers.storage import Column

BATCH = 50_000


@dataclass
class Source:
    path: Path
    crs: CRS | None
    columns: list[Column]
    field_names: list[str]
    geometry_type: str
    count: int
    encoding: str | None


def _column_type(dtype) -> str:
    kind = np.dtype(dtype).kind
    if kind in "iu":
        return "bigint"
    if kind == "f":
        return "double precision"
    if kind == "b":
        return "boolean"
    if kind == "M":
        return "date" if np.dtype(dtype) == np.dtype("datetime64[D]") else "timestamptz"
    return "text"


def open_source(path: Path, layer: str | int | None = None) -> Source:
    try:
        info = pyogrio.read_info(path, layer=layer)
    except Exception as exc:  # pyogrio raises DataSourceError/DataLayerError subclasses of several bases
        raise InvalidInput(f"{path}: cannot be read as vector data ({exc})") from exc
    fields = list(info["fields"])
    columns = [Column(name, _column_type(dtype)) for name, dtype in zip(fields, info["dtypes"])]
    return Source(
        path=path,
        crs=CRS.from_user_input(info["crs"]) if info["crs"] else None,
        columns=columns,
        field_names=fields,
        geometry_type=info["geometry_type"] or "",
        count=info["features"],
        encoding=info.get("encoding"),
    )


def batches(source: Source, layer: str | int | None = None) -> Iterator[tuple[np.ndarray, list[np.ndarray]]]:
    """(WKB geometries, one array per field) for successive batches of features."""
    for skip in range(0, max(source.count, 1), BATCH):
        _meta, _fids, geometry, field_data = pyogrio.raw.read(
            source.path, layer=layer, skip_features=skip, max_features=BATCH
        )
        if geometry is None or len(geometry) == 0:
            return
        yield geometry, field_data
