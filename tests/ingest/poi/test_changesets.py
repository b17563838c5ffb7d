"""Submitting change sets: every validation reason with its row, nothing stored when refused,
coordinate systems, duplicate flags, the offset check, and the review rules."""

import json

import openpyxl
import pytest

from ingest.poi import changesets, coords
from ingest.poi.changesets import RejectedSubmission
from ingest.poi.models import ChangeItem, ChangeSet
from layers.errors import Conflict, Forbidden, InvalidInput

from ...conftest import SAMPLE, user
from .conftest import HEADER, add_row, at, current_by_name, write_csv


def refused(exc) -> dict[int, list[str]]:
    return {r.row: r.reasons for r in exc.value.refusals}


CASES = [
    ({"op": "upsert", "name": "甲", "category": "restaurant"}, "unknown_op"),
    ({"op": "update"}, "missing_id"),
    ({"op": "update", "id": "bad id!"}, "bad_id"),
    ({"op": "update", "id": "no-such-poi"}, "unknown_id"),
    ({"op": "delete", "id": "no-such-poi"}, "unknown_id"),
    ({"name": "", "category": "restaurant"}, "missing_name"),
    ({"name": "乙", "category": ""}, "missing_category"),
    ({"name": "丙", "category": "spaceport"}, "unknown_category"),
    ({"name": "丁", "category": "scenic_spot", "rating": "6A"}, "bad_rating"),
    ({"name": "丁二", "category": "scenic_spot", "rating": "4"}, "bad_rating"),
    ({"name": "丁三", "category": "restaurant", "rating": "5A"}, "bad_rating"),
    ({"name": "戊", "category": "restaurant", "lon": "", "lat": ""}, "missing_coordinates"),
    ({"name": "己", "category": "restaurant", "lon": "86.1x"}, "bad_coordinates"),
    ({"name": "庚", "category": "restaurant", "lon": 116.39, "lat": 39.91}, "outside_region"),
    ({"name": "辛", "category": "restaurant", "phone": "0996-12"}, "bad_phone"),
    ({"name": "壬", "category": "restaurant", "collected_at": "2025-13-45"}, "bad_date"),
    ({"name": "壬二", "category": "restaurant", "verified_at": "2999-01-01"}, "bad_date"),
    ({"name": "癸", "category": "restaurant", "status": "maybe"}, "bad_status"),
    ({"name": "子", "category": "restaurant", "photos": "javascript:alert(1)"}, "bad_url"),
    ({"name": "丑" * 201, "category": "restaurant"}, "too_long"),
]


@pytest.mark.parametrize("values, reason", CASES, ids=[c[1] + str(i) for i, c in enumerate(CASES)])
def test_each_validation_reason_names_the_row(submit, values, reason):
    good = add_row("正常餐厅", 1)
    row = {"op": "add", "lon": at(2)[0], "lat": at(2)[1]} | values
    before = ChangeSet.objects.count()
    with pytest.raises(RejectedSubmission) as exc:
        submit([good, row])
    assert refused(exc) == {3: refused(exc)[3]} and reason in refused(exc)[3]
    assert f"row 3: {reason}" in str(exc.value) or f"row 3: " in str(exc.value)
    assert exc.value.exit_code == 2 and exc.value.http_status == 400
    assert ChangeSet.objects.count() == before  # nothing stored


def test_duplicate_rows_and_ids_in_one_batch(submit, land):
    cs = land([add_row("重复编号测试", 0)])
    poi_id = cs.items.get().poi_id
    row = add_row("同一行", 1)
    with pytest.raises(RejectedSubmission) as exc:
        submit([row, dict(row), {"op": "update", "id": poi_id, "phone": "13900000000"},
                {"op": "delete", "id": poi_id}, {"op": "add", "id": poi_id, "name": "x", "category": "restaurant",
                                                 "lon": at(5)[0], "lat": at(5)[1]}])
    assert refused(exc) == {3: ["duplicate_row"], 5: ["duplicate_id"], 6: ["duplicate_id"]}


def test_add_with_an_existing_id_is_refused(submit, land):
    poi_id = land([add_row("已有编号", 0)]).items.get().poi_id
    with pytest.raises(RejectedSubmission) as exc:
        submit([add_row("新的", 3, id=poi_id)])
    assert refused(exc) == {2: ["id_exists"]}


def test_every_reason_in_the_sample_error_batch(submit):
    expected = json.loads((SAMPLE / "poi" / "errors_batch.expected.json").read_text())
    with pytest.raises(RejectedSubmission) as exc:
        changesets.submit(SAMPLE / "poi" / "errors_batch.csv", user("collector"), crs="WGS84")
    got = refused(exc)
    assert {str(k): sorted(v) for k, v in got.items()} == {k: sorted(v) for k, v in expected.items()}


