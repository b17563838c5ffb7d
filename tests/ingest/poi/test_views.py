"""The POI pages (/poi/) and JSON API (/api/poi/): submit by form, single-POI form and API (token),
refusals, review (approve, reject, merge), apply, revert, history, export as of a moment, the
currency report, permissions and languages. Real database; every test rolls back."""

import csv
import io
import json
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from ingest.poi import apply, changesets, coords, store
from ingest.poi.models import ChangeItem, ChangeSet, PoiVersion
from layers.models import Access, AuditEntry, Department, Grant, Permission
from layers.tokens import create_token

from ...conftest import user
from ...test_browser import browser, page  # noqa: F401 (the browser test's fixtures)

HEADER = ["op", "id", "name", "category", "rating", "lon", "lat", "phone", "verified_at", "status"]
# An empty corner of Korla's county where these tests place their points, 0.01° (≈ 800 m) apart.
BASE = (86.02, 41.60)


def at(i: int) -> tuple[float, float]:
    return round(BASE[0] + (i % 10) * 0.01, 6), round(BASE[1] + (i // 10) * 0.01, 6)


def add(name, i, category="restaurant", **extra) -> dict:
    lon, lat = at(i)
    return {"op": "add", "name": name, "category": category, "lon": lon, "lat": lat} | extra


def csv_bytes(rows, header=HEADER) -> bytes:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, header)
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue().encode("utf-8")


def csv_file(rows, name="batch.csv", header=HEADER) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, csv_bytes(rows, header), content_type="text/csv")


def geojson(rows) -> bytes:
    features = [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [r.pop("lon"), r.pop("lat")]},
                 "properties": r} for r in (dict(r) for r in rows)]
    return json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False).encode()


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


@pytest.fixture
def collector(db):
    return user("collector")  # 文旅局 (wlj), owner of the POI layer: submits


@pytest.fixture
def reviewer(db):
    return user("tourism")  # 文旅局 too: reviews what others submitted


@pytest.fixture
def outsider(db):
    return user("statistics")  # 统计局: no grant on the POI layer


@pytest.fixture
def as_collector(client, collector):
    client.force_login(collector)
    return client


def reviewer_client(reviewer) -> Client:
    c = Client()
    c.force_login(reviewer)
    return c


@pytest.fixture
def land(tmp_path, collector, reviewer):
    """Submit rows through the library, approve every item and apply: the POIs exist."""

    def _land(rows, **kw):
        path = tmp_path / f"land{ChangeSet.objects.count()}.csv"
        path.write_bytes(csv_bytes(rows, kw.pop("header", HEADER)))
        cs = changesets.submit(path, collector, crs=kw.pop("crs", "CGCS2000")).changeset
        changesets.approve(cs.pk, reviewer, rows_=list(cs.items.values_list("row", flat=True)))
        return apply.apply(cs.pk, reviewer, accept_offset=True)

    return _land


def poi_ids(cs) -> dict[str, str]:
    return {v.data.get("name"): v.poi_id for v in cs.versions.all()}


def export(client, **params) -> bytes:
    response = client.get("/poi/export", params)
    assert response.status_code == 200, body(response)[:500]
    return body(response)


def exported_names(client, **params) -> set[str]:
    fc = json.loads(export(client, format="geojson", **params))
    return {f["properties"]["name"] for f in fc["features"]}


# --- permissions ----------------------------------------------------------------------------

def test_anonymous_is_sent_to_log_in_and_the_api_answers_401(client):
    for url in ["/poi/", "/poi/submit/", "/poi/new/", "/poi/changesets/1/", "/poi/abc/history/", "/poi/abc/edit/"]:
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/?next="), url
    response = client.post("/poi/changesets/1/approve", {"all": "1"})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    for method, url in [("get", "/api/poi/changesets"), ("get", "/api/poi/changesets/1"),
                        ("post", "/api/poi/changesets/1/approve"), ("post", "/api/poi/changesets")]:
        response = getattr(client, method)(url)
        assert response.status_code == 401, url
        assert response.json()["code"] == "NotAuthenticated" and "Token" in response["WWW-Authenticate"]


