"""The currency (现势性) report: age buckets per county and category, stale POIs, CSV."""

import csv
import datetime as dt
import io

from ingest.poi import currency

from .conftest import add_row, current_by_name

TODAY = dt.date(2026, 11, 25)


def group(rep, adcode, category):
    return next((g for g in rep["groups"] if g["adcode"] == adcode and g["category"] == category),
                {b: 0 for b in ["total", "0-6m", "6-12m", "1-2y", "2y+", "never"]})


def test_buckets_and_stale_list(land):
    before = group(currency.report(today=TODAY), "652801", "post_office")
    land([add_row("现势甲", 0, category="post_office", verified_at="2026-10-01"),
          add_row("现势乙", 1, category="post_office", verified_at="2026-01-10"),
          add_row("现势丙", 2, category="post_office", verified_at="2025-03-01"),
          add_row("现势丁", 3, category="post_office", verified_at="2020-05-05"),
          add_row("现势戊", 4, category="post_office"),
          add_row("现势己", 5, category="post_office", verified_at="2020-05-05", status="closed")])
    rep = currency.report(today=TODAY)
    after = group(rep, "652801", "post_office")
    delta = {k: after[k] - before[k] for k in ["total", "0-6m", "6-12m", "1-2y", "2y+", "never"]}
    assert delta == {"total": 5, "0-6m": 1, "6-12m": 1, "1-2y": 1, "2y+": 1, "never": 1}  # closed ones not counted
    assert after["county"] == "库尔勒市"
    stale = {s["name"]: s for s in rep["stale"] if s["name"].startswith("现势")}
    assert set(stale) == {"现势丙", "现势丁", "现势戊"}
    assert stale["现势丙"]["age_days"] == (TODAY - dt.date(2025, 3, 1)).days and stale["现势戊"]["age_days"] is None
    assert stale["现势丁"]["poi_id"] == current_by_name("现势丁")["poi_id"]

    # a stricter threshold makes the 6-12 month one stale too
    strict = {s["name"] for s in currency.report(stale_days=180, today=TODAY)["stale"]}
    assert "现势乙" in strict and "现势甲" not in strict

    rows = list(csv.DictReader(io.StringIO(currency.stale_csv(rep).lstrip("\ufeff"))))
    assert {"现势丙", "现势丁", "现势戊"} <= {r["name"] for r in rows}
    table = list(csv.DictReader(io.StringIO(currency.groups_csv(rep).lstrip("\ufeff"))))
    assert any(r["adcode"] == "652801" and r["category"] == "post_office" and int(r["total"]) == after["total"]
               for r in table)