def test_max_invalid_keeps_the_valid_rows_and_lists_the_refused(submit):
    sub = submit([add_row("好的一行", 0), {"op": "add", "name": "坏的一行", "category": "nope", "lon": at(1)[0], "lat": at(1)[1]}],
                 max_invalid=1)
    assert sub.changeset.items.count() == 1
    assert sub.changeset.report["refused"] == [{"row": 3, "reasons": ["unknown_category"], "message": sub.changeset
                                                .report["refused"][0]["message"]}]
    assert "nope" in sub.changeset.report["refused"][0]["message"]


def test_file_level_errors(tmp_path, collector):
    path = tmp_path / "x.csv"
    path.write_text("foo,bar\n1,2\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="x.csv: no name or id column"):
        changesets.submit(path, collector)
    path.write_text("name,lon\n甲,86\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="longitude column needs a latitude"):
        changesets.submit(path, collector)
    (tmp_path / "x.dbf").write_bytes(b"\0")
    with pytest.raises(InvalidInput, match="unsupported file type"):
        changesets.submit(tmp_path / "x.dbf", collector)
    with pytest.raises(InvalidInput, match="unknown coordinate system|Unknown coordinate system|GCJ02"):
        changesets.submit(path, collector, crs="EPSG:3857")


def test_chinese_headers_gbk_csv_xlsx_and_geojson(tmp_path, collector):
    lon, lat = at(0)
    gbk = tmp_path / "gbk.csv"
    gbk.write_bytes(f"名称,类别,等级,经度,纬度,电话\n库尔勒测试宾馆,宾馆,四星,{lon},{lat},0996-2000000\n".encode("gb18030"))
    item = changesets.submit(gbk, collector).changeset.items.get()
    assert item.data == {"name": "库尔勒测试宾馆", "category": "hotel", "rating": "4", "phone": "0996-2000000"}

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["name", "category", "lon", "lat", "phone", "collected_at"])
    import datetime as dt
    sheet.append(["表格餐厅", "餐厅", lon + 0.02, lat, 13912345678, dt.datetime(2025, 3, 1)])
    book.save(tmp_path / "b.xlsx")
    item = changesets.submit(tmp_path / "b.xlsx", collector).changeset.items.get()
    assert item.row == 2 and item.data["phone"] == "13912345678" and item.data["collected_at"] == "2025-03-01"

    gj = tmp_path / "c.geojson"
    gj.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon + 0.04, lat]},
         "properties": {"name": "点要素", "category": "museum", "rating": "AAA"}},
        {"type": "Feature", "geometry": {"type": "LineString", "coordinates": [[lon, lat], [lon, lat]]},
         "properties": {"name": "线要素", "category": "museum"}}]}), encoding="utf-8")
    with pytest.raises(RejectedSubmission) as exc:
        changesets.submit(gj, collector)
    assert refused(exc) == {2: ["bad_coordinates"]} and "not a Point" in str(exc.value)
    sub = changesets.submit(gj, collector, max_invalid=1)
    assert sub.changeset.items.get().data["rating"] == "3A"


def test_xlsx_with_an_external_entity_is_not_expanded(tmp_path, collector):
    import zipfile

    book = openpyxl.Workbook()
    book.active.append(["name"])
    book.active.append(["x"])
    book.save(tmp_path / "ok.xlsx")
    evil = tmp_path / "evil.xlsx"
    with zipfile.ZipFile(tmp_path / "ok.xlsx") as src, zipfile.ZipFile(evil, "w") as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
                        + data.replace(b"<t>x</t>", b"<t>&e;</t>"))
            dst.writestr(info, data)
    with pytest.raises(InvalidInput, match="evil.xlsx: not a readable XLSX") as exc:
        changesets.submit(evil, collector)
    assert "root:" not in str(exc.value)


@pytest.mark.parametrize("system", ["GCJ02", "BD09", "WGS84"])
def test_consumer_map_coordinates_are_converted(submit, system):
    truth = at(7)
    given = {"GCJ02": coords.wgs84_to_gcj02, "BD09": coords.wgs84_to_bd09, "WGS84": lambda x, y: (x, y)}[system](*truth)
    item = submit([{"op": "add", "name": "转换测试", "category": "bank", "lon": repr(given[0]), "lat": repr(given[1])}],
                  crs=system).changeset.items.get()
    assert coords.offset_metres(item.lon, item.lat, *truth) < 0.5
    assert (item.orig_lon, item.orig_lat) == pytest.approx(given)
    assert item.changeset.origin_crs == system