def test_other_department_may_not_see_or_submit(client, outsider, land):
    cs = land([add("统计局看不见的餐馆", 0)])
    client.force_login(outsider)
    for url in ["/poi/submit/", "/poi/new/", f"/poi/changesets/{cs.pk}/", f"/poi/{poi_ids(cs)['统计局看不见的餐馆']}/history/"]:
        assert client.get(url).status_code == 403, url
    # The navigation's entry point sends them to what they may see: the currency report, without editor links.
    response = client.get("/poi/")
    assert response.status_code == 302 and response["Location"] == "/poi/currency/"
    assert 'href="/poi/submit/"' not in client.get("/poi/currency/").content.decode()
    response = client.post("/poi/submit/", {"file": csv_file([add("不许提交", 1)]), "crs": "CGCS2000", "max_invalid": 0})
    assert response.status_code == 403
    _token, key = create_token(outsider)
    response = client.get(f"/api/poi/changesets/{cs.pk}", HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 403 and response.json()["code"] == "Forbidden"
    # An edit grant makes a member of another department a collector (not a reviewer).
    Grant.objects.create(layer=store.get_layer(), department=Department.objects.get(code="tjj"),
                         permission=Permission.EDIT)
    shown = client.get(f"/poi/changesets/{cs.pk}/")
    assert shown.status_code == 200 and not shown.context["reviewer"] and 'id="apply-form"' not in shown.content.decode()
    assert client.post(f"/poi/changesets/{cs.pk}/revert").status_code == 403


def test_invalid_token_is_401_not_anonymous(client):
    response = client.get("/api/poi/changesets", HTTP_AUTHORIZATION="Token gp_nonsense")
    assert response.status_code == 401 and response.json()["code"] == "InvalidToken"


# --- submitting ---------------------------------------------------------------------------

def test_submit_form_creates_a_change_set_and_lists_refused_rows(as_collector, collector):
    rows = [add("表单提交的餐馆", 0, phone="0996-5551234"), add("电话写错的餐馆", 1, phone="12345abc"),
            add("表单提交的酒店", 2, category="hotel", rating="四星")]
    response = as_collector.post("/poi/submit/", {"file": csv_file(rows, "采集.csv"), "crs": "WGS84",
                                                  "max_invalid": 1, "note": "第一批"})
    assert response.status_code == 302, response.content.decode()[:3000]
    cs = ChangeSet.objects.latest("id")
    assert response["Location"] == f"/poi/changesets/{cs.pk}/"
    assert cs.submitted_by == collector and cs.source_name == "采集.csv" and cs.origin_crs == "WGS84"
    assert cs.note == "第一批" and sorted(cs.items.values_list("row", flat=True)) == [2, 4]
    assert cs.items.get(row=4).data["rating"] == "4"
    shown = as_collector.get(response["Location"])
    html = shown.content.decode()
    assert shown.status_code == 200
    assert "表单提交的餐馆" in html and "表单提交的酒店" in html and "餐" in html
    assert [r["row"] for r in shown.context["refused"]] == [3]
    assert "电话号码无效" in html  # the reason in the reader's language
    assert 'data-row="3"' in html and "12345abc" in html
    assert "已提交变更集" in html  # the message after the redirect
    # The collector reviews nothing of their own: no decision buttons.
    assert 'id="approve-all"' not in html and 'id="own-changeset"' in html


def test_refused_submission_is_400_lists_every_row_and_stores_nothing(as_collector):
    before = ChangeSet.objects.count()
    rows = [add("好的一行", 0), add("", 1), add("没有类别", 2, category=""), add("很远的地方", 3) | {"lon": 120.0},
            add("坏电话", 4, phone="abc"), add("未来核实", 5, verified_at="2999-01-01")]
    response = as_collector.post("/poi/submit/", {"file": csv_file(rows), "crs": "CGCS2000", "max_invalid": 0})
    assert response.status_code == 400
    refused = {r["row"]: r["reasons"] for r in response.context["refused"]}
    assert refused == {3: ["missing_name"], 4: ["missing_category"], 5: ["outside_region"], 6: ["bad_phone"],
                       7: ["bad_date"]}
    html = response.content.decode()
    assert "没有提交任何内容" in html and "缺少名称" in html and "超出平台范围" in html
    assert ChangeSet.objects.count() == before


def test_submit_form_errors(as_collector):
    response = as_collector.post("/poi/submit/", {"crs": "CGCS2000", "max_invalid": 0})
    assert response.status_code == 400 and "file" in response.context["form"].errors
    response = as_collector.post("/poi/submit/", {"file": SimpleUploadedFile("points.dxf", b"0\nSECTION\n"),
                                                  "crs": "CGCS2000", "max_invalid": 0})
    assert response.status_code == 400 and "unsupported file type" in response.context["error"]
    response = as_collector.post("/poi/submit/", {"file": csv_file([]), "crs": "CGCS2000", "max_invalid": 0})
    assert response.status_code == 400 and "no rows" in response.context["error"]


def test_xlsx_and_geojson_files_are_accepted(as_collector):
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["名称", "类别", "经度", "纬度"])
    sheet.append(["表格里的餐馆", "餐馆", *at(0)])
    data = io.BytesIO()
    book.save(data)
    response = as_collector.post("/poi/submit/", {"file": SimpleUploadedFile("batch.xlsx", data.getvalue()),
                                                  "crs": "CGCS2000", "max_invalid": 0})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert ChangeSet.objects.latest("id").items.get().data["name"] == "表格里的餐馆"
    response = as_collector.post("/poi/submit/", {"file": SimpleUploadedFile("batch.geojson", geojson([add("要素餐馆", 1)])),
                                                  "crs": "CGCS2000", "max_invalid": 0})
    assert response.status_code == 302
    assert ChangeSet.objects.latest("id").items.get().row == 1  # GeoJSON items are feature numbers


