"""One `items` request → parameterised SQL on a layer table, answered as GeoJSON built by PostGIS."""

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timezone

from psycopg import sql

from .. import storage
from ..errors import InvalidInput
from . import cql2, crs

DEFAULT_LIMIT = 10
MAX_LIMIT = 10_000
NUMERIC = {"bigint", "double precision"}


@dataclass
class ItemsQuery:
    table: str
    columns: dict[str, str]  # name -> SQL type, in table order
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    out_srid: int = 4326  # CRS84 unless `crs` says otherwise
    out_flip: bool = False
    properties: list[str] | None = None
    where: list = field(default_factory=list)  # sql.Composable conditions
    params: list = field(default_factory=list)
    order: list = field(default_factory=list)
    fid: int | None = None

    # building -------------------------------------------------------------------------------
    def add_bbox(self, text: str, bbox_crs: str | None) -> None:
        try:
            numbers = [float(v) for v in text.split(",")]
        except ValueError:
            raise InvalidInput("bbox: four (or six) comma-separated numbers") from None
        if len(numbers) == 6:
            numbers = [numbers[0], numbers[1], numbers[3], numbers[4]]
        if len(numbers) != 4 or not all(map(_finite, numbers)):
            raise InvalidInput("bbox: four (or six) comma-separated numbers")
        srid, flip = crs.parse(bbox_crs, param="bbox-crs")
        x1, y1, x2, y2 = numbers
        if flip:
            x1, y1, x2, y2 = y1, x1, y2, x2
        if x1 > x2 or y1 > y2:
            raise InvalidInput("bbox: lower corner must come before the upper corner")
        self.params += [x1, y1, x2, y2]
        envelope = sql.SQL("ST_MakeEnvelope(%s, %s, %s, %s, {})").format(sql.Literal(srid))
        if srid != storage.storage_srid():
            envelope = sql.SQL("ST_Transform({}, {})").format(envelope, sql.Literal(storage.storage_srid()))
        self.where.append(sql.SQL("ST_Intersects(geom, {})").format(envelope))

    def add_datetime(self, text: str) -> None:
        start, end = _interval(text)
        column = next((name for name, kind in self.columns.items() if kind in {"date", "timestamptz"}), None)
        if column is None:
            return  # no temporal property: every feature matches (documented in the collection)
        if start is not None:
            self.where.append(sql.SQL("{} >= %s").format(sql.Identifier(column)))
            self.params.append(start)
        if end is not None:
            self.where.append(sql.SQL("{} <= %s").format(sql.Identifier(column)))
            self.params.append(end)

    def add_admin_unit(self, code: str) -> None:
        """Features intersecting an administrative unit, by GB/T 2260 code (6 digits)."""
        admin = admin_table_with(code)
        self.where.append(sql.SQL("ST_Intersects(t.geom, (SELECT ST_Union(a.geom) FROM {} a WHERE a.adcode = %s))").format(
            storage.qualified(admin)))
        self.params.append(code)

    def add_property_filter(self, name: str, value: str) -> None:
        kind = self.columns[name]
        try:
            typed = _typed(value, kind)
        except ValueError:
            raise InvalidInput(f"{name}: {value!r} is not a valid {kind}") from None
        self.where.append(sql.SQL("{} = %s").format(sql.Identifier(name)))
        self.params.append(typed)

    def add_filter(self, text: str, lang: str | None, filter_crs: str | None) -> None:
        srid, flip = crs.parse(filter_crs, param="filter-crs")
        compiler = cql2.Compiler(columns=self.columns, storage_srid=storage.storage_srid(), filter_srid=srid,
                                 filter_flip=flip)
        condition = compiler.compile(cql2.parse(text, lang or "cql2-text"))
        # Placeholders in the condition are positional: append its parameters in order.
        self.where.append(condition)
        self.params += compiler.params

    def set_sortby(self, text: str) -> None:
        for part in filter(None, (p.strip() for p in text.split(","))):
            descending = part.startswith("-")
            name = part.lstrip("+-")
            if name not in self.columns and name != "id":
                raise InvalidInput(f"sortby: unknown property {name!r}")
            self.order.append(sql.SQL("{} {}").format(sql.Identifier("fid" if name == "id" else name),
                                                      sql.SQL("DESC" if descending else "ASC")))

    def set_properties(self, text: str) -> None:
        names = [p.strip() for p in text.split(",") if p.strip()]
        unknown = [n for n in names if n not in self.columns]
        if unknown:
            raise InvalidInput(f"properties: unknown {', '.join(unknown)}")
        self.properties = names

    def set_crs(self, uri: str | None) -> None:
        self.out_srid, self.out_flip = crs.parse(uri, param="crs")

    # running ----------------------------------------------------------------------------------
    def _where(self) -> sql.Composable:
        return sql.SQL(" AND ").join(self.where) if self.where else sql.SQL("true")

    def _geometry(self) -> sql.Composable:
        geom = sql.SQL("t.geom")
        if self.out_srid != storage.storage_srid():
            geom = sql.SQL("ST_Transform({}, {})").format(geom, sql.Literal(self.out_srid))
        if self.out_flip:
            geom = sql.SQL("ST_FlipCoordinates({})").format(geom)
        digits = 3 if self.out_srid in crs.GK_ZONES or self.out_srid == 3857 else 7
        return sql.SQL("ST_AsGeoJSON({}, {})::json").format(geom, sql.Literal(digits))

    def _properties(self) -> tuple[sql.Composable, list]:
        """The selected columns as a JSON object. Named columns only: `to_jsonb(t)` minus the
        unwanted keys would first turn every geometry into JSON (10× slower per page)."""
        names = self.properties if self.properties is not None else list(self.columns)
        if not names:
            return sql.SQL("'{}'::jsonb"), []
        columns = sql.SQL(", ").join(sql.SQL("t.{}").format(sql.Identifier(n)) for n in names)
        return sql.SQL("(SELECT to_jsonb(p) FROM (SELECT {}) p)").format(columns), []

    def features_sql(self) -> tuple[sql.Composable, list]:
        props, props_params = self._properties()
        where = self._where()
        params = list(props_params) + list(self.params)
        if self.fid is not None:
            where = sql.SQL("{} AND t.fid = %s").format(where)
            params.append(self.fid)
        order = sql.SQL(", ").join(self.order + [sql.SQL("fid")])
        query = sql.SQL(
            """SELECT coalesce(json_agg(f.feature), '[]')::text, count(*) FROM (
                 SELECT json_build_object('type', 'Feature', 'id', t.fid, 'geometry', {geom}, 'properties', {props}) AS feature
                 FROM {table} t WHERE {where} ORDER BY {order} LIMIT %s OFFSET %s) f"""
        ).format(geom=self._geometry(), props=props, table=storage.qualified(self.table), where=where, order=order)
        return query, params + [self.limit, self.offset]

    def export_sql(self, geometry: str) -> tuple[sql.Composable, list]:
        """Every matching row (no paging), for streaming exports: fid, the selected columns,
        and the geometry as `geojson` (text), `wkt`, `wkb` or `kml` (always lon/lat for KML)."""
        geom = sql.SQL("t.geom")
        srid = 4326 if geometry == "kml" else self.out_srid
        if srid != storage.storage_srid():
            geom = sql.SQL("ST_Transform({}, {})").format(geom, sql.Literal(srid))
        if self.out_flip and geometry != "kml":
            geom = sql.SQL("ST_FlipCoordinates({})").format(geom)
        digits = sql.Literal(3 if srid in crs.GK_ZONES or srid == 3857 else 7)
        rendered = {
            "geojson": sql.SQL("ST_AsGeoJSON({}, {})").format(geom, digits),
            "wkt": sql.SQL("ST_AsText({}, {})").format(geom, digits),
            "wkb": sql.SQL("ST_AsBinary({})").format(geom),
            "kml": sql.SQL("ST_AsKML({}, 7)").format(geom),
        }[geometry]
        names = self.properties if self.properties is not None else list(self.columns)
        columns = sql.SQL("").join(sql.SQL(", t.{}").format(sql.Identifier(n)) for n in names)
        order = sql.SQL(", ").join(self.order + [sql.SQL("fid")])
        query = sql.SQL("SELECT t.fid{cols}, {geom} FROM {table} t WHERE {where} ORDER BY {order}").format(
            cols=columns, geom=rendered, table=storage.qualified(self.table), where=self._where(), order=order)
        return query, list(self.params)

    def count_sql(self) -> tuple[sql.Composable, list]:
        return sql.SQL("SELECT count(*) FROM {} t WHERE {}").format(storage.qualified(self.table), self._where()), list(self.params)

    def extent_sql(self) -> tuple[sql.Composable, list]:
        return (sql.SQL("SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(geom) e FROM {} t WHERE {}) s")
                .format(storage.qualified(self.table), self._where()), list(self.params))


