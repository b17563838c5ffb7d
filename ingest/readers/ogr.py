"""Vector formats GDAL reads: Shapefile, GeoPackage, GeoJSON, KML, FileGDB, CSV (x/y or WKT).

Features stream as Arrow record batches (constant memory); one SourceLayer per layer in the
file, or only `source_layer`.
"""

import codecs
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyogrio
import pyogrio.raw
import shapely
from pyproj import CRS

from layers.errors import InvalidInput
from layers.storage import Column

from ..encoding import detect_dbf_encoding, read_kwargs
from .base import BATCH_SIZE, Batch, Reader, SourceLayer

# GDAL's CSV driver finds geometry in these columns (x/y pairs or WKT), case-insensitively.
CSV_OPTIONS = {
    "X_POSSIBLE_NAMES": "x,lon,lng,longitude,easting,东坐标,经度,Y坐标",
    "Y_POSSIBLE_NAMES": "y,lat,latitude,northing,北坐标,纬度,X坐标",
    "GEOM_POSSIBLE_NAMES": "wkt,geom,geometry,the_geom,shape",
    "KEEP_GEOM_COLUMNS": "NO",
    "AUTODETECT_TYPE": "YES",
}


def column_type(dtype) -> str:
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


class OgrSourceLayer(SourceLayer):
    def __init__(self, *, layer_name: str | None, read_options: dict, read_path: Path, **kwargs):
        super().__init__(**kwargs)
        self._layer = layer_name
        self._options = read_options
        self._read_path = read_path  # a transcoded copy for non-UTF-8 CSV; `path` stays the user's file

    def batches(self) -> Iterator[Batch]:
        try:
            yield from self._batches()
        except UnicodeDecodeError as exc:
            raise _encoding_error(self.path, exc) from exc

    def _batches(self) -> Iterator[Batch]:
        first = 1
        with pyogrio.raw.open_arrow(
            self._read_path, layer=self._layer, batch_size=BATCH_SIZE, use_pyarrow=True, **self._options
        ) as (meta, reader):
            geometry_name = meta["geometry_name"] or "wkb_geometry"
            for record_batch in reader:
                n = record_batch.num_rows
                if n == 0:
                    continue
                wkb = record_batch.column(geometry_name).to_numpy(zero_copy_only=False)
                attrs = {
                    c.name: record_batch.column(c.name).to_numpy(zero_copy_only=False) for c in self.fields
                }
                yield Batch(geoms=shapely.from_wkb(wkb), attrs=attrs, first_feature=first)
                first += n


class OgrReader(Reader):
    suffixes = (".shp", ".gpkg", ".geojson", ".json", ".kml", ".gdb", ".csv")

    def open(self, path: Path, *, encoding: str | None = None, source_layer: str | None = None,
             workdir: Path | None = None) -> list[SourceLayer]:
        options: dict = {}
        read_path = path
        encoding_note = ""
        enc = None
        suffix = path.suffix.lower()
        if suffix == ".shp":
            choice = detect_dbf_encoding(path, override=encoding)
            options |= read_kwargs(choice)
            enc, encoding_note = choice.encoding, choice.note
        elif suffix == ".csv":
            options |= CSV_OPTIONS
            if encoding:
                # GDAL's Arrow path reads UTF-8 only: hand it a transcoded copy.
                read_path = _utf8_copy(path, encoding, workdir)
                enc, encoding_note = encoding, f"read as {encoding} (--encoding)"
        try:
            names = [row[0] for row in pyogrio.list_layers(read_path)]
        except Exception as exc:  # pyogrio's DataSourceError and friends
            raise InvalidInput(f"{path.name}: cannot be read as vector data ({exc})") from exc
        except UnicodeDecodeError as exc:
            raise _encoding_error(path, exc) from exc
        if source_layer is not None:
            if source_layer not in names:
                raise InvalidInput(f"{path.name}: no layer {source_layer!r} (it has: {', '.join(names)})")
            names = [source_layer]
        layers = []
        for name in names:
            try:
                info = pyogrio.read_info(read_path, layer=name, **options)
            except UnicodeDecodeError as exc:
                raise _encoding_error(path, exc) from exc
            except Exception as exc:
                raise InvalidInput(f"{path.name}: layer {name!r} cannot be read ({exc})") from exc
            if suffix == ".csv" and info["geometry_type"] is None:
                raise InvalidInput(
                    f"{path.name}: no geometry columns found; name them x/y (or lon/lat, easting/northing) or wkt"
                )
            fields = [Column(f, column_type(t)) for f, t in zip(info["fields"], info["dtypes"])]
            layers.append(
                OgrSourceLayer(
                    name=name if len(names) > 1 or suffix in {".gpkg", ".gdb"} else path.stem,
                    path=path,
                    fields=fields,
                    geometry_type=_base_type(info["geometry_type"]),
                    crs=CRS.from_user_input(info["crs"]) if info["crs"] else None,
                    crs_note="declared by the file" if info["crs"] else "",
                    encoding=enc or info.get("encoding"),
                    encoding_note=encoding_note,
                    count=info["features"] if info["features"] >= 0 else None,
                    layer_name=name,
                    read_options=options,
                    read_path=read_path,
                )
            )
        return layers


def _utf8_copy(path: Path, encoding: str, workdir: Path | None) -> Path:
    try:
        codecs.lookup(encoding)
    except LookupError:
        raise InvalidInput(f"unknown encoding {encoding!r}") from None
    if workdir is None:
        raise InvalidInput(f"{path.name}: a non-UTF-8 CSV needs a working directory to transcode it")
    copy = workdir / f"utf8-{path.name}"
    try:
        with open(path, encoding=encoding, newline="") as src, open(copy, "w", encoding="utf-8", newline="") as dst:
            while chunk := src.read(1 << 20):
                dst.write(chunk)
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{path.name}: not valid {encoding} ({exc.reason} at byte {exc.start})") from exc
    return copy


def _encoding_error(path: Path, exc: UnicodeDecodeError) -> InvalidInput:
    return InvalidInput(
        f"{path.name}: text is not valid {exc.encoding} ({exc.reason} at byte {exc.start}); "
        f"give --encoding, e.g. --encoding GBK for files from Chinese desktop software"
    )


def _base_type(geometry_type: str | None) -> str:
    if not geometry_type:
        return ""
    base = geometry_type.replace(" Z", "").replace(" M", "").replace("3D ", "").removeprefix("Multi")
    return base if base in {"Point", "LineString", "Polygon"} else ""
