"""Data currency (现势性) of the POIs: per county and category, how long since each was last
verified, and the list of stale ones."""

import csv
import datetime as dt
import io

from django.db import connection
from django.utils import timezone
from psycopg import sql

from . import store

# Age buckets in days since verification (upper bounds, exclusive); None = never verified.
BUCKETS = [("0-6m", 183), ("6-12m", 366), ("1-2y", 731), ("2y+", None)]
NEVER = "never"


def _bucket(age: int | None) -> str:
    if age is None:
        return NEVER
    for name, upper in BUCKETS:
        if upper is None or age < upper:
            return name
    return BUCKETS[-1][0]


def report(stale_days: int | None = None, today: dt.date | None = None) -> dict:
    stale_days = stale_days if stale_days is not None else store.config()["STALE_DAYS"]
    today = today or timezone.localdate()
    if store.get_layer() is None:
        return {"today": today.isoformat(), "stale_days": stale_days, "groups": [], "stale": [], "total": 0}
    with connection.cursor() as c:
        c.cursor.execute(sql.SQL(
            """SELECT poi_id, name, category, coalesce(county, ''), coalesce(adcode, ''), verified_at, collected_at,
                      ST_X(ST_GeometryN(geom, 1)), ST_Y(ST_GeometryN(geom, 1))
               FROM {t} WHERE status = 'active' ORDER BY adcode, category, verified_at NULLS FIRST, poi_id"""
        ).format(t=store.qualified()))
        rows = c.cursor.fetchall()
    groups: dict[tuple, dict] = {}
    stale = []
    for poi_id, name, category, county, adcode, verified, collected, lon, lat in rows:
        age = (today - verified).days if verified else None
        g = groups.setdefault((adcode, county, category), {"adcode": adcode, "county": county,
                                                           "category": category, "total": 0}
                              | {b: 0 for b, _ in BUCKETS} | {NEVER: 0})
        g[_bucket(age)] += 1
        g["total"] += 1
        if age is None or age > stale_days:
            stale.append({"poi_id": poi_id, "name": name, "category": category, "county": county, "adcode": adcode,
                          "verified_at": verified.isoformat() if verified else None,
                          "collected_at": collected.isoformat() if collected else None,
                          "age_days": age, "lon": round(lon, 6), "lat": round(lat, 6)})
    return {"today": today.isoformat(), "stale_days": stale_days, "groups": list(groups.values()),
            "stale": stale, "total": len(rows)}


def groups_csv(rep: dict) -> str:
    buf = io.StringIO()
    fields = ["adcode", "county", "category", "total", *[b for b, _ in BUCKETS], NEVER]
    w = csv.DictWriter(buf, fields)
    w.writeheader()
    w.writerows(rep["groups"])
    return "\ufeff" + buf.getvalue()


def stale_csv(rep: dict) -> str:
    buf = io.StringIO()
    fields = ["poi_id", "name", "category", "county", "adcode", "verified_at", "collected_at", "age_days", "lon", "lat"]
    w = csv.DictWriter(buf, fields)
    w.writeheader()
    w.writerows(rep["stale"])
    return "\ufeff" + buf.getvalue()
