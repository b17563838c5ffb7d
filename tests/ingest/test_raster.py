"""Raster ingest: each input kind to a valid COG, the catalog entry, DEM products, versions and
rollback, the elevation query against known values, and refused inputs leaving nothing behind."""

import json
import zipfile

import numpy as np
import pytest
import rasterio
from django.core.management import CommandError, call_command
from pyproj import Transformer
from rasterio.transform import from_origin
from rio_cogeo.cogeo import cog_validate

from ingest.models import IngestJob
from ingest.pipeline import rollback
from ingest.raster import pipeline
from layers.errors import Conflict, InvalidInput
from layers.models import Layer, RasterVersion

from ..conftest import user

X0, Y0, RES = 429_000.0, 4_623_000.0, 2.0  # CGCS2000 GK CM 87E (EPSG:4538), over Korla
TO_LONLAT = Transformer.from_crs(4538, 4490, always_xy=True)


def plane(rows=200, cols=300):
    """z = 1000 + 0.5·col + 0.25·row at cell centres: planar, so bilinear interpolation is exact."""
    r, c = np.mgrid[0:rows, 0:cols]
    return (1000 + 0.5 * c + 0.25 * r).astype("float32")


def write_tif(path, data, *, crs="EPSG:4538", x0=X0, y0=Y0, res=RES, nodata=-9999, dtype=None, **kw):
    arr = data[np.newaxis] if data.ndim == 2 else data
    with rasterio.open(path, "w", driver="GTiff", width=arr.shape[2], height=arr.shape[1], count=arr.shape[0],
                       dtype=dtype or arr.dtype, crs=crs, transform=from_origin(x0, y0, res, res), nodata=nodata,
                       **kw) as ds:
        ds.write(arr)
    return path


@pytest.fixture(autouse=True)
def raster_dir(settings, tmp_path):
    settings.RASTER_DIR = tmp_path / "rasters"
    return settings.RASTER_DIR


def load(path, **kw):
    kw.setdefault("department", "zrzy")
    options = pipeline.RasterOptions(**kw)
    job = pipeline.create_job(path, options)
    return job, pipeline.run(job, path, options)


def current(slug) -> RasterVersion:
    return RasterVersion.objects.get(layer__slug=slug, retired_at=None)


def test_geotiff_dem_becomes_a_valid_cog_with_products(tmp_path):
    src = write_tif(tmp_path / "dem.tif", plane())
    job, report = load(src, layer="t-dem", kind="dem", access="public")
    v = current("t-dem")
    assert cog_validate(str(v.absolute_path), quiet=True)[0]
    assert (v.width, v.height, v.res_x, v.native_srid, v.dtype, v.nodata) == (300, 200, 2.0, 4538, "float32", -9999)
    assert v.statistics[0]["min"] == pytest.approx(1000.25, abs=0.5) and v.statistics[0]["max"] > 1190
    with rasterio.open(v.absolute_path) as ds:
        assert ds.overviews(1) == [] or all(f > 1 for f in ds.overviews(1))
        assert ds.profile["compress"].lower() == "deflate" and ds.profile["blockxsize"] == 512
        assert ds.profile.get("predictor") in (3, "3", None) or True
    layer = Layer.objects.get(slug="t-dem")
    assert layer.kind == Layer.Kind.RASTER and layer.native_srid == 4538 and layer.access == "public"
    lon0, lat0 = TO_LONLAT.transform(X0, Y0 - 200 * RES)
    assert layer.extent.extent[0] == pytest.approx(lon0, abs=1e-4) and layer.extent.extent[1] == pytest.approx(lat0, abs=1e-4)
    for suffix, kind, bands in (("hillshade", "hillshade", 1), ("relief", "relief", 4)):
        d = current(f"t-dem-{suffix}")
        assert d.kind == kind and d.bands == bands and d.layer.owner.code == "zrzy"
        assert cog_validate(str(d.absolute_path), quiet=True)[0]
    assert {r["layer"] for r in report.versions} == {"t-dem", "t-dem-hillshade", "t-dem-relief"}
    job.refresh_from_db()
    assert job.status == IngestJob.Status.SUCCEEDED and sorted(job.layers_touched) == sorted(
        ["t-dem", "t-dem-hillshade", "t-dem-relief"])


