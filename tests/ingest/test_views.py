"""The surveyors' upload page and job pages: permissions, queueing, the task, cancel, rollback."""

import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from ingest.models import IngestJob
from ingest.tasks import execute as run_queued_job
from layers.models import Department, Grant, Layer, Permission

from ..conftest import INTERNAL, ROOT

GBK = ROOT / "sample_data" / "gbk_shapefile"


def shapefile_zip(name="buildings.zip"):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for f in GBK.glob("korla_buildings_gbk.*"):
            zf.write(f, f.name)
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="application/zip")


def post_upload(client, **fields):
    data = {"mode": "create", "max_invalid": 0, "access": "internal", "files": shapefile_zip()} | fields
    return client.post("/ingest/upload/", data)


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def test_anonymous_is_sent_to_log_in(client):
    for url in ["/ingest/", "/ingest/upload/"]:
        response = client.get(url)
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_member_uploads_a_new_layer_and_the_queued_job_loads_it(client, users, media):
    client.force_login(users["member"])
    dept = Department.objects.get(code="zrzy")
    response = post_upload(client, layer="web-buildings", department=dept.pk, title="房屋（上传）")
    assert response.status_code == 302, response.content.decode()[:2000]
    job = IngestJob.objects.latest("id")
    assert response["Location"] == f"/ingest/jobs/{job.pk}/"
    assert job.status == IngestJob.Status.QUEUED and (media / job.upload_path).exists()
    run_queued_job(job.pk)  # what the worker does with the queued job
    job.refresh_from_db()
    assert job.status == IngestJob.Status.SUCCEEDED, job.message
    layer = Layer.objects.get(slug="web-buildings")
    assert layer.feature_count == 40 and layer.owner == dept and layer.access == "internal"
    page = client.get(f"/ingest/jobs/{job.pk}/").content.decode()
    assert "GB18030" in page and "EPSG:4538" in page
    status = client.get(f"/ingest/jobs/{job.pk}/status").json()
    assert status["finished"] and status["loaded"] == 40
    report = client.get(f"/ingest/jobs/{job.pk}/report.json")
    assert report.status_code == 200 and b'"loaded": 40' in b"".join(report.streaming_content)
    assert client.get(f"/ingest/jobs/{job.pk}/rejects.gpkg").status_code == 404  # nothing was rejected


def test_other_department_cannot_load_into_a_layer_it_may_only_view(client, users, media):
    client.force_login(users["other"])
    response = post_upload(client, layer=INTERNAL, mode="append")
    assert response.status_code == 200 and "layer" in response.context["form"].errors
    assert not IngestJob.objects.filter(layer_slug=INTERNAL, mode="append").exists()


def test_edit_grant_allows_loading(client, users, layers, media):
    Grant.objects.update_or_create(layer=layers["internal"], department=Department.objects.get(code="wlj"),
                                   defaults={"permission": Permission.EDIT})
    client.force_login(users["other"])
    # Polygons into a polygon layer of different fields: refused by the pipeline with a reason, not by permissions.
    response = post_upload(client, layer=INTERNAL, mode="append")
    assert response.status_code == 302


def test_new_layer_only_for_own_department(client, users, media):
    client.force_login(users["other"])
    response = post_upload(client, layer="not-mine", department=Department.objects.get(code="zrzy").pk, title="x")
    assert response.status_code == 200 and not IngestJob.objects.filter(layer_slug="not-mine").exists()


def test_jobs_are_private_to_their_users_and_editors(client, users, media):
    client.force_login(users["member"])
    post_upload(client, layer="web-private", department=Department.objects.get(code="zrzy").pk, title="x")
    job = IngestJob.objects.latest("id")
    client.force_login(users["other"])
    assert client.get(f"/ingest/jobs/{job.pk}/").status_code == 404
    assert client.get(f"/ingest/jobs/{job.pk}/status").status_code == 404
    assert client.post(f"/ingest/jobs/{job.pk}/cancel").status_code == 404
    assert client.get(f"/ingest/jobs/{job.pk}/report.json").status_code == 404


def test_cancel_before_start_and_rollback_after(client, users, media):
    client.force_login(users["member"])
    zrzy = Department.objects.get(code="zrzy").pk
    post_upload(client, layer="web-cancel", department=zrzy, title="x")
    job = IngestJob.objects.latest("id")
    client.post(f"/ingest/jobs/{job.pk}/cancel")
    run_queued_job(job.pk)
    job.refresh_from_db()
    assert job.status == IngestJob.Status.CANCELLED and not Layer.objects.filter(slug="web-cancel").exists()

    post_upload(client, layer="web-rollback", department=zrzy, title="x")
    job = IngestJob.objects.latest("id")
    run_queued_job(job.pk)
    assert Layer.objects.filter(slug="web-rollback").exists()
    client.post(f"/ingest/jobs/{job.pk}/rollback")
    job.refresh_from_db()
    assert job.status == IngestJob.Status.ROLLED_BACK and not Layer.objects.filter(slug="web-rollback").exists()
