"""Exports of a query result or a whole layer, streamed: rows come from a server-side cursor in
chunks, so a million-feature export runs in constant memory. Text formats stream straight to
the client; GeoPackage and Shapefile are written chunk by chunk to a temporary file first."""

import csv
import io
import json
import os
import tempfile
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
import pyogrio.raw
from django.db import connection, transaction

from ..errors import InvalidInput
from . import crs
from .query import ItemsQuery

CHUNK = 20_000
FORMATS = {
    "geojson": ("application/geo+json", "geojson"),
    "csv": ("text/csv; charset=utf-8", "csv"),
    "kml": ("application/vnd.google-earth.kml+xml", "kml"),
    "gpkg": ("application/geopackage+sqlite3", "gpkg"),
    "shp": ("application/zip", "zip"),
}
NUMPY = {"bigint": "int64", "double precision": "float64", "boolean": "bool"}


def rows(query: ItemsQuery, geometry: str) -> Iterator[list[tuple]]:
    """Chunks of result rows from a server-side cursor, inside one read-only transaction."""
    statement, params = query.export_sql(geometry)
    with transaction.atomic():
        with connection.cursor() as django_cursor:
            django_cursor.cursor.execute("SET TRANSACTION READ ONLY")
        raw = connection.connection
        with raw.cursor(name=f"export_{os.getpid()}_{id(query)}") as cur:
            cur.itersize = CHUNK
            cur.execute(statement, params)
            while chunk := cur.fetchmany(CHUNK):
                yield chunk


def _names(query: ItemsQuery) -> list[str]:
    return query.properties if query.properties is not None else list(query.columns)


def geojson(query: ItemsQuery) -> Iterator[bytes]:
    names = _names(query)
    yield b'{"type": "FeatureCollection", "features": ['
    first = True
    for chunk in rows(query, "geojson"):
        out = []
        for row in chunk:
            props = {n: _jsonable(v) for n, v in zip(names, row[1:-1])}
            feature = '{"type": "Feature", "id": %d, "geometry": %s, "properties": %s}' % (
                row[0], row[-1] or "null", json.dumps(props, ensure_ascii=False))
            out.append(("" if first else ",") + feature)
            first = False
        yield "\n".join(out).encode()
    yield b"]}\n"


def csv_wkt(query: ItemsQuery) -> Iterator[bytes]:
    names = _names(query)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")  # so spreadsheet programs on Chinese Windows read UTF-8
    writer.writerow(["fid", *names, "wkt"])
    for chunk in rows(query, "wkt"):
        writer.writerows(chunk)
        yield buffer.getvalue().encode("utf-8")
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def kml(query: ItemsQuery, title: str) -> Iterator[bytes]:
    names = _names(query)
    yield ('<?xml version="1.0" encoding="UTF-8"?>\n<kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
           f"<name>{escape(title)}</name>\n").encode()
    for chunk in rows(query, "kml"):
        parts = []
        for row in chunk:
            data = "".join(f'<Data name="{escape(n, {chr(34): "&quot;"})}"><value>{escape("" if v is None else str(v))}</value></Data>'
                           for n, v in zip(names, row[1:-1]))
            parts.append(f"<Placemark id=\"f{row[0]}\"><ExtendedData>{data}</ExtendedData>{row[-1]}</Placemark>\n")
        yield "".join(parts).encode()
    yield b"</Document></kml>\n"


def ogr_file(query: ItemsQuery, fmt: str, layer_name: str, geometry_type: str, encoding: str) -> Path:
    """A GeoPackage, or a zipped Shapefile (with .cpg; GBK for legacy desktop tools), written
    chunk by chunk; the caller streams and deletes it."""
    names = _names(query)
    workdir = Path(tempfile.mkdtemp(prefix="geoplatform-export-"))
    driver = "GPKG" if fmt == "gpkg" else "ESRI Shapefile"
    target = workdir / (f"{layer_name}.gpkg" if fmt == "gpkg" else f"{layer_name}.shp")
    kwargs = {"encoding": encoding} if fmt == "shp" else {}
    srid = query.out_srid
    written = False
    for chunk in rows(query, "wkb"):
        geoms = np.array([bytes(r[-1]) if r[-1] is not None else None for r in chunk], dtype=object)
        fields, masks = [], []
        for i, name in enumerate(names):
            values = [r[1 + i] for r in chunk]
            missing = np.array([v is None for v in values])
            dtype = NUMPY.get(query.columns[name])
            if dtype:  # typed arrays with a null mask keep the column's type in every chunk
                fields.append(np.array([0 if v is None else v for v in values], dtype=dtype))
            else:
                fields.append(np.array([_plain(v) for v in values], dtype=object))
            masks.append(missing)
        with warnings.catch_warnings():
            # DBF names are at most 10 bytes: GDAL shortens longer ones, as every Shapefile writer must.
            warnings.filterwarnings("ignore", "Normalized/laundered field name", RuntimeWarning)
            pyogrio.raw.write(target, geoms, field_data=fields, fields=names, field_mask=masks, driver=driver,
                              layer=layer_name, geometry_type=geometry_type, crs=f"EPSG:{srid}", append=written, **kwargs)
        written = True
    if not written:  # an empty result is still a valid, empty file
        pyogrio.raw.write(target, np.array([], dtype=object), field_data=[np.array([], dtype=object) for _ in names],
                          fields=names, driver=driver, layer=layer_name, geometry_type=geometry_type,
                          crs=f"EPSG:{srid}", **kwargs)
    if fmt == "gpkg":
        return target
    archive = workdir / f"{layer_name}.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for part in sorted(workdir.glob(f"{layer_name}.*")):
            if part != archive:
                zf.write(part, part.name)
                part.unlink()
    return archive


def check_format(fmt: str | None, encoding: str | None) -> tuple[str, str]:
    fmt = (fmt or "geojson").lower()
    if fmt not in FORMATS:
        raise InvalidInput(f"format must be one of {', '.join(FORMATS)}")
    encoding = (encoding or "UTF-8").upper()
    if encoding not in {"UTF-8", "GBK"}:
        raise InvalidInput("encoding must be UTF-8 or GBK")
    if encoding != "UTF-8" and fmt != "shp":
        raise InvalidInput("encoding applies to Shapefile exports only")
    return fmt, encoding


def content_crs(query: ItemsQuery) -> str:
    return crs.uri_of(None if query.out_srid == 4326 and not query.out_flip else query.out_srid)


def _jsonable(v):
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return v


def _plain(v):
    return v.isoformat() if hasattr(v, "isoformat") else v