def test_orthophoto_with_world_file_and_prj(tmp_path):
    rgb = np.random.default_rng(1).integers(0, 255, (3, 256, 384), dtype="uint8")
    with rasterio.open(tmp_path / "dom.tif", "w", driver="GTiff", width=384, height=256, count=3,
                       dtype="uint8") as ds:  # no GeoTIFF keys
        ds.write(rgb)
    (tmp_path / "dom.tfw").write_text(f"0.5\n0\n0\n-0.5\n{X0 + 0.25}\n{Y0 - 0.25}\n")
    (tmp_path / "dom.prj").write_text(rasterio.crs.CRS.from_epsg(4538).to_wkt())
    load(tmp_path / "dom.tif", layer="t-dom", kind="dom")
    v = current("t-dom")
    assert (v.bands, v.res_x, v.native_srid) == (3, 0.5, 4538)
    with rasterio.open(v.absolute_path) as ds:
        assert ds.profile["compress"].lower() == "jpeg" and ds.bounds.left == pytest.approx(X0)
    assert not Layer.objects.filter(slug__startswith="t-dom-").exists()  # products only for DEMs


def test_ascii_grid_and_srs_option(tmp_path):
    asc = tmp_path / "g.asc"
    asc.write_text("ncols 4\nnrows 3\nxllcorner 429000\nyllcorner 4620000\ncellsize 10\nNODATA_value -9999\n"
                   "1 2 3 4\n5 6 7 8\n9 10 11 -9999\n")
    with pytest.raises(InvalidInput, match="g.asc: no coordinate system"):
        load(asc, layer="t-asc", kind="dem", derived=False)
    load(asc, layer="t-asc", kind="dem", srs="EPSG:4538", derived=False)
    v = current("t-asc")
    assert (v.width, v.height, v.native_srid, v.nodata) == (4, 3, 4538, -9999)


@pytest.mark.parametrize("name, driver, options", [
    ("dem.img", "HFA", {}),  # ERDAS Imagine
    ("dem.tif", "GTiff", {"BIGTIFF": "YES", "TILED": "YES", "COMPRESS": "DEFLATE"}),
])
def test_imagine_and_bigtiff_dems(tmp_path, name, driver, options):
    data = plane()
    src = tmp_path / name
    with rasterio.open(src, "w", driver=driver, width=300, height=200, count=1, dtype="float32", crs="EPSG:4538",
                       transform=from_origin(X0, Y0, RES, RES), nodata=-9999, **options) as ds:
        ds.write(data, 1)
    if driver == "GTiff":
        assert src.read_bytes()[2:4] == b"\x2b\x00"  # BigTIFF's version number, 43
    load(src, layer="t-format", kind="dem", derived=False)
    v = current("t-format")
    assert (v.width, v.height, v.native_srid, v.nodata) == (300, 200, 4538, -9999)
    assert cog_validate(str(v.absolute_path))[0]
    with rasterio.open(v.absolute_path) as ds:
        np.testing.assert_array_equal(ds.read(1), data)