def test_single_poi_form_submits_a_change_set_of_one(as_collector):
    shown = as_collector.get("/poi/new/")
    assert shown.status_code == 200 and 'name="category"' in shown.content.decode() and "旅游景区" in shown.content.decode()
    lon, lat = at(0)
    response = as_collector.post("/poi/new/", {
        "name": "单个新增的景区", "name_en": "Single Spot", "name_ug": "يەككە", "category": "scenic_spot", "rating": "4A",
        "address": "库尔勒市某路1号", "phone": "0996-5550001", "opening_hours": "09:00-18:00", "description": "测试",
        "photos": "https://example.org/poi/a.jpg", "lon": lon, "lat": lat, "crs": "CGCS2000", "status": "active",
        "collected_at": "2026-01-02", "verified_at": "2026-01-03", "note": "现场核实",
    })
    assert response.status_code == 302, response.content.decode()[:3000]
    cs = ChangeSet.objects.latest("id")
    item = cs.items.get()
    assert item.row == 2 and item.op == "add" and cs.note == "现场核实"
    assert item.data == {"name": "单个新增的景区", "name_en": "Single Spot", "name_ug": "يەككە", "category": "scenic_spot",
                         "rating": "4A", "address": "库尔勒市某路1号", "phone": "0996-5550001",
                         "opening_hours": "09:00-18:00", "description": "测试", "photos": "https://example.org/poi/a.jpg",
                         "collected_at": "2026-01-02", "verified_at": "2026-01-03", "status": "active"}
    assert (round(item.lon, 6), round(item.lat, 6)) == (lon, lat)


def test_single_poi_form_shows_the_library_refusals_beside_the_fields(as_collector):
    before = ChangeSet.objects.count()
    response = as_collector.post("/poi/new/", {"name": "", "category": "hotel", "rating": "5A", "phone": "x1",
                                               "crs": "CGCS2000"})
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert set(errors) >= {"name", "rating", "phone", "lon"}
    assert "缺少名称" in errors["name"][0]
    assert ChangeSet.objects.count() == before


def test_edit_form_submits_only_what_changed_and_can_propose_deletion(as_collector, land):
    poi_id = poi_ids(land([add("要修改的餐馆", 0, phone="0996-5550002", status="active")]))["要修改的餐馆"]
    shown = as_collector.get(f"/poi/{poi_id}/edit/")
    form = shown.context["form"]
    assert shown.status_code == 200 and form.initial["name"] == "要修改的餐馆" and form.initial["phone"] == "0996-5550002"
    data = {k: v for k, v in form.initial.items() if v is not None}
    response = as_collector.post(f"/poi/{poi_id}/edit/", data)
    assert response.status_code == 400 and "没有任何更改" in response.content.decode()
    response = as_collector.post(f"/poi/{poi_id}/edit/", data | {"phone": "0996-5550003", "opening_hours": "全天"})
    assert response.status_code == 302
    item = ChangeSet.objects.latest("id").items.get()
    assert (item.op, item.poi_id, item.data, item.lon) == ("update", poi_id, {"phone": "0996-5550003",
                                                                            "opening_hours": "全天"}, None)
    response = as_collector.post(f"/poi/{poi_id}/edit/", data | {"phone": ""})
    assert response.status_code == 400 and "phone" not in response.context["form"].errors
    response = as_collector.post(f"/poi/{poi_id}/edit/", {"delete": "1", "note": "已拆除"})
    assert response.status_code == 302
    item = ChangeSet.objects.latest("id").items.get()
    assert (item.op, item.poi_id) == ("delete", poi_id)
    assert as_collector.get("/poi/no-such-poi/edit/").status_code == 404


# --- the API ------------------------------------------------------------------------------

