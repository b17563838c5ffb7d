"""Applying and reverting change sets: all or nothing, versions with who/when/which set,
"as of" states, reverts with conflicts, merges, and the changed extent for tile caches."""

import datetime as dt
import json

import pytest
from django.utils import timezone

from ingest.poi import apply, changesets, history, store
from ingest.poi.apply import ApplyConflict
from ingest.poi.models import ChangeItem, ChangeSet, PoiVersion
from layers.changes import layer_data_changed
from layers.errors import Conflict, Forbidden

from ...conftest import user
from .conftest import add_row, at, current_by_name


def test_apply_writes_current_rows_versions_and_admin_codes(land, reviewer):
    layer_before = store.ensure_layer()
    cs = land([add_row("应用测试餐厅", 0, phone="0996-2000001", verified_at="2025-01-02"),
               add_row("应用测试景区", 1, category="scenic_spot", rating="AAAA")])
    assert cs.status == ChangeSet.Status.APPLIED and cs.applied_by == reviewer
    poi = current_by_name("应用测试景区")
    assert poi["rating"] == "4A" and poi["category_group"] == "tourism" and poi["version"] == 1
    assert poi["adcode"] == "652801" and poi["county"] == "库尔勒市"  # point-in-polygon from the boundaries
    assert (poi["lon"], poi["lat"]) == pytest.approx(at(1))
    v = PoiVersion.objects.get(poi_id=poi["poi_id"])
    assert v.changeset == cs and v.author == reviewer and v.data["name"] == "应用测试景区" and v.valid_to is None
    layer = store.get_layer()
    assert layer.feature_count == layer_before.feature_count + 2 and layer.data_version > layer_before.data_version


def test_update_delete_and_history(land, submit, reviewer):
    land([add_row("历史测试", 0)])
    poi_id = current_by_name("历史测试")["poi_id"]
    cs2 = land([{"op": "update", "id": poi_id, "name": "历史测试（新）", "lon": at(1)[0], "lat": at(1)[1]}])
    assert current_by_name("历史测试（新）")["version"] == 2
    land([{"op": "delete", "id": poi_id}])
    assert store.current([poi_id]) == {}
    h = history.versions_of(poi_id)
    assert [(v["version"], v["op"], v["deleted"]) for v in h] == [(1, "add", False), (2, "update", False),
                                                                   (3, "delete", True)]
    assert h[1]["changeset"] == cs2.pk and h[1]["author"] == "tourism"
    assert h[1]["changes"]["name"] == ["历史测试", "历史测试（新）"]
    assert h[1]["changes"]["lon"] == [pytest.approx(at(0)[0]), pytest.approx(at(1)[0])]
    assert h[0]["valid_to"] == h[1]["valid_from"]


def test_state_as_of_a_moment(land):
    land([add_row("时点测试", 0)])
    poi_id = current_by_name("时点测试")["poi_id"]
    # Pretend version 1 was written last year; version 2 now.
    PoiVersion.objects.filter(poi_id=poi_id).update(valid_from=timezone.now() - dt.timedelta(days=365))
    land([{"op": "update", "id": poi_id, "name": "时点测试改名"}])
    last_month = timezone.now() - dt.timedelta(days=30)

    def names(moment):
        doc = json.loads(b"".join(history.export("geojson", moment)))
        return {f["properties"]["name"] for f in doc["features"] if f["id"] == poi_id}

    assert names(last_month) == {"时点测试"}
    assert names(None) == {"时点测试改名"}
    assert names(timezone.now() - dt.timedelta(days=400)) == set()
    csv_text = b"".join(history.export("csv", last_month)).decode("utf-8-sig")
    assert "时点测试" in csv_text and "时点测试改名" not in csv_text
    assert history.parse_moment("2026-03-01").isoformat() == "2026-03-02T00:00:00+08:00"


def test_a_conflict_in_the_middle_applies_nothing(land, submit, reviewer):
    land([add_row("原子甲", 0), add_row("原子乙", 1)])
    a, b = current_by_name("原子甲")["poi_id"], current_by_name("原子乙")["poi_id"]
    cs = submit([{"op": "update", "id": a, "phone": "13900000001"}, add_row("原子丙", 2),
                 {"op": "update", "id": b, "phone": "13900000002"}]).changeset
    changesets.approve(cs.pk, reviewer, everything=True)
    land([{"op": "delete", "id": b}])  # another change set lands first
    versions_before = PoiVersion.objects.count()
    with pytest.raises(ApplyConflict) as exc:
        apply.apply(cs.pk, reviewer)
    assert [c["row"] for c in exc.value.conflicts] == [4] and "deleted" in exc.value.conflicts[0]["reason"]
    assert current_by_name("原子甲")["phone"] is None and current_by_name("原子丙") is None
    assert PoiVersion.objects.count() == versions_before
    cs.refresh_from_db()
    assert cs.status == ChangeSet.Status.REVIEW


def test_a_stale_update_conflicts(land, submit, reviewer):
    land([add_row("并发测试", 0)])
    poi_id = current_by_name("并发测试")["poi_id"]
    cs = submit([{"op": "update", "id": poi_id, "phone": "13900000003"}]).changeset
    land([{"op": "update", "id": poi_id, "phone": "13900000004"}])
    changesets.approve(cs.pk, reviewer, everything=True)
    with pytest.raises(ApplyConflict, match="changed by change set"):
        apply.apply(cs.pk, reviewer)