def test_duplicates_flagged_against_existing_pois_and_within_the_batch(submit, land):
    lon, lat = at(0)
    existing = land([add_row("巴州测试大酒店", 0, category="hotel")]).items.get().poi_id
    sub = submit([
        {"op": "add", "name": "巴州測試大酒店", "category": "hotel", "lon": lon + 0.0005, "lat": lat},  # traditional, ~40 m
        {"op": "add", "name": "巴州测试大酒店", "category": "hotel", "lon": lon + 0.01, "lat": lat},  # same name, 800 m
        {"op": "add", "name": "ＫＦＣ肯德基（测试店）", "category": "restaurant", "lon": at(3)[0], "lat": at(3)[1]},
        {"op": "add", "name": "KFC肯德基 测试店", "category": "restaurant", "lon": at(3)[0] + 0.0003, "lat": at(3)[1]},
        {"op": "add", "name": "第一测试中学", "category": "school", "lon": at(5)[0], "lat": at(5)[1]},
        {"op": "add", "name": "第二测试中学", "category": "school", "lon": at(5)[0] + 0.0003, "lat": at(5)[1]},
    ])
    items = {i.row: i for i in sub.changeset.items.all()}
    assert [c["poi_id"] for c in items[2].duplicates] == [existing] and items[2].duplicates[0]["distance_m"] < 60
    assert items[3].duplicates == []
    assert items[4].duplicates == [] and [c["row"] for c in items[5].duplicates] == [4]
    assert items[6].duplicates == [] and items[7].duplicates == []
    assert sub.changeset.report["duplicates_flagged"] == 2


def test_offset_batch_is_flagged_and_suggests_gcj02(submit, land, reviewer):
    names = [f"偏移测试点{i}" for i in range(6)]
    land([add_row(n, i) for i, n in enumerate(names)])
    # The same places copied from Amap (GCJ-02) but declared as WGS84: ~230 m off, all one way.
    rows = []
    for i, n in enumerate(names):
        gx, gy = coords.wgs84_to_gcj02(*at(i))
        rows.append({"op": "add", "name": n + "新店", "category": "restaurant", "lon": gx, "lat": gy})
        rows[-1]["name"] = n  # same name: matched to the existing POI
    cs = submit(rows, crs="WGS84").changeset
    flag = cs.offset_flag
    assert flag and flag["matches"] == 6 and 150 < flag["median_m"] < 350 and flag["suggested_crs"] == "GCJ02"
    assert flag["median_residual_m"]["GCJ02"] < 1
    changesets.approve(cs.pk, reviewer, everything=True)
    changesets.approve(cs.pk, reviewer, rows_=list(cs.items.values_list("row", flat=True)))
    from ingest.poi import apply
    with pytest.raises(Conflict, match="looks offset"):
        apply.apply(cs.pk, reviewer)
    # Declared correctly, the same batch is not flagged.
    assert submit(rows, crs="GCJ02").changeset.offset_flag is None


def test_review_rules(submit, reviewer, collector):
    cs = submit([add_row("审核规则测试", 0)]).changeset
    with pytest.raises(Forbidden, match="another reviewer"):
        changesets.approve(cs.pk, collector, everything=True)  # the submitter, although in the owner department
    with pytest.raises(Forbidden):
        changesets.approve(cs.pk, user("surveyor"), everything=True)  # another department
    with pytest.raises(InvalidInput, match="no items on rows 9"):
        changesets.approve(cs.pk, reviewer, rows_=[9])
    with pytest.raises(Forbidden, match="edit grant"):
        submit([add_row("无权提交", 1)], by=user("surveyor"))
    changesets.reject(cs.pk, reviewer, everything=True)
    cs.refresh_from_db()
    assert cs.status == ChangeSet.Status.REJECTED
    with pytest.raises(Conflict, match="not in review"):
        changesets.approve(cs.pk, reviewer, everything=True)


def test_approve_all_leaves_flagged_duplicates_for_a_decision(submit, reviewer):
    lon, lat = at(0)
    cs = submit([add_row("待决定甲", 0), {"op": "add", "name": "待决定甲", "category": "restaurant",
                                        "lon": lon + 0.0002, "lat": lat}]).changeset
    out = changesets.approve(cs.pk, reviewer, everything=True)
    assert out == {"approved": 1, "left_for_review": [3]}
    assert cs.items.get(row=3).decision == ChangeItem.Decision.PENDING