def test_api_submit_with_a_token(client, collector):
    _token, key = create_token(collector)
    auth = {"HTTP_AUTHORIZATION": f"Token {key}"}
    # No CSRF token needed with an API token, even from a client that enforces CSRF.
    api = Client(enforce_csrf_checks=True)
    response = api.post("/api/poi/changesets", {"file": csv_file([add("接口提交", 0), add("", 1)], "api.csv"),
                                                "crs": "WGS84", "max_invalid": "1", "note": "脚本"}, **auth)
    assert response.status_code == 201, response.content
    data = response.json()
    cs = ChangeSet.objects.get(pk=data["id"])
    assert response["Location"].endswith(f"/api/poi/changesets/{cs.pk}")
    assert cs.origin_crs == "WGS84" and cs.note == "脚本" and data["items"] == 1
    assert data["refused"] == [{"row": 3, "reasons": ["missing_name"], "message": data["refused"][0]["message"],
                                "labels": ["缺少名称"]}]
    detail = api.get(f"/api/poi/changesets/{cs.pk}", **auth).json()
    assert detail["status"] == "review" and [i["row"] for i in detail["items"]] == [2]
    assert detail["submitted_by"] == "collector" and detail["your_role"] == "reviewer"
    listed = api.get("/api/poi/changesets?status=review", **auth).json()["changesets"]
    assert cs.pk in [c["id"] for c in listed]

    response = api.post("/api/poi/changesets?crs=CGCS2000&name=body.geojson", geojson([add("正文要素", 1)]),
                        content_type="application/geo+json", **auth)
    assert response.status_code == 201, response.content
    assert ChangeSet.objects.get(pk=response.json()["id"]).source_name == "body.geojson"

    before = ChangeSet.objects.count()
    response = api.post("/api/poi/changesets", geojson([add("好的", 2), add("坏的", 3, category="火星"),
                                                         add("远的", 4) | {"lat": 10.0}]),
                        content_type="application/geo+json", **auth)
    assert response.status_code == 400
    error = response.json()
    assert error["code"] == "InvalidInput" and "nothing submitted" in error["description"]
    assert [(r["row"], r["reasons"]) for r in error["refused"]] == [(2, ["unknown_category"]), (3, ["outside_region"])]
    assert ChangeSet.objects.count() == before

    response = api.post("/api/poi/changesets", b"name,x", content_type="text/plain", **auth)
    assert response.status_code == 400 and response.json()["code"] == "InvalidInput"
    assert api.get("/api/poi/changesets/999999", **auth).json()["code"] == "NotFound"
    assert api.delete("/api/poi/changesets", **auth).status_code == 405


def test_api_session_requests_still_need_csrf(collector):
    api = Client(enforce_csrf_checks=True)
    api.force_login(collector)
    response = api.post("/api/poi/changesets", geojson([add("会话提交", 0)]), content_type="application/geo+json")
    assert response.status_code == 403  # CSRF failure: the session cookie alone does not authorise a POST
    assert api.get("/api/poi/changesets").status_code == 200


def test_api_review_apply_and_revert(client, collector, reviewer):
    submit_key = create_token(collector)[1]
    review_key = create_token(reviewer)[1]
    as_submitter, as_reviewer = {"HTTP_AUTHORIZATION": f"Token {submit_key}"}, {"HTTP_AUTHORIZATION": f"Token {review_key}"}
    rows = [add("接口审核甲", 0), add("接口审核乙", 1), add("接口审核丙", 2)]
    cs_id = client.post("/api/poi/changesets", {"file": csv_file(rows)}, **as_submitter).json()["id"]

    def post(action, payload, auth=as_reviewer):
        return client.post(f"/api/poi/changesets/{cs_id}/{action}", payload, content_type="application/json", **auth)

    response = post("approve", {"all": True}, auth=as_submitter)
    assert response.status_code == 403 and response.json()["code"] == "Forbidden"  # not their own
    response = post("apply", {})
    assert response.status_code == 409 and response.json()["code"] == "Conflict"  # undecided items
    assert post("approve", {"rows": [2, 3]}).json() == {"approved": 2, "left_for_review": []}
    assert post("reject", {"rows": [4], "comment": "重复"}).json() == {"rejected": 1}
    assert post("approve", {"rows": ["x"]}).status_code == 400
    assert post("approve", {"rows": [99]}).json()["code"] == "InvalidInput"
    response = post("apply", {})
    assert response.status_code == 200 and response.json()["status"] == "applied" and response.json()["versions"] == 2
    assert exported_names(client) >= {"接口审核甲", "接口审核乙"} and "接口审核丙" not in exported_names(client)
    response = post("revert", {})
    assert response.status_code == 201, response.content
    back = response.json()
    assert back["reverts"] == cs_id and back["reverted"] == 2 and back["status"] == "applied"
    assert not exported_names(client) & {"接口审核甲", "接口审核乙"}
    assert post("revert", {}).json()["code"] == "Conflict"  # reverted already
    poi_id = ChangeItem.objects.get(changeset_id=cs_id, row=2).poi_id
    versions = client.get(f"/api/poi/{poi_id}/history", **as_reviewer).json()["versions"]
    assert [(v["version"], v["op"], v["deleted"]) for v in versions] == [(1, "add", False), (2, "delete", True)]