def test_apply_needs_every_item_decided_and_a_reviewer(submit, reviewer, collector):
    cs = submit([add_row("未决定", 0), add_row("未决定二", 1)]).changeset
    changesets.approve(cs.pk, reviewer, rows_=[2])
    with pytest.raises(Conflict, match="1 items are undecided \\(rows 3\\)"):
        apply.apply(cs.pk, reviewer)
    with pytest.raises(Forbidden):
        apply.apply(cs.pk, user("statistics"))
    changesets.reject(cs.pk, reviewer, rows_=[3])
    apply.apply(cs.pk, reviewer)
    assert current_by_name("未决定") and not current_by_name("未决定二")


def test_rating_only_update_checked_against_the_pois_category(land, submit):
    land([add_row("评级酒店", 0, category="hotel", rating="3")])
    poi_id = current_by_name("评级酒店")["poi_id"]
    land([{"op": "update", "id": poi_id, "rating": "五星"}])
    assert current_by_name("评级酒店")["rating"] == "5"
    from ingest.poi.changesets import RejectedSubmission
    with pytest.raises(RejectedSubmission, match="bad_rating"):
        submit([{"op": "update", "id": poi_id, "rating": "5A"}])


def test_revert_restores_and_reports_conflicts(land, reviewer):
    cs1 = land([add_row("回退甲", 0), add_row("回退乙", 1)])
    a, b = current_by_name("回退甲")["poi_id"], current_by_name("回退乙")["poi_id"]
    cs2 = land([{"op": "update", "id": a, "name": "回退甲改"}, {"op": "delete", "id": b}])
    cs3 = land([{"op": "update", "id": a, "phone": "13900000005"}])

    with pytest.raises(ApplyConflict) as exc:
        apply.revert(cs2.pk, reviewer)
    assert [(c["poi_id"], c["later_changesets"]) for c in exc.value.conflicts] == [(a, [cs3.pk])]
    assert current_by_name("回退甲改") and store.current([b]) == {}  # nothing reverted

    back = apply.revert(cs2.pk, reviewer, skip_conflicts=True)
    assert back.kind == ChangeSet.Kind.REVERT and back.reverts == cs2
    assert store.current([b])[b]["name"] == "回退乙" and current_by_name("回退甲改")  # b undeleted, a left
    assert [c["poi_id"] for c in back.report["conflicts"]] == [a]

    apply.revert(cs3.pk, reviewer)
    assert current_by_name("回退甲改")["phone"] is None
    # cs1's POIs are where cs1 left them only for b: a still carries cs2's name.
    with pytest.raises(ApplyConflict):
        apply.revert(cs1.pk, reviewer)
    with pytest.raises(Conflict, match="only applied"):
        apply.revert(cs2.pk, reviewer)


def test_reverting_an_add_deletes_and_a_revert_of_a_revert_restores(land, reviewer):
    cs = land([add_row("回退新增", 0)])
    poi_id = current_by_name("回退新增")["poi_id"]
    back = apply.revert(cs.pk, reviewer)
    assert store.current([poi_id]) == {}
    apply.revert(back.pk, reviewer)
    assert store.current([poi_id])[poi_id]["name"] == "回退新增"
    assert [v["op"] for v in history.versions_of(poi_id)] == ["add", "delete", "add"]


def test_merge_into_an_existing_poi_and_into_another_row(land, submit, reviewer):
    land([add_row("合并目标", 0)])
    target = current_by_name("合并目标")["poi_id"]
    lon, lat = at(0)
    cs = submit([{"op": "add", "name": "合并目标", "category": "restaurant", "lon": lon + 0.0003, "lat": lat,
                  "phone": "0996-2000009"},
                 add_row("批内甲", 3), {"op": "add", "name": "批内甲", "category": "restaurant",
                                       "lon": at(3)[0] + 0.0002, "lat": at(3)[1], "address": "人民东路1号"}]).changeset
    changesets.merge(cs.pk, reviewer, row=2, into=target)
    changesets.merge(cs.pk, reviewer, row=4, into="row:3")
    changesets.approve(cs.pk, reviewer, rows_=[3])
    apply.apply(cs.pk, reviewer)
    merged = store.current([target])[target]
    assert merged["phone"] == "0996-2000009" and (merged["lon"], merged["lat"]) == pytest.approx(at(0))
    assert merged["version"] == 2
    assert current_by_name("批内甲")["address"] == "人民东路1号"
    assert cs.items.get(row=2).decision == ChangeItem.Decision.MERGED


def test_applying_announces_the_changed_extent(land, django_capture_on_commit_callbacks):
    land([add_row("范围测试", 0)])
    poi_id = current_by_name("范围测试")["poi_id"]
    seen = []

    def listener(sender, layer, bbox, **kw):
        seen.append((layer.slug, bbox))

    layer_data_changed.connect(listener)
    try:
        with django_capture_on_commit_callbacks(execute=True):  # the test transaction never commits
            land([{"op": "update", "id": poi_id, "lon": at(11)[0], "lat": at(11)[1]}])
    finally:
        layer_data_changed.disconnect(listener)
    (slug, bbox), = seen
    assert slug == store.layer_slug()
    assert bbox == pytest.approx((at(0)[0], at(0)[1], at(11)[0], at(11)[1]))  # old and new position
