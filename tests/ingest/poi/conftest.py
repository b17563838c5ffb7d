import csv
from pathlib import Path

import pytest

from ingest.poi import apply, changesets, store

from ...conftest import user

HEADER = ["op", "id", "name", "category", "rating", "lon", "lat", "phone", "collected_at", "verified_at", "status",
          "photos", "address"]
# An empty corner of Korla's county (no sample POIs) where tests place their points.
BASE = (86.02, 41.60)


def write_csv(path: Path, rows: list[dict], header=HEADER) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, header)
        w.writeheader()
        for r in rows:
            w.writerow(r)
    return path


def at(i: int, step: float = 0.01) -> tuple[float, float]:
    """The i-th test point: 0.01° apart (≈ 800 m), far beyond the duplicate distance."""
    return round(BASE[0] + (i % 10) * step, 6), round(BASE[1] + (i // 10) * step, 6)


def add_row(name, i, category="restaurant", **extra) -> dict:
    lon, lat = at(i)
    return {"op": "add", "name": name, "category": category, "lon": lon, "lat": lat} | extra


@pytest.fixture
def collector(db):
    return user("collector")


@pytest.fixture
def reviewer(db):
    return user("tourism")


@pytest.fixture
def submit(tmp_path, collector):
    """Submit rows (as a CSV) by the collector; returns the Submission."""
    counter = iter(range(10**6))

    def _submit(rows, header=HEADER, **kw):
        path = write_csv(tmp_path / f"batch{next(counter)}.csv", rows, header)
        kw.setdefault("crs", "CGCS2000")
        return changesets.submit(path, kw.pop("by", collector), **kw)

    return _submit


@pytest.fixture
def land(submit, reviewer):
    """Submit, approve everything (duplicates included) and apply; returns the change set."""

    def _land(rows, **kw):
        cs = submit(rows, **kw).changeset
        rows_ = list(cs.items.values_list("row", flat=True))
        changesets.approve(cs.pk, reviewer, rows_=rows_)
        return apply.apply(cs.pk, reviewer, accept_offset=True)

    return _land


def current_by_name(name) -> dict | None:
    from django.db import connection
    from psycopg import sql

    with connection.cursor() as c:
        c.cursor.execute(sql.SQL("SELECT poi_id FROM {} WHERE name = %s").format(store.qualified()), [name])
        row = c.cursor.fetchone()
    return store.current([row[0]])[row[0]] if row else None