def test_api_merge(client, collector, reviewer, land):
    existing = poi_ids(land([add("博斯腾湖餐厅", 0)]))["博斯腾湖餐厅"]
    lon, lat = at(0)
    rows = [{"op": "add", "name": "博斯腾湖餐厅", "category": "restaurant", "lon": lon + 0.0002, "lat": lat},
            {"op": "add", "name": "新开的面馆", "category": "restaurant", "lon": at(5)[0], "lat": at(5)[1],
             "phone": "0996-5550009"},
            {"op": "add", "name": "新开的面馆", "category": "restaurant", "lon": at(5)[0] + 0.0001, "lat": at(5)[1]}]
    key = create_token(collector)[1]
    cs_id = client.post("/api/poi/changesets", {"file": csv_file(rows)}, HTTP_AUTHORIZATION=f"Token {key}").json()["id"]
    items = {i.row: i for i in ChangeItem.objects.filter(changeset_id=cs_id)}
    assert items[2].duplicates[0]["poi_id"] == existing and items[4].duplicates[0]["row"] == 3
    auth = {"HTTP_AUTHORIZATION": f"Token {create_token(reviewer)[1]}"}

    def post(action, payload):
        return client.post(f"/api/poi/changesets/{cs_id}/{action}", payload, content_type="application/json", **auth)

    assert post("approve", {"all": True}).json() == {"approved": 1, "left_for_review": [2, 4]}
    assert post("merge", {"row": 2, "into": existing}).json() == {"changeset": cs_id, "row": 2, "decision": "merged",
                                                                  "merged_into": existing}
    assert post("merge", {"row": 4, "into": "row:3"}).json()["merged_into"] == "row:3"
    assert post("merge", {"row": 3, "into": "no-such-poi"}).status_code == 400
    assert post("apply", {}).status_code == 200
    assert [v.version for v in PoiVersion.objects.filter(poi_id=existing)] == [1, 2]


# --- review on the pages ------------------------------------------------------------------

def test_review_flow_approve_apply_export_and_revert(as_collector, reviewer):
    rows = [add("审核流程餐馆", 0, phone="0996-5550004"), add("审核流程宾馆", 1, category="hotel", rating="3"),
            add("审核流程被拒", 2)]
    as_collector.post("/poi/submit/", {"file": csv_file(rows), "crs": "CGCS2000", "max_invalid": 0})
    cs = ChangeSet.objects.latest("id")
    url = f"/poi/changesets/{cs.pk}/"
    client = reviewer_client(reviewer)
    shown = client.get(url)
    html = shown.content.decode()
    assert shown.context["can_decide"] and 'id="approve-all"' in html and 'name="rows" value="4"' in html
    assert 'id="revert-form"' not in html

    assert client.get(url + "approve").status_code == 405  # state changes are POST only
    response = client.post(url + "approve", {"rows": ["2", "3"], "comment": "核实无误"})
    assert response.status_code == 302 and response["Location"] == url
    assert client.post(url + "reject", {"rows": ["4"]}).status_code == 302
    assert dict(cs.items.values_list("row", "decision")) == {2: "approved", 3: "approved", 4: "rejected"}
    assert cs.items.get(row=2).comment == "核实无误"
    response = client.post(url + "apply")
    assert response.status_code == 302
    cs.refresh_from_db()
    assert cs.status == "applied" and cs.applied_by == reviewer
    shown = client.get(url)
    html = shown.content.decode()
    assert "已应用" in html and 'id="revert-form"' in html and "写入了 2 个兴趣点版本" in html

    assert exported_names(client) >= {"审核流程餐馆", "审核流程宾馆"}
    assert "审核流程被拒" not in exported_names(client)
    text = export(client, format="csv").decode("utf-8-sig")
    records = {r["name"]: r for r in csv.DictReader(io.StringIO(text))}
    assert records["审核流程宾馆"]["rating"] == "3" and records["审核流程餐馆"]["county"] == "库尔勒市"
    assert AuditEntry.objects.filter(action="poi.export").exists()

    response = client.post(url + "revert")
    back = ChangeSet.objects.latest("id")
    assert response.status_code == 302 and response["Location"] == f"/poi/changesets/{back.pk}/"
    cs.refresh_from_db()
    assert cs.status == "reverted" and back.reverts == cs
    assert not exported_names(client) & {"审核流程餐馆", "审核流程宾馆"}
    html = client.get(url).content.decode()
    assert f'href="/poi/changesets/{back.pk}/"' in html and "已撤销" in html


