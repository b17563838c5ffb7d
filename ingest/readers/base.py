"""What every reader gives the pipeline: source layers that stream batches of features.

A reader knows one family of formats; it reports the CRS and encoding it found (and how),
and never transforms, validates or drops anything: that is the pipeline's job.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pyproj import CRS

from layers.storage import Column

BATCH_SIZE = 50_000


@dataclass
class Batch:
    geoms: np.ndarray  # shapely geometries (object array) in the source CRS; None where missing
    attrs: dict[str, np.ndarray]  # column name -> values, same length as geoms
    first_feature: int  # 1-based number of geoms[0] in its source layer, for reports


@dataclass
class SourceLayer:
    name: str  # shapefile stem, GeoPackage table, or the mapped target of a CAD layer
    path: Path  # the file, for messages
    fields: list[Column]
    geometry_type: str  # base type: "Point", "LineString", "Polygon"; "" if mixed/unknown
    crs: CRS | None = None  # as declared by the file; None when it declares none
    crs_note: str = ""  # how the CRS was found, for the report
    encoding: str | None = None
    encoding_note: str = ""
    count: int | None = None
    extra: dict = field(default_factory=dict)  # reader-specific facts for the report

    def batches(self) -> Iterator[Batch]:
        raise NotImplementedError


class Reader:
    """One small class per format family; registered by name in ingest/readers/__init__.py."""

    #: file suffixes (lower case, with dot) this reader claims
    suffixes: tuple[str, ...] = ()

    def open(self, path: Path, *, encoding: str | None = None, source_layer: str | None = None,
             workdir: Path | None = None) -> list[SourceLayer]:
        """`workdir` is a scratch directory that lives as long as the load (for transcoded copies)."""
        raise NotImplementedError
