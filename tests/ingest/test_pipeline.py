"""The pipeline end to end on small real files: validation reasons, reports, modes, history."""

import json

import numpy as np
import pyogrio.raw
import pytest
from django.db import connection

from ingest.models import IngestJob
from ingest.pipeline import history, rollback
from layers import storage
from layers.errors import Conflict, InvalidInput
from layers.models import Access, AuditEntry, Layer

from ..conftest import SAMPLE
from .conftest import GK87, KORLA, feature, load, point, square, write_geojson, write_points


def rows(slug, columns="count(*)"):
    with connection.cursor() as cur:
        cur.execute(f'SELECT {columns} FROM data."{storage.table_for_slug(slug)}"')
        return cur.fetchall()


def test_new_layer_is_internal_with_native_crs_extent_and_audit(db):
    report = load(SAMPLE / "lakes.geojson", layer="lakes-copy", title_zh="湖泊副本")
    layer = Layer.objects.get(slug="lakes-copy")
    assert layer.access == Access.INTERNAL
    assert (layer.native_srid, layer.storage_srid) == (4326, 4490)
    assert layer.geometry_type == "MultiPolygon"  # single polygons promoted
    assert layer.feature_count == 4 and report.loaded == 4
    xmin, ymin, xmax, ymax = layer.extent.extent
    assert 80 < xmin < xmax < 95 and 35 < ymin < ymax < 43
    actions = set(AuditEntry.objects.filter(layer=layer).values_list("action", flat=True))
    assert {"layer.create", "layer.load"} <= actions
    assert "博斯腾湖" in [r[0] for r in rows("lakes-copy", "name")]


def test_every_rejection_reason_is_reported_by_feature_and_nothing_loads(tmp_path):
    line_like = {"type": "Polygon", "coordinates": [[[86.1, 41.7], [86.2, 41.7], [86.1, 41.7], [86.1, 41.7]]]}
    features = [
        feature(square(), name="好"),                                  # 1 ok
        feature(None, name="无几何"),                                   # 2 missing geometry
        feature({"type": "Polygon", "coordinates": []}, name="空"),      # 3 empty geometry
        feature(line_like, name="退化"),                                 # 4 invalid, repair changes type
        feature(point(), name="点"),                                    # 5 wrong type
        feature(square(116.4, 39.9), name="北京"),                       # 6 outside the region
        feature(square(), name="好"),                                   # 7 duplicate of 1
    ]
    path = write_geojson(tmp_path / "房屋.geojson", features)
    with pytest.raises(InvalidInput) as err:
        load(path, layer="bad-buildings", title_zh="x")
    message = str(err.value)
    assert "房屋.geojson" in message and "feature 2: missing geometry" in message
    report = err.value.report.as_dict()
    reasons = {r["feature"]: r["reason"] for r in report["rejects"]}
    assert reasons[2] == "missing geometry"
    assert reasons[3] == "empty geometry"
    assert reasons[4].startswith("invalid geometry (") and "change its type" in reasons[4]
    assert reasons[5].startswith("wrong geometry type Point")
    assert reasons[6].startswith("outside the region")
    assert reasons[7] == "duplicate of feature 1"
    assert 1 not in reasons
    assert not Layer.objects.filter(slug="bad-buildings").exists()
    assert not storage.table_exists(storage.table_for_slug("bad-buildings"))
    job = IngestJob.objects.get(pk=report["job"])
    assert job.status == IngestJob.Status.REJECTED and "nothing was loaded" in job.message


def test_within_max_invalid_the_rest_loads_and_the_report_lists_rejects(tmp_path):
    path = write_geojson(tmp_path / "p.geojson", [feature(square(), n=1), feature(point(), n=2), feature(square(d=0.002), n=3)])
    report = load(path, layer="tolerant", title_zh="x", max_invalid=1)
    assert report.loaded == 2 and Layer.objects.get(slug="tolerant").feature_count == 2
    json_path, gpkg = report.write(tmp_path / "report.json")
    data = json.loads(json_path.read_text(encoding="utf-8"))
    assert data["rejected"] == 1 and data["rejects"][0]["feature"] == 2
    _meta, _fids, _geoms, fields = pyogrio.raw.read(gpkg)
    assert list(fields[3]) == ["wrong geometry type Point for a Polygon layer"]


