"""Mapbox Vector Tiles from the layer tables with ST_AsMVT.

Cost grows with the features in a tile, so low zooms (≤ OVERVIEW_ZOOM) read a generalised
overview table built once per data version (points snapped into clusters with a count,
lines and polygons simplified and sub-pixel ones left out), never the whole layer. Above it, a
layer too dense for its tiles at a zoom (more than TILE_BUDGET features a tile on average) reads
an overview of that zoom, built the same way with that zoom's pixel: 200,000 buildings at z11
are 50,000 sub-pixel specks a tile, costly to clip and encode and invisible when drawn.
"""

import re

from django.db import connection, transaction
from psycopg import sql

from layers import storage
from layers.models import Layer

from .grid import pixel_metres, tile_range

OVERVIEW_ZOOM = 10  # tiles at this zoom and below come from the overview
EXTENT = 4096
BUFFER = 64
LABEL_FIELDS = re.compile(r"(name|title|名称|名字|标题|adcode|code|type|class|kind|类型|类别|level|等级)", re.I)
DETAIL_ZOOM = 12  # below it, only label-like attributes travel


def reach_degrees(z: int) -> float:
    """How far (degrees, generously) a change can show beyond its own extent in a tile at z:
    the MVT buffer, plus at overview zooms the cluster cell a point is merged into."""
    metres = pixel_metres(z) * 256 * BUFFER / EXTENT
    if z <= OVERVIEW_ZOOM:
        metres += pixel_metres(OVERVIEW_ZOOM) * 4
    else:  # a dense layer may have an overview of z itself (overview_zoom)
        metres += pixel_metres(z) * 4
    return metres / 111_320 * 2  # a degree of longitude at 60°N is half of one at the equator


MAX_OVERVIEW_ZOOM = 22
# Features a tile may average before its zoom gets an overview: an overview's 4-pixel cluster grid
# has 64 × 64 cells a tile, so more points than that would not show apart.
TILE_BUDGET = 4096


def overview_zoom(layer: Layer, z: int) -> int | None:
    """The zoom of the overview that serves a tile at z: OVERVIEW_ZOOM's for z <= OVERVIEW_ZOOM; for a
    layer dense enough that a tile at z would carry more than TILE_BUDGET features on average, an
    overview of z itself; else None (the layer table)."""
    if z <= OVERVIEW_ZOOM:
        return OVERVIEW_ZOOM
    if not layer.extent or not layer.feature_count:
        return None
    x0, y0, x1, y1 = tile_range(layer.extent.extent, z)
    tiles = (x1 - x0 + 1) * (y1 - y0 + 1)
    return z if layer.feature_count / tiles > TILE_BUDGET else None


def overview_table(layer: Layer, zoom: int = OVERVIEW_ZOOM) -> str:
    """≤ 63 bytes, and matched by drop_overviews' pattern. The `m`: geometries in EPSG:3857 (an
    older format without it is dropped, never read)."""
    if zoom == OVERVIEW_ZOOM:
        return f"{layer.table_name[:40]}__vt{layer.data_version}m"
    return f"{layer.table_name[:40]}__vt{layer.data_version}z{zoom}m"


def _columns(layer: Layer, z: int) -> list[str]:
    names = [c.name for c in storage.columns_of(layer.table_name)]
    return names if z >= DETAIL_ZOOM else [n for n in names if LABEL_FIELDS.search(n)]


