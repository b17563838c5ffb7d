"""Every version of a POI, the state of all POIs as of a moment, and exports of either."""

import csv
import datetime as dt
import io
import json
from collections.abc import Iterator
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection
from django.utils import timezone
from psycopg import sql

from layers.errors import InvalidInput

from . import store
from .models import PoiVersion

EXPORT_FORMATS = ("geojson", "csv")
EXPORT_FIELDS = ["poi_id", "version", *[a for a in store.ATTRIBUTES], "lon", "lat"]


def parse_moment(text: str) -> dt.datetime:
    """A date means the end of that day (local time): "as of 2026-03-01" includes that day's changes."""
    try:
        if len(text) == 10:
            day = dt.date.fromisoformat(text)
            return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), ZoneInfo(settings.TIME_ZONE))
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"as-of {text!r}: use YYYY-MM-DD or an ISO date-time") from None
    return moment if moment.tzinfo else timezone.make_aware(moment)


def versions_of(poi_id: str) -> list[dict]:
    """Each version with who, when, which change set, and the fields it changed (before → after)."""
    out, before = [], {}
    for v in PoiVersion.objects.filter(poi_id=poi_id).select_related("author", "changeset").order_by("version"):
        after = dict(v.data)
        after["lon"], after["lat"] = (round(v.geom.x, 7), round(v.geom.y, 7)) if v.geom else (None, None)
        changed = {k: [before.get(k), after.get(k)] for k in sorted(set(before) | set(after))
                   if before.get(k) != after.get(k)}
        out.append({"version": v.version, "op": v.op, "deleted": v.deleted, "changeset": v.changeset_id,
                    "changeset_kind": v.changeset.kind, "author": v.author.get_username(),
                    "valid_from": v.valid_from.isoformat(), "valid_to": v.valid_to.isoformat() if v.valid_to else None,
                    "changes": {} if v.deleted else changed, "data": after})
        before = {} if v.deleted else after
    return out


def _rows(as_of: dt.datetime | None) -> Iterator[dict]:
    """The POIs current now (the layer table) or as of a moment (the version table)."""
    if as_of is None:
        statement = sql.SQL(
            "SELECT poi_id, version, {cols}, ST_X(ST_GeometryN(geom, 1)), ST_Y(ST_GeometryN(geom, 1)) "
            "FROM {t} ORDER BY poi_id"
        ).format(cols=sql.SQL(", ").join(map(sql.Identifier, store.ATTRIBUTES)), t=store.qualified())
        params = []
    else:
        statement = sql.SQL(
            """SELECT poi_id, version, {cols}, ST_X(geom), ST_Y(geom) FROM (
                   SELECT DISTINCT ON (poi_id) pv.* FROM poi_poiversion pv
                   JOIN poi_changeset c ON c.id = pv.changeset_id AND c.layer_slug = %s
                   WHERE pv.valid_from < %s ORDER BY poi_id, version DESC) v WHERE NOT deleted ORDER BY poi_id"""
        ).format(cols=sql.SQL(", ").join(sql.SQL("v.data->>{}").format(sql.Literal(a)) for a in store.ATTRIBUTES))
        params = [store.layer_slug(), as_of]
    with connection.cursor() as django_cur:
        cur = django_cur.cursor
        # A named (server-side) cursor would need its own transaction; the table is bounded, batches keep memory flat.
        cur.execute(statement, params)
        while batch := cur.fetchmany(5000):
            for row in batch:
                rec = dict(zip(EXPORT_FIELDS, row))
                for k in ("collected_at", "verified_at"):
                    if isinstance(rec[k], dt.date):
                        rec[k] = rec[k].isoformat()
                yield rec


def export(fmt: str, as_of: dt.datetime | None = None) -> Iterator[bytes]:
    if fmt not in EXPORT_FORMATS:
        raise InvalidInput(f"format {fmt!r}: use one of {', '.join(EXPORT_FORMATS)}")
    if store.get_layer() is None:
        return iter(())
    if fmt == "csv":
        return _csv(as_of)
    return _geojson(as_of)


def _csv(as_of) -> Iterator[bytes]:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, EXPORT_FIELDS)
    yield "\ufeff".encode()  # Excel in China opens UTF-8 CSV correctly only with a BOM
    writer.writeheader()
    for rec in _rows(as_of):
        writer.writerow(rec)
        if buf.tell() > 65536:
            yield buf.getvalue().encode()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue().encode()


def _geojson(as_of) -> Iterator[bytes]:
    head = {"type": "FeatureCollection", "name": store.layer_slug()}
    if as_of:
        head["as_of"] = as_of.isoformat()
    yield json.dumps(head, ensure_ascii=False)[:-1].encode() + b', "features": ['
    first = True
    for rec in _rows(as_of):
        lon, lat = rec.pop("lon"), rec.pop("lat")
        feature = {"type": "Feature", "id": rec["poi_id"],
                   "geometry": {"type": "Point", "coordinates": [round(lon, 7), round(lat, 7)]}, "properties": rec}
        yield (b"" if first else b",\n") + json.dumps(feature, ensure_ascii=False).encode()
        first = False
    yield b"]}\n"