def test_page_posts_need_the_csrf_token(collector, reviewer, land):
    cs = land([add("跨站请求", 0)])
    session = Client(enforce_csrf_checks=True)
    session.force_login(reviewer)
    assert session.post(f"/poi/changesets/{cs.pk}/revert").status_code == 403
    cs.refresh_from_db()
    assert cs.status == "applied"
    shown = session.get(f"/poi/changesets/{cs.pk}/")
    token = shown.context["csrf_token"]
    assert session.post(f"/poi/changesets/{cs.pk}/revert", {"csrfmiddlewaretoken": str(token)}).status_code == 302


def test_submitter_may_not_review_their_own_change_set(as_collector, collector):
    as_collector.post("/poi/submit/", {"file": csv_file([add("自己审核", 0)]), "crs": "CGCS2000", "max_invalid": 0})
    cs = ChangeSet.objects.latest("id")
    response = as_collector.post(f"/poi/changesets/{cs.pk}/approve", {"all": "1"})
    assert response.status_code == 403 and "another reviewer must decide" in response.context["error"]
    assert cs.items.get().decision == "pending"


def test_merge_form_and_duplicate_links(as_collector, reviewer, land):
    existing = poi_ids(land([add("孔雀河烤肉店", 0)]))["孔雀河烤肉店"]
    lon, lat = at(0)
    rows = [{"op": "add", "name": "孔雀河烤肉店", "category": "restaurant", "lon": lon + 0.0003, "lat": lat,
             "phone": "0996-5550005"}]
    as_collector.post("/poi/submit/", {"file": csv_file(rows), "crs": "CGCS2000", "max_invalid": 0})
    cs = ChangeSet.objects.latest("id")
    url = f"/poi/changesets/{cs.pk}/"
    client = reviewer_client(reviewer)
    html = client.get(url).content.decode()
    assert f'href="/poi/{existing}/history/"' in html and 'id="merge-2"' in html and 'list="dups-2"' in html
    client.post(url + "approve", {"all": "1"})
    assert cs.items.get().decision == "pending"  # flagged: decided one by one
    response = client.post(url + "merge", {"row": "2", "into": "no-such-poi"})
    assert response.status_code == 400 and "no current POI" in response.context["error"]
    assert client.post(url + "merge", {"row": "2", "into": existing}).status_code == 302
    item = cs.items.get()
    assert item.decision == "merged" and item.merged_into == existing
    assert client.post(url + "apply").status_code == 302
    current = store.current([existing])[existing]
    assert current["version"] == 2 and current["phone"] == "0996-5550005"
    assert (round(current["lon"], 6), round(current["lat"], 6)) == (lon, lat)  # the reviewed position stays


def test_offset_warning_needs_explicit_acceptance(as_collector, reviewer, land):
    names = [f"偏移测试点{i}" for i in range(6)]
    ids = poi_ids(land([add(n, i) for i, n in enumerate(names)]))
    # The same places copied from Amap (GCJ-02) but declared WGS84: shifted ≈ 200 m one way.
    rows = []
    for i, n in enumerate(names):
        lon, lat = coords.wgs84_to_gcj02(*at(i))
        rows.append({"op": "update", "id": ids[n], "lon": round(lon, 7), "lat": round(lat, 7)})
    as_collector.post("/poi/submit/", {"file": csv_file(rows), "crs": "WGS84", "max_invalid": 0})
    cs = ChangeSet.objects.latest("id")
    assert cs.offset_flag and cs.offset_flag["suggested_crs"] == "GCJ02"
    url = f"/poi/changesets/{cs.pk}/"
    client = reviewer_client(reviewer)
    client.post(url + "approve", {"all": "1"})
    html = client.get(url).content.decode()
    assert 'id="offset-warning"' in html and "GCJ02" in html and 'id="accept-offset"' in html
    response = client.post(url + "apply")
    assert response.status_code == 409 and "offset" in response.context["error"]
    cs.refresh_from_db()
    assert cs.status == "review"
    assert client.post(url + "apply", {"accept_offset": "1"}).status_code == 302
    cs.refresh_from_db()
    assert cs.status == "applied" and cs.offset_accepted