def test_bowtie_is_repaired_and_reported(tmp_path):
    bowtie = {"type": "Polygon", "coordinates": [[[86.1, 41.7], [86.2, 41.8], [86.2, 41.7], [86.1, 41.8], [86.1, 41.7]]]}
    report = load(write_geojson(tmp_path / "b.geojson", [feature(bowtie, name="蝴蝶")]), layer="bowtie", title_zh="x")
    assert report.repaired == {"bowtie": [1]}
    assert rows("bowtie", "ST_IsValid(geom), ST_NumGeometries(geom)") == [(True, 2)]


def test_z_is_dropped_from_geometry_and_counted(tmp_path):
    path = write_geojson(tmp_path / "z.geojson", [feature({"type": "Point", "coordinates": [86.15, 41.73, 931.2]}, h=931.2)])
    report = load(path, layer="zpoints", title_zh="x")
    assert rows("zpoints", "ST_NDims(geom)") == [(2,)]
    assert report.results[0]["z_dropped"] == 1


def test_attribute_type_error_on_append(tmp_path, korla_points):
    write_points(tmp_path / "a.gpkg", korla_points[:3], {"code": np.array([1, 2, 3])})
    load(tmp_path / "a.gpkg", layer="codes", title_zh="x")
    path = write_geojson(tmp_path / "b.geojson", [feature(point(86.11, 41.71), code="七")])
    with pytest.raises(InvalidInput, match="feature 1: attribute code: '七'"):
        load(path, layer="codes", mode="append")
    assert Layer.objects.get(slug="codes").feature_count == 3


def test_append_replace_and_rollback_keep_every_version(tmp_path, korla_points):
    write_points(tmp_path / "v1.gpkg", korla_points[:10], {"name": np.array([f"点{i}" for i in range(10)], dtype=object)})
    write_points(tmp_path / "v2.gpkg", korla_points[10:15], {"name": np.array([f"新{i}" for i in range(5)], dtype=object)})
    first = load(tmp_path / "v1.gpkg", layer="pts", title_zh="点")
    second = load(tmp_path / "v2.gpkg", layer="pts", mode="append")
    assert Layer.objects.get(slug="pts").feature_count == 15
    third = load(tmp_path / "v2.gpkg", layer="pts", mode="replace")
    assert Layer.objects.get(slug="pts").feature_count == 5
    assert [j.pk for j in history("pts")] == [third.job_id, second.job_id, first.job_id]

    with pytest.raises(Conflict, match=str(third.job_id)):
        rollback(second.job_id)  # a later load touched the layer
    rollback(third.job_id)
    assert Layer.objects.get(slug="pts").feature_count == 15
    rollback(second.job_id)
    names = sorted(r[0] for r in rows("pts", "name"))
    assert names == sorted(f"点{i}" for i in range(10))
    rollback(first.job_id)  # the load that created the layer: the layer goes
    assert not Layer.objects.filter(slug="pts").exists()
    assert IngestJob.objects.get(pk=first.job_id).status == IngestJob.Status.ROLLED_BACK


def test_replace_sheet_replaces_exactly_that_sheet(tmp_path):
    # Two 1:500 sheets side by side (250 m squares in GK CM 87E), points in each.
    def pts(e0, n0, count, label):
        xy = np.column_stack([np.linspace(e0 + 20, e0 + 230, count), np.full(count, n0 + 100.0)])
        return write_points(tmp_path / f"{label}.gpkg", xy, {"name": np.array([label] * count, dtype=object)}, crs="EPSG:4538")

    load(pts(429250, 4622000, 4, "a1"), layer="sheets", title_zh="x", sheet="4622.00-429.25", scale=500)
    load(pts(429500, 4622000, 3, "b1"), layer="sheets", mode="append", sheet="4622.00-429.50", scale=500)
    report = load(pts(429250, 4622000, 6, "a2"), layer="sheets", mode="replace-sheet", sheet="4622.00-429.25", scale=500)
    assert sorted(_grouped("sheets")) == [("a2", 6), ("b1", 3)]
    assert report.results[0]["replaced"] == 4
    lon, lat = GK87.transform(429250, 4622000, direction="INVERSE")
    box = report.results[0]["changed_extent"]
    assert box[0] >= lon - 1e-6 and box[2] < lon + 0.003  # only the first sheet's area changed


def _grouped(slug):
    with connection.cursor() as cur:
        cur.execute(f'SELECT name, count(*) FROM data."{storage.table_for_slug(slug)}" GROUP BY name')
        return cur.fetchall()


