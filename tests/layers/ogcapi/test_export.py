"""Exports: download permission, every format read back by a real reader, CRS and encoding."""

import io
import json
import zipfile

import pyogrio
import pytest

from layers.models import AuditEntry

from ...conftest import INTERNAL, PUBLIC, RESTRICTED

# view, but download only with the grant (public: everyone downloads)
DOWNLOAD = {
    #            public internal restricted
    "anonymous": (200, 404, 404),
    "member": (200, 200, 200),
    "granted": (200, 403, 403),  # internal: may view, no download grant; restricted: view grant only
    "other": (200, 403, 404),
    "admin": (200, 200, 200),
}


@pytest.mark.parametrize("who", DOWNLOAD)
@pytest.mark.parametrize("level", ["public", "internal", "restricted"])
def test_export_permission_matrix(client, users, who, level):
    slug = {"public": PUBLIC, "internal": INTERNAL, "restricted": RESTRICTED}[level]
    if who != "anonymous":
        client.force_login(users[who])
    response = client.get(f"/ogcapi/collections/{slug}/export", {"format": "geojson"})
    assert response.status_code == DOWNLOAD[who][["public", "internal", "restricted"].index(level)]


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_geojson_csv_and_kml_stream_the_query_result(client, tmp_path):
    params = {"filter": "population > 5000"}
    fc = json.loads(body(client.get("/ogcapi/collections/places/export", params | {"format": "geojson"})))
    names = sorted(f["properties"]["name"] for f in fc["features"])
    assert len(names) == 5 and "Korla" in names
    text = body(client.get("/ogcapi/collections/places/export", params | {"format": "csv"})).decode("utf-8-sig")
    lines = text.strip().splitlines()
    assert lines[0].endswith(",wkt") and len(lines) == 6 and "MULTIPOINT" in lines[1]
    kml_path = tmp_path / "p.kml"
    kml_path.write_bytes(body(client.get("/ogcapi/collections/places/export", params | {"format": "kml"})))
    assert pyogrio.read_info(kml_path)["features"] == 5


def test_geopackage_in_a_gauss_kruger_crs(client, tmp_path):
    response = client.get("/ogcapi/collections/places/export", {"format": "gpkg", "crs": "EPSG:4538", "bbox": "85.9,41.6,86.4,41.9"})
    path = tmp_path / "p.gpkg"
    path.write_bytes(b"".join(response.streaming_content))
    info = pyogrio.read_info(path)
    assert info["features"] == 1 and info["crs"] == "EPSG:4538"
    _meta, _fids, geometry, _fields = pyogrio.raw.read(path)
    import shapely

    point = shapely.from_wkb(geometry[0]).geoms[0]
    assert 4_600_000 < point.y < 4_700_000 or 4_600_000 < point.x < 4_700_000


@pytest.mark.parametrize("encoding, codec", [("UTF-8", "utf-8"), ("GBK", "gbk")])
def test_zipped_shapefile_with_cpg(client, tmp_path, encoding, codec):
    response = client.get("/ogcapi/collections/admin-counties/export", {"format": "shp", "encoding": encoding})
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    names = archive.namelist()
    assert {n.rsplit(".", 1)[1] for n in names} >= {"shp", "shx", "dbf", "prj", "cpg"}
    dbf = archive.read(next(n for n in names if n.endswith(".dbf")))
    assert "库尔勒市".encode(codec) in dbf
    archive.extractall(tmp_path)
    shp = next(tmp_path.glob("*.shp"))
    assert pyogrio.read_info(shp)["features"] == 12


def test_bad_format_or_encoding_is_400(client):
    assert client.get("/ogcapi/collections/places/export", {"format": "dwg"}).status_code == 400
    assert client.get("/ogcapi/collections/places/export", {"format": "csv", "encoding": "GBK"}).status_code == 400
    assert client.get("/ogcapi/collections/places/export", {"limit": "5"}).status_code == 400


def test_exports_are_audited(client, users):
    # Other tests' servers commit audit entries of their own: look only at what this test adds.
    before = AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0
    client.force_login(users["member"])
    body(client.get(f"/ogcapi/collections/{RESTRICTED}/export", {"format": "csv"}))
    entry = AuditEntry.objects.get(action="ogcapi.export", id__gt=before)
    assert (entry.username, entry.layer_slug, entry.details["format"], entry.details["matched"]) == ("surveyor", RESTRICTED, "csv", 30)