def test_revert_conflicts_are_shown_and_can_be_skipped(as_collector, reviewer, land):
    first = land([add("冲突测试甲", 0), add("冲突测试乙", 1)])
    ids = poi_ids(first)
    land([{"op": "update", "id": ids["冲突测试甲"], "phone": "0996-5550006"}])
    url = f"/poi/changesets/{first.pk}/"
    client = reviewer_client(reviewer)
    response = client.post(url + "revert")
    assert response.status_code == 409
    assert [c["poi_id"] for c in response.context["conflicts"]] == [ids["冲突测试甲"]]
    assert 'id="conflicts"' in response.content.decode()
    first.refresh_from_db()
    assert first.status == "applied"
    response = client.post(url + "revert", {"skip_conflicts": "1"})
    assert response.status_code == 302
    assert store.current([ids["冲突测试乙"]]) == {} and ids["冲突测试甲"] in store.current([ids["冲突测试甲"]])
    html = client.get(url).content.decode()
    assert "未撤销" in html and ids["冲突测试甲"] in html


def test_decisions_need_rows_and_a_change_set_in_review(reviewer, land):
    cs = land([add("已应用的", 0)])
    client = reviewer_client(reviewer)
    response = client.post(f"/poi/changesets/{cs.pk}/approve", {"all": "1"})
    assert response.status_code == 409 and "not in review" in response.context["error"]
    assert client.post("/poi/changesets/999999/approve", {"all": "1"}).status_code == 404
    assert client.get("/poi/changesets/999999/").status_code == 404


# --- history, export, currency ------------------------------------------------------------

def test_history_page_shows_every_version(as_collector, reviewer, land):
    poi_id = poi_ids(land([add("历史餐馆", 0, phone="0996-5550007")]))["历史餐馆"]
    second = land([{"op": "update", "id": poi_id, "name": "历史餐馆（新址）", "phone": "0996-5550008"}])
    shown = as_collector.get(f"/poi/{poi_id}/history/")
    assert shown.status_code == 200
    versions = shown.context["versions"]
    assert [v["version"] for v in versions] == [1, 2] and versions[1]["changeset"] == second.pk
    html = shown.content.decode()
    assert "版本 2" in html and "tourism" in html and f'href="/poi/changesets/{second.pk}/"' in html
    assert "0996-5550007" in html and "0996-5550008" in html and "历史餐馆（新址）" in html
    assert "电话" in html and "餐厅" in html  # attribute names and the category in Chinese
    assert f'href="/poi/{poi_id}/edit/"' in html
    assert as_collector.get("/poi/nothing-here/history/").status_code == 404


def test_export_as_of_a_moment(client, land):
    first = land([add("时点导出", 0)])
    poi_id = poi_ids(first)["时点导出"]
    between = timezone.now()
    land([{"op": "update", "id": poi_id, "name": "时点导出（改名）"}])
    assert "时点导出（改名）" in exported_names(client)
    assert "时点导出" in exported_names(client, as_of=between.isoformat())
    assert "时点导出（改名）" not in exported_names(client, as_of=between.isoformat())
    assert exported_names(client, as_of="2000-01-01") == set()
    today = timezone.localdate().isoformat()
    assert "时点导出（改名）" in exported_names(client, as_of=today)
    response = client.get("/poi/export", {"format": "csv", "as_of": today})
    assert response.streaming and response["Content-Type"].startswith("text/csv")
    assert f'filename="poi-{today}.csv"' in response["Content-Disposition"]
    assert body(response).decode("utf-8-sig").startswith("poi_id,version,name")
    for params, code in [({"format": "kml"}, 400), ({"as_of": "last week"}, 400)]:
        response = client.get("/poi/export", params)
        assert response.status_code == code and response.json()["code"] == "InvalidInput"