def test_missing_crs_is_refused_unless_prefixed_eastings_prove_the_zone(tmp_path):
    e, n = GK87.transform(*KORLA)
    short = write_points(tmp_path / "short.gpkg", np.array([[e, n], [e + 10, n + 10]]), {"k": np.array([1, 2])}, crs=None)
    with pytest.raises(InvalidInput, match="no coordinate system.*--srs"):
        load(short, layer="nocrs", title_zh="x")
    prefixed = write_points(tmp_path / "prefixed.gpkg", np.array([[29e6 + e, n], [29e6 + e + 10, n + 10]]),
                            {"k": np.array([1, 2])}, crs=None)
    report = load(prefixed, layer="nocrs", title_zh="x")
    assert "assumed" in report.sources[0]["crs"] and "4517" in report.sources[0]["crs"]
    lon, lat = rows("nocrs", "ST_X(ST_GeometryN(geom, 1)), ST_Y(ST_GeometryN(geom, 1))")[0]
    assert lon == pytest.approx(KORLA[0], abs=1e-6) and lat == pytest.approx(KORLA[1], abs=1e-6)
    load(short, layer="nocrs-srs", title_zh="x", srs="EPSG:4538")
    assert Layer.objects.get(slug="nocrs-srs").native_srid == 4538


def test_dry_run_loads_nothing(tmp_path):
    report = load(SAMPLE / "places.geojson", layer="dry", title_zh="x", dry_run=True)
    assert report.loaded == 14 and not Layer.objects.filter(slug="dry").exists()


def test_existing_layer_needs_a_mode_and_missing_layer_needs_create(layers):
    with pytest.raises(Conflict):
        load(SAMPLE / "lakes.geojson", layer=layers["public"].slug)
    with pytest.raises(InvalidInput, match="does not exist"):
        load(SAMPLE / "lakes.geojson", layer="nope", mode="append")
    with pytest.raises(InvalidInput, match="department"):
        load(SAMPLE / "lakes.geojson", layer="a1", department="nope")


def test_unreadable_file_is_refused(tmp_path):
    path = tmp_path / "broken.geojson"
    path.write_text("{not json")
    with pytest.raises(InvalidInput, match="broken.geojson"):
        load(path, layer="broken", title_zh="x")


def test_sheet_currency_reports_each_sheet_with_its_survey_date(tmp_path):
    from datetime import date

    from ingest.pipeline import sheet_currency

    def sheet_file(e0, label):
        xy = np.array([[e0 + 50, 4622100.0], [e0 + 150, 4622100.0]])
        return write_points(tmp_path / f"{label}.gpkg", xy, {"name": np.array([label] * 2, dtype=object)}, crs="EPSG:4538")

    load(sheet_file(429250, "a"), layer="currency", title_zh="x", sheet="4622.00-429.25", survey_date=date(2021, 5, 1),
         source="巴州测绘院")
    load(sheet_file(429500, "b"), layer="currency", mode="append", sheet="4622.00-429.50", survey_date=date(2024, 6, 1))
    rows = {r["sheet"]: r for r in sheet_currency("currency")}
    assert rows["4622.00-429.25"]["survey_date"] == "2021-05-01" and rows["4622.00-429.25"]["source"] == "巴州测绘院"
    assert rows["4622.00-429.50"]["survey_date"] == "2024-06-01" and rows["4622.00-429.50"]["features"] == 2


@pytest.mark.parametrize("epsg, datum", [(2374, "Xi'an 1980"), (2426, "Beijing 1954")])
def test_legacy_datums_need_explicit_parameters_and_are_never_shifted_silently(tmp_path, epsg, datum):
    e, n = GK87.transform(*KORLA)
    path = write_points(tmp_path / f"legacy{epsg}.gpkg", np.array([[e, n]]), {"k": np.array([1])}, crs=f"EPSG:{epsg}")
    with pytest.raises(InvalidInput, match="towgs84"):
        load(path, layer=f"legacy-{epsg}", title_zh="x")
    assert not Layer.objects.filter(slug=f"legacy-{epsg}").exists()
    # With (invented, illustrative) shift parameters the load goes through and the shift shows.
    load(path, layer=f"legacy-{epsg}", title_zh="x", towgs84="-100,-60,-20")
    lon, lat = rows(f"legacy-{epsg}", "ST_X(ST_GeometryN(geom, 1)), ST_Y(ST_GeometryN(geom, 1))")[0]
    assert Layer.objects.get(slug=f"legacy-{epsg}").native_srid == epsg
    moved_m = ((lon - KORLA[0]) * 83_000) ** 2 + ((lat - KORLA[1]) * 111_000) ** 2
    assert 10 < moved_m ** 0.5 < 5_000  # shifted by the datum change, not left in place
