"""Each input format through the real pipeline into PostGIS, on tiny files written here."""

import shutil
import zipfile

import numpy as np
import pyogrio.raw
import pytest
import shapely

from layers.errors import InvalidInput
from layers.models import Layer

from ..conftest import ROOT
from .conftest import GK87, KORLA, load, write_points

GBK = ROOT / "sample_data" / "gbk_shapefile"


def names_in(slug, column):
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute(f'SELECT "{column}" FROM data."layer_{slug.replace("-", "_")}" ORDER BY fid')
        return [r[0] for r in cur.fetchall()]


def test_gbk_shapefile_without_cpg_keeps_chinese_names_and_values():
    report = load(GBK / "korla_buildings_gbk.shp", layer="gbk", title_zh="房屋")
    source = report.sources[0]
    assert source["encoding"] == "GB18030" and "no .cpg" in source["encoding_note"]
    assert "EPSG:4538" in source["crs"]
    assert {f["name"] for f in source["fields"]} >= {"名称", "结构", "层数"}
    assert any("库尔勒" in n for n in names_in("gbk", "名称"))
    layer = Layer.objects.get(slug="gbk")
    assert layer.native_srid == 4538 and layer.feature_count == 40


def test_chinese_file_name_and_cpg_override(tmp_path):
    for f in GBK.glob("库尔勒房屋.*"):
        shutil.copy(f, tmp_path / f.name)
    (tmp_path / "库尔勒房屋.cpg").write_text("936")
    report = load(tmp_path / "库尔勒房屋.shp", layer="cn-name", title_zh="房屋")
    assert report.sources[0]["source"] == "库尔勒房屋"
    assert report.sources[0]["encoding"] in {"GBK", "CP936", "GB18030"}
    with pytest.raises(InvalidInput):
        load(tmp_path / "库尔勒房屋.shp", layer="cn-name-2", title_zh="x", encoding="no-such-codec")


def test_zip_with_several_shapefiles_fans_out(tmp_path):
    archive = tmp_path / "交付.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in GBK.iterdir():
            zf.write(f, f"成果/{f.name}")
    report = load(archive, layer="delivery", title_zh="交付")
    slugs = sorted(r["layer"] for r in report.results)
    assert slugs == ["delivery-2", "delivery-korla_buildings_gbk"] or slugs == ["delivery-1", "delivery-korla_buildings_gbk"]
    assert all(Layer.objects.get(slug=s).feature_count == 40 for s in slugs)


def test_zip_slip_is_refused(tmp_path):
    archive = tmp_path / "evil.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("../../evil.geojson", "{}")
    with pytest.raises(InvalidInput, match="unsafe member path"):
        load(archive, layer="evil", title_zh="x")
    assert not (tmp_path.parent / "evil.geojson").exists()


def test_geopackage_every_layer_or_one(tmp_path, korla_points):
    path = tmp_path / "two.gpkg"
    write_points(path, korla_points[:5], {"n": np.arange(5)}, layer="控制点")
    write_points(path, korla_points[5:12], {"n": np.arange(7)}, layer="poi", append=True)
    report = load(path, layer="gpkg-all", title_zh="x")
    assert sorted((r["layer"], r["loaded"]) for r in report.results) == [("gpkg-all-1", 5), ("gpkg-all-poi", 7)]
    load(path, layer="gpkg-one", title_zh="x", source_layer="poi")
    assert Layer.objects.get(slug="gpkg-one").feature_count == 7
    with pytest.raises(InvalidInput, match="no layer 'nope'"):
        load(path, layer="gpkg-none", title_zh="x", source_layer="nope")


def test_kml(tmp_path, korla_points):
    path = write_points(tmp_path / "景点.kml", korla_points[:4], {"Name": np.array(["铁门关", "孔雀河", "梨城", "博斯腾湖"], dtype=object)},
                        crs="EPSG:4326", driver="KML")
    load(path, layer="kml", title_zh="x")
    assert "孔雀河" in names_in("kml", "Name")


def test_filegdb_zipped(tmp_path, korla_points):
    gdb = tmp_path / "dlg.gdb"
    xy = np.column_stack(GK87.transform(korla_points[:6, 0], korla_points[:6, 1]))
    pyogrio.raw.write(gdb, shapely.to_wkb(shapely.buffer(shapely.points(xy), 5, quad_segs=2)), driver="OpenFileGDB",
                      layer="JMD", geometry_type="Polygon", crs="EPSG:4538",
                      field_data=[np.array(["房屋"] * 6, dtype=object)], fields=["名称"])
    archive = tmp_path / "dlg.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in gdb.iterdir():
            zf.write(f, f"dlg.gdb/{f.name}")
    report = load(archive, layer="fgdb", title_zh="x")
    assert report.loaded == 6 and "EPSG:4538" in report.sources[0]["crs"]


def test_csv_xy_needs_a_crs_or_srs(tmp_path):
    path = tmp_path / "poi.csv"
    path.write_text("名称,lon,lat,类别\n库尔勒火车站,86.1800,41.7630,交通\n孔雀河,86.1500,41.7300,景点\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="no coordinate system"):
        load(path, layer="csv", title_zh="x")
    load(path, layer="csv", title_zh="x", srs="EPSG:4490")
    assert names_in("csv", "名称") == ["库尔勒火车站", "孔雀河"]


def test_csv_wkt_in_prefixed_gauss_kruger(tmp_path):
    e, n = GK87.transform(*KORLA)
    path = tmp_path / "wkt.csv"
    path.write_text(f'id,wkt\n1,"POINT ({29e6 + e:.3f} {n:.3f})"\n2,"POINT ({29e6 + e + 5:.3f} {n + 5:.3f})"\n')
    report = load(path, layer="csv-wkt", title_zh="x")
    assert "assumed" in report.sources[0]["crs"]


def test_gbk_csv_needs_encoding(tmp_path):
    path = tmp_path / "gbk.csv"
    path.write_bytes("名称,lon,lat\n库尔勒,86.15,41.73\n".encode("gbk"))
    with pytest.raises(InvalidInput, match="encoding"):
        load(path, layer="gbk-csv", title_zh="x", srs="EPSG:4490")
    load(path, layer="gbk-csv", title_zh="x", srs="EPSG:4490", encoding="GBK")
    assert names_in("gbk-csv", "名称") == ["库尔勒"]