def test_export_honours_the_layer_access(client, outsider, land):
    land([add("访问控制", 0)])
    assert "访问控制" in exported_names(client)  # public layer: anyone may download
    layer = store.get_layer()
    layer.access = Access.INTERNAL
    layer.save()
    assert client.get("/poi/export").status_code == 404  # anonymous: not visible at all
    client.force_login(outsider)
    assert client.get("/poi/export").status_code == 403  # visible (internal), not downloadable
    key = create_token(user("tourism"))[1]
    response = Client().get("/poi/export", HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 200 and "访问控制" in body(response).decode()


def test_currency_page_and_csv(client, land):
    today = timezone.localdate()
    land([add("常核实的餐馆", 0, verified_at=(today - timedelta(days=10)).isoformat()),
          add("久未核实的餐馆", 1, verified_at="2020-05-01"), add("从未核实的宾馆", 2, category="hotel"),
          add("已停业的餐馆", 3, verified_at="2019-01-01", status="closed")])
    shown = client.get("/poi/currency/")
    assert shown.status_code == 200
    html = shown.content.decode()
    stale = {s["name"] for s in shown.context["stale"]}
    assert {"久未核实的餐馆", "从未核实的宾馆"} <= stale and not stale & {"常核实的餐馆", "已停业的餐馆"}
    assert "库尔勒市" in html and "宾馆酒店" in html and "从未核实" in html and "半年以内" in html
    assert 'id="stale-points"' in html and "vendor/leaflet/leaflet.js" in html and "poi/currency.js" in html
    points = {p["name"]: p for p in shown.context["map_points"]}
    assert points["久未核实的餐馆"]["lon"] == at(1)[0]
    korla = [g for g in shown.context["groups"] if g["county"] == "库尔勒市" and g["category"] == "restaurant"][0]
    assert korla["0-6m"] >= 1 and korla["2y+"] >= 1

    response = client.get("/poi/currency/", {"format": "csv"})
    text = response.content.decode("utf-8")
    assert response["Content-Type"].startswith("text/csv") and text.startswith("\ufeffadcode,county,category,total")
    assert "652801,库尔勒市,restaurant" in text
    response = client.get("/poi/currency/", {"format": "stale-csv", "stale_days": "3"})
    names = {r["name"] for r in csv.DictReader(io.StringIO(response.content.decode("utf-8-sig")))}
    assert {"常核实的餐馆", "久未核实的餐馆", "从未核实的宾馆"} <= names
    assert client.get("/poi/currency/", {"stale_days": "soon"}).status_code == 400
    assert client.get("/poi/currency/", {"format": "pdf"}).status_code == 400


# --- languages and navigation -------------------------------------------------------------

@pytest.mark.parametrize("accept, heading, direction", [
    ("", "兴趣点变更集", "ltr"), ("zh-CN", "兴趣点变更集", "ltr"), ("en", "POI change sets", "ltr"),
    ("ug", "قىزىقىش نۇقتىسى ئۆزگىرىش توپلاملىرى", "rtl"),
])
def test_pages_follow_the_language(as_collector, accept, heading, direction):
    headers = {"HTTP_ACCEPT_LANGUAGE": accept} if accept else {}
    html = as_collector.get("/poi/", **headers).content.decode()
    assert f"<h1>{heading}</h1>" in html and f'dir="{direction}"' in html


def test_language_switch_and_english_pages(as_collector, land):
    land([add("英文页面", 0, verified_at="2020-01-01")])
    as_collector.post("/i18n/setlang/", {"language": "en", "next": "/poi/"})
    assert "<h1>Submit POIs</h1>" in as_collector.get("/poi/submit/").content.decode()
    html = as_collector.get("/poi/currency/").content.decode()
    assert "Currency of the POIs" in html and "Restaurant" in html and "over 2 years" in html
    html = as_collector.get("/poi/new/").content.decode()
    assert "Name (Chinese)" in html and "Scenic spot" in html
    response = as_collector.post("/poi/submit/", {"file": csv_file([add("", 0)]), "crs": "CGCS2000", "max_invalid": 0})
    assert "name missing" in response.content.decode()


def test_navigation_links_to_the_poi_pages(client, collector):
    assert 'href="/poi/currency/" id="nav-poi"' in client.get("/").content.decode()
    client.force_login(collector)
    assert 'href="/poi/" id="nav-poi"' in client.get("/").content.decode()
    assert 'href="/poi/submit/"' in client.get("/poi/currency/").content.decode()


# --- in the browser -----------------------------------------------------------------------

@pytest.mark.browser
def test_currency_map_draws_the_stale_sample_pois(server, page):
    """The production server (gunicorn, static files collected) and Chromium: the stale POIs of
    the bundled sample set are drawn with the locally served Leaflet, without script errors."""
    page.goto(server + "/poi/currency/")
    page.wait_for_selector("#map[data-ready]", timeout=20_000)
    expected = len(json.loads(page.inner_text("#stale-points")))
    assert expected > 0 and int(page.get_attribute("#map", "data-ready")) == expected
    assert page.locator(".leaflet-overlay-pane path").count() == expected
    assert page.locator("html").get_attribute("lang") == "zh-hans" and "兴趣点现势性" in page.content()