def _finite(v: float) -> bool:
    return v == v and abs(v) != float("inf")


def _typed(value: str, kind: str):
    if kind == "bigint":
        return int(value)
    if kind == "double precision":
        return float(value)
    if kind == "boolean":
        if value.lower() not in {"true", "false"}:
            raise ValueError(value)
        return value.lower() == "true"
    if kind == "date":
        return date.fromisoformat(value)
    if kind == "timestamptz":
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value


_INSTANT = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?)?$")


def _instant(text: str, *, end: bool) -> datetime | None:
    if text in {"", ".."}:
        return None
    if not _INSTANT.match(text):
        raise InvalidInput(f"datetime: {text!r} is not an RFC 3339 date or date-time")
    try:
        if "T" not in text:
            d = date.fromisoformat(text)
            return datetime.combine(d, time.max if end else time.min, tzinfo=timezone.utc)
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"datetime: {text!r} is not a valid date") from None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _interval(text: str) -> tuple[datetime | None, datetime | None]:
    if "/" in text:
        start, _, end = text.partition("/")
        a, b = _instant(start, end=False), _instant(end, end=True)
        if a and b and a > b:
            raise InvalidInput("datetime: the interval ends before it starts")
        return a, b
    return _instant(text, end=False), _instant(text, end=True)


def admin_table_with(code: str) -> str:
    """The boundary table (settings GEOPLATFORM["ADMIN_LAYERS"]) that has this adcode."""
    from django.conf import settings
    from django.db import connection

    from ..models import Layer

    if not re.fullmatch(r"\d{6}", code or ""):
        raise InvalidInput(f"adcode: {code!r} is not a six-digit GB/T 2260 code")
    for layer in Layer.objects.filter(slug__in=settings.GEOPLATFORM["ADMIN_LAYERS"]).exclude(table_name=None):
        with connection.cursor() as cur:
            cur.cursor.execute(sql.SQL("SELECT EXISTS (SELECT FROM {} WHERE adcode = %s)").format(
                storage.qualified(layer.table_name)), [code])
            if cur.cursor.fetchone()[0]:
                return layer.table_name
    raise InvalidInput(f"adcode: no administrative unit {code}")