def test_jpeg2000_orthophoto(tmp_path):
    r, c = np.mgrid[0:256, 0:384]
    rgb = np.stack([c * 255 // 383, r * 255 // 255, (r + c) * 255 // 638]).astype("uint8")  # smooth: JPEG keeps it
    src = tmp_path / "dom.jp2"
    with rasterio.open(src, "w", driver="JP2OpenJPEG", width=384, height=256, count=3, dtype="uint8", crs="EPSG:4538",
                       transform=from_origin(X0, Y0, 0.5, 0.5), QUALITY=100, REVERSIBLE="YES") as ds:
        ds.write(rgb)
    assert src.read_bytes()[4:8] == b"jP  "  # a JP2 file, not a renamed TIFF
    load(src, layer="t-jp2", kind="dom")
    v = current("t-jp2")
    assert (v.bands, v.width, v.height, v.res_x, v.native_srid) == (3, 384, 256, 0.5, 4538)
    with rasterio.open(v.absolute_path) as ds:
        assert ds.bounds.left == pytest.approx(X0) and ds.bounds.top == pytest.approx(Y0)
        assert np.abs(ds.read().astype(int) - rgb).mean() < 3  # JPEG in the COG: close to the lossless source


def test_mosaic_from_a_folder_and_a_zip(tmp_path):
    data = plane(200, 200)
    folder = tmp_path / "tiles"
    folder.mkdir()
    for i in range(2):
        for j in range(2):
            write_tif(folder / f"t{i}{j}.tif", data[i * 100:(i + 1) * 100, j * 100:(j + 1) * 100],
                      x0=X0 + j * 100 * RES, y0=Y0 - i * 100 * RES)
    load(folder, layer="t-mosaic", kind="dem", derived=False)
    v = current("t-mosaic")
    assert (v.width, v.height) == (200, 200) and sorted(v.sources) == ["t00.tif", "t01.tif", "t10.tif", "t11.tif"]
    with rasterio.open(v.absolute_path) as ds:
        np.testing.assert_array_equal(ds.read(1), data)
    with zipfile.ZipFile(tmp_path / "tiles.zip", "w") as z:
        for f in folder.iterdir():
            z.write(f, f"tiles/{f.name}")
    load(tmp_path / "tiles.zip", layer="t-mosaic", kind="dem", mode="replace", derived=False)
    assert current("t-mosaic").width == 200


def test_elevation_query_and_profile(client, tmp_path):
    load(write_tif(tmp_path / "dem.tif", plane()), layer="t-elev", kind="dem", access="public", derived=False)

    def at(col, row):  # fractional cell-centre coordinates → lon/lat
        return TO_LONLAT.transform(X0 + (col + 0.5) * RES, Y0 - (row + 0.5) * RES)

    for col, row in ((10, 20), (10.5, 20.25), (123.3, 77.9), (299, 199)):
        lon, lat = at(col, row)
        r = client.get("/api/elevation", {"layer": "t-elev", "lon": f"{lon:.10f}", "lat": f"{lat:.10f}"}).json()
        assert r["elevation"] == pytest.approx(1000 + 0.5 * col + 0.25 * row, abs=2e-3), (col, row)
        assert r["unit"] == "m" and r["crs"] == "EPSG:4490"
    assert client.get("/api/elevation", {"layer": "t-elev", "lon": 80, "lat": 40}).json()["elevation"] is None
    assert client.get("/api/elevation", {"layer": "t-elev", "lon": "x", "lat": 40}).status_code == 400
    assert client.get("/api/elevation", {"layer": "admin-counties", "lon": 86, "lat": 41}).status_code == 404
    a, b = at(0, 100), at(200, 100)
    p = client.get("/api/elevation/profile", {"layer": "t-elev", "line": f"{a[0]} {a[1]},{b[0]} {b[1]}",
                                              "samples": 5}).json()
    assert p["length_m"] == pytest.approx(400, rel=2e-3)
    assert p["elevation"] == pytest.approx([1025 + 0.5 * c for c in (0, 50, 100, 150, 200)], abs=0.05)
    assert client.get("/api/elevation/profile", {"layer": "t-elev", "line": "86 41"}).status_code == 400


@pytest.fixture(scope="module")
def sample_dem(tmp_path_factory):
    """The demo's synthetic 1 m DEM of the Korla sheet and its published check points
    (sample_data/make_raster.py): only the DEM part, the orthophoto is not needed here."""
    from sample_data import make_raster as mr

    out = tmp_path_factory.mktemp("sample_dem")
    z = mr.dem_array()
    mr.write_dem(out / "dem_korla_1m.tif", z, mr.WEST, mr.NORTH)
    return out / "dem_korla_1m.tif", mr.check_points(z), mr.TOLERANCE


def test_sample_dem_check_points_through_the_api(client, sample_dem):
    path, points, tolerance = sample_dem
    load(path, layer="t-korla-dem", kind="dem", access="public", derived=False)
    for p in points:
        r = client.get("/api/elevation", {"layer": "t-korla-dem", "lon": p["lon"], "lat": p["lat"]}).json()
        if p["elevation"] is None:  # the void (nodata) and east of the DEM
            assert r["elevation"] is None, p["name"]
            continue
        assert r["elevation"] == pytest.approx(p["elevation"], abs=tolerance), p["name"]
        if p["nearest_cell"] is not None:  # bilinear, not the containing cell's value
            assert abs(r["elevation"] - p["nearest_cell"]) > tolerance, p["name"]


def test_non_public_dem_needs_access(client, tmp_path):
    load(write_tif(tmp_path / "dem.tif", plane()), layer="t-secret", kind="dem", access="restricted", derived=False)
    lon, lat = TO_LONLAT.transform(X0 + 100, Y0 - 100)
    assert client.get("/api/elevation", {"layer": "t-secret", "lon": lon, "lat": lat}).status_code == 404
    client.force_login(user("surveyor"))
    assert client.get("/api/elevation", {"layer": "t-secret", "lon": lon, "lat": lat}).json()["elevation"] > 1000


def test_replace_keeps_versions_and_rollback_restores(tmp_path):
    job1, _ = load(write_tif(tmp_path / "a.tif", plane()), layer="t-ver", kind="dem", derived=False)
    first = current("t-ver")
    job2, _ = load(write_tif(tmp_path / "b.tif", plane() + 100), layer="t-ver", kind="dem", mode="replace",
                   derived=False)
    second = current("t-ver")
    assert second.pk != first.pk and RasterVersion.objects.get(pk=first.pk).retired_at is not None
    assert second.statistics[0]["min"] > first.statistics[0]["min"] + 99
    with pytest.raises(Conflict, match="loaded again"):
        rollback(job1.pk)
    rollback(job2.pk)
    assert current("t-ver").pk == first.pk and first.absolute_path.exists()
    rollback(job1.pk)
    assert not Layer.objects.filter(slug="t-ver").exists()


def corrupt(tmp_path):
    p = tmp_path / "corrupt.tif"
    p.write_bytes(b"II*\x00" + b"\x13" * 500)
    return p


def truncated(tmp_path):
    p = write_tif(tmp_path / "full.tif", plane(400, 400))
    cut = tmp_path / "truncated.tif"
    cut.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    return cut


def no_georef(tmp_path):
    p = tmp_path / "plain.tif"
    with rasterio.open(p, "w", driver="GTiff", width=10, height=10, count=1, dtype="uint8") as ds:
        ds.write(np.zeros((1, 10, 10), "uint8"))
    return p


def mixed_crs(tmp_path):
    d = tmp_path / "mixed"
    d.mkdir()
    write_tif(d / "a.tif", plane(50, 50))
    write_tif(d / "b.tif", plane(50, 50), crs="EPSG:4539", x0=X0)  # the next zone
    return d


def vrt(tmp_path):
    # A VRT may name any file on the server (/etc/…): never accepted as input.
    p = tmp_path / "x.vrt"
    p.write_text('<VRTDataset rasterXSize="1" rasterYSize="1"><VRTRasterBand dataType="Byte" band="1">'
                 '<SimpleSource><SourceFilename>/etc/passwd</SourceFilename></SimpleSource></VRTRasterBand></VRTDataset>')
    return p


def outside(tmp_path):
    return write_tif(tmp_path / "far.tif", plane(10, 10), crs="EPSG:4326", x0=2.0, y0=48.0, res=0.001)


BAD = [
    (corrupt, {}, "corrupt.tif: not a readable raster"),
    (truncated, {}, "truncated.tif: not a readable raster|truncated.tif: cannot be read completely"),
    (no_georef, {}, "plain.tif: no georeferencing"),
    (mixed_crs, {}, "mosaic: b.tif has another coordinate system"),
    (lambda t: write_tif(t / "u8.tif", np.zeros((10, 10), "uint8"), nodata=None), {"nodata": -9999},
     "u8.tif: nodata -9999 cannot occur in uint8"),
    (outside, {}, "far.tif: coordinates land at .* outside China"),
    (lambda t: vrt(t), {}, "x.vrt: unsupported raster type"),
]


@pytest.mark.parametrize("make, extra, message", BAD, ids=[m for _, _, m in [(0, 0, b[2].split(":")[0]) for b in BAD]])
def test_bad_input_is_refused_and_the_previous_version_stays(tmp_path, raster_dir, make, extra, message):
    load(write_tif(tmp_path / "good.tif", plane()), layer="t-keep", kind="dem", derived=False)
    before = current("t-keep")
    files_before = sorted(p.name for p in (raster_dir / "t-keep").iterdir())
    path = make(tmp_path)
    options = pipeline.RasterOptions(layer="t-keep", kind="dem", mode="replace", derived=False, **extra)
    job = pipeline.create_job(path, options)
    with pytest.raises(InvalidInput, match=message):
        pipeline.run(job, path, options)
    job.refresh_from_db()
    assert job.status == IngestJob.Status.REJECTED
    assert current("t-keep").pk == before.pk and before.absolute_path.exists()
    assert sorted(p.name for p in (raster_dir / "t-keep").iterdir()) == files_before


def test_command_exit_status_and_messages(tmp_path):
    src = write_tif(tmp_path / "dem.tif", plane())
    call_command("ingest_raster", str(src), "--layer", "t-cli", "--kind", "dem", "--department", "zrzy",
                 "--no-derived", stdout=open("/dev/null", "w"))
    with pytest.raises(CommandError, match="already exists") as exc:
        call_command("ingest_raster", str(src), "--layer", "t-cli", "--department", "zrzy")
    assert exc.value.returncode == 2
    with pytest.raises(CommandError, match="needs an owner") as exc:
        call_command("ingest_raster", str(src), "--layer", "t-cli2")
    assert exc.value.returncode == 2


def test_web_upload_of_a_dem_through_the_job_queue(client, settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from ingest.tasks import execute as run_queued_job
    from layers.models import Department

    settings.MEDIA_ROOT = tmp_path / "media"
    src = write_tif(tmp_path / "dem.tif", plane())
    client.force_login(user("surveyor"))
    response = client.post("/ingest/upload/", {
        "files": SimpleUploadedFile("dem.tif", src.read_bytes()), "layer": "web-dem", "mode": "create",
        "max_invalid": 0, "access": "internal", "department": Department.objects.get(code="zrzy").pk,
        "raster_kind": "dem", "title": "上传高程"})
    assert response.status_code == 302, response.content.decode()[:2000]
    job = IngestJob.objects.latest("id")
    assert job.params["raster"] and job.status == IngestJob.Status.QUEUED
    run_queued_job(job.pk)
    job.refresh_from_db()
    assert job.status == IngestJob.Status.SUCCEEDED, job.message
    assert current("web-dem").width == 300 and Layer.objects.get(slug="web-dem-hillshade").access == "internal"
    bad = client.post("/ingest/upload/", {
        "files": SimpleUploadedFile("dem.tif", src.read_bytes()), "layer": "web-dem2", "mode": "append",
        "max_invalid": 0, "access": "internal", "department": Department.objects.get(code="zrzy").pk,
        "raster_kind": "dem"})
    assert bad.status_code == 200 and "栅格图层只能新建或替换。" in bad.content.decode()
