"""Spatial questions departments ask in one call: nearest features to a point, and summary
statistics (count, length and area on the ellipsoid) grouped by an attribute or by county."""

from psycopg import sql

from .. import storage
from ..errors import InvalidInput
from .query import ItemsQuery, admin_table_with  # noqa: F401  (admin_table_with re-exported for views)

MU_PER_M2 = 15 / 10_000  # 1 hectare = 15 mu


def nearest_sql(q: ItemsQuery, lon: float, lat: float, n: int) -> tuple[sql.Composable, list]:
    """The n nearest features to (lon, lat) in metres on the ellipsoid. The GiST index orders
    candidates (`<->`, in degrees); the exact geography distance orders the answer."""
    if not (-180 <= lon <= 180 and -90 <= lat <= 90) or not 1 <= n <= 1000:
        raise InvalidInput("point must be lon,lat in degrees and n between 1 and 1000")
    candidates = n * 4 + 20
    props, props_params = q._properties()
    query = sql.SQL(
        """SELECT coalesce(json_agg(f.feature ORDER BY f.d), '[]')::text, count(*) FROM (
             SELECT json_build_object('type', 'Feature', 'id', t.fid, 'geometry', {geom},
                      'properties', {props} || jsonb_build_object('distance_m', round(d::numeric, 2))) AS feature, d
             FROM (SELECT c.*, ST_Distance(c.geom::geography, ST_SetSRID(ST_MakePoint(%s, %s), 4490)::geography) AS d
                   FROM (SELECT * FROM {table} t WHERE {where}
                         ORDER BY t.geom <-> ST_SetSRID(ST_MakePoint(%s, %s), 4490) LIMIT %s) c) t
             ORDER BY d LIMIT %s) f"""
    ).format(geom=q._geometry(), props=props, table=storage.qualified(q.table), where=q._where())
    return query, [*props_params, lon, lat, *q.params, lon, lat, candidates, n]


def stats_sql(q: ItemsQuery, group_by: str | None) -> tuple[sql.Composable, list]:
    measures = sql.SQL(
        "count(*) AS count, coalesce(sum(ST_Length(t.geom::geography)), 0) AS length_m, "
        "coalesce(sum(ST_Area(t.geom::geography)), 0) AS area_m2")
    table, where = storage.qualified(q.table), q._where()
    if not group_by:
        return sql.SQL("SELECT NULL, NULL, {m} FROM {t} t WHERE {w}").format(m=measures, t=table, w=where), list(q.params)
    if group_by == "county":
        counties = admin_table_with("652801")  # the county-level boundary layer
        return sql.SQL(
            """SELECT c.adcode, c.name, {m} FROM {t} t
               JOIN {c} c ON ST_Intersects(c.geom, ST_PointOnSurface(t.geom))
               WHERE {w} GROUP BY c.adcode, c.name ORDER BY c.adcode"""
        ).format(m=measures, t=table, c=storage.qualified(counties), w=where), list(q.params)
    if group_by not in q.columns:
        raise InvalidInput(f"group-by: unknown property {group_by!r} (a property name or county)")
    column = sql.Identifier(group_by)
    return sql.SQL("SELECT t.{g}::text, NULL, {m} FROM {t} t WHERE {w} GROUP BY t.{g} ORDER BY t.{g} NULLS LAST").format(
        g=column, m=measures, t=table, w=where), list(q.params)