def ensure_overview(layer: Layer, zoom: int = OVERVIEW_ZOOM) -> str:
    """The overview table of the layer's current data version (built under an advisory lock
    so concurrent first requests build it once); older versions' overviews are dropped. Its
    geometries are in Web Mercator, the tiles' own CRS: no transform per feature and request."""
    table = overview_table(layer, zoom)
    if storage.table_exists(table):
        return table
    cell = pixel_metres(zoom) * 4  # a 4-pixel grid at the overview zoom
    keep = [sql.Identifier(c) for c in _columns(layer, 0)]
    cur = connection.cursor().cursor
    cur.execute("SELECT pg_advisory_lock(3857, %s)", [layer.pk])
    try:
        if storage.table_exists(table):
            return table
        source = storage.qualified(layer.table_name)
        target = storage.qualified(table)
        if layer.geometry_type == Layer.GeometryType.POINT:
            # One point per occupied grid cell, carrying how many it stands for and one name.
            attrs = sql.SQL("").join(sql.SQL(", (array_agg({c}))[1] AS {c}").format(c=c) for c in keep)
            cur.execute(sql.SQL(
                """CREATE TABLE {target} AS
                   SELECT ST_Centroid(ST_Collect(g3857)) AS geom, count(*)::bigint AS point_count {attrs}
                   FROM (SELECT t.*, ST_SnapToGrid(ST_Transform(ST_GeometryN(t.geom, 1), 3857), %s) AS cell,
                                ST_Transform(ST_GeometryN(t.geom, 1), 3857) AS g3857 FROM {source} t) s
                   GROUP BY cell"""
            ).format(target=target, source=source, attrs=attrs), [cell])
        else:
            # Simplified to a pixel of the overview zoom; features smaller than a pixel left out
            # (tested on the stored box, in degrees: 1 px of longitude, before any transform).
            attrs = sql.SQL("").join(sql.SQL(", t.{c}").format(c=c) for c in keep)
            cur.execute(sql.SQL(
                """CREATE TABLE {target} AS
                   SELECT ST_SimplifyPreserveTopology(ST_Transform(t.geom, 3857), %s) AS geom {attrs} FROM {source} t
                   WHERE greatest(ST_XMax(t.geom) - ST_XMin(t.geom), ST_YMax(t.geom) - ST_YMin(t.geom)) >= %s"""
            ).format(target=target, source=source, attrs=attrs), [pixel_metres(zoom), pixel_metres(zoom) / 111_320])
        cur.execute(sql.SQL("CREATE INDEX ON {} USING gist (geom)").format(target))
        cur.execute(sql.SQL("ANALYZE {}").format(target))
        drop_overviews(layer, keep_current=True)
    finally:
        cur.execute("SELECT pg_advisory_unlock(3857, %s)", [layer.pk])
    return table


def drop_overviews(layer: Layer, keep_current: bool = False) -> None:
    cur = connection.cursor().cursor
    cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s AND tablename LIKE %s",
                [storage.schema(), f"{layer.table_name[:40]}\\_\\_vt%"])
    for (name,) in cur.fetchall():
        if not (keep_current and name in {overview_table(layer, zoom) for zoom in range(MAX_OVERVIEW_ZOOM + 1)}):
            storage.drop_table(name)


def render(layer: Layer, z: int, x: int, y: int) -> bytes:
    """The tile as MVT bytes (empty bytes when no feature touches it)."""
    zoom = overview_zoom(layer, z)
    overview = zoom is not None
    table = ensure_overview(layer, zoom) if overview else layer.table_name
    columns = _columns(layer, 0 if overview else z)  # an overview keeps the label-like columns only
    if overview and layer.geometry_type == Layer.GeometryType.POINT:
        columns = ["point_count", *columns]
    attrs = sql.SQL("").join(sql.SQL(", t.{}").format(sql.Identifier(c)) for c in columns)
    fid = sql.SQL(", t.fid") if not overview else sql.SQL("")
    if overview:  # already in EPSG:3857
        geom, where = sql.SQL("t.geom"), sql.SQL("t.geom && ST_Expand(env.e, %(margin)s)")
    else:
        geom, where = sql.SQL("ST_Transform(t.geom, 3857)"), sql.SQL("t.geom && ST_Transform(ST_Expand(env.e, %(margin)s), 4490)")
    # Polygons and lines are simplified to a pixel as they are clipped; points pass untouched.
    query = sql.SQL(
        """WITH env AS (SELECT ST_TileEnvelope(%(z)s, %(x)s, %(y)s) AS e)
           SELECT ST_AsMVT(m.*, %(name)s, {extent}, 'geom'{fid_name}) FROM (
             SELECT ST_AsMVTGeom({geom}, env.e, {extent}, {buffer}, true) AS geom {fid} {attrs}
             FROM {table} t, env
             WHERE {where}) m
           WHERE m.geom IS NOT NULL"""
    ).format(extent=sql.Literal(EXTENT), buffer=sql.Literal(BUFFER), fid=fid, attrs=attrs, table=storage.qualified(table),
             fid_name=sql.SQL(", 'fid'") if not overview else sql.SQL(""), geom=geom, where=where)
    margin = pixel_metres(z) * BUFFER / 16  # the MVT buffer, in metres at this zoom
    with transaction.atomic():
        cur = connection.cursor().cursor
        # No parallel workers: each is a new process that sets PROJ's transformation up again
        # (≈ 60 ms), more than a whole z14 tile of 3,000 buildings costs in one backend (≈ 30 ms).
        cur.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        cur.execute(query, {"z": z, "x": x, "y": y, "name": layer.slug, "margin": margin})
        data = cur.fetchone()[0]
    return bytes(data) if data else b""
