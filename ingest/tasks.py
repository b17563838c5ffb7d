"""Background ingest jobs, queued in PostgreSQL (procrastinate): a worker on any machine that
reaches the database and the shared MEDIA_ROOT can run them; queued jobs wait out restarts."""

import logging
from pathlib import Path

from django.conf import settings
from django.db import close_old_connections
from procrastinate.contrib.django import app

from layers.errors import PlatformError

from . import pipeline
from .models import IngestJob

log = logging.getLogger(__name__)


@app.task(queue="ingest", name="ingest.run_job")
def run_job(job_id: int) -> None:
    close_old_connections()  # worker threads outlive connections: start fresh
    try:
        execute(job_id)
    finally:
        close_old_connections()


def execute(job_id: int) -> None:
    """Run a queued upload's load; its outcome is recorded on the job."""
    pipeline.recover_stale_jobs()
    job = IngestJob.objects.filter(pk=job_id, status=IngestJob.Status.QUEUED).first()
    if job is None:
        return  # cancelled before it started, or already handled
    if job.cancel_requested:
        IngestJob.objects.filter(pk=job_id).update(status=IngestJob.Status.CANCELLED, message="cancelled before it started")
        return
    if job.params.get("raster"):
        from .raster import pipeline as raster_pipeline  # noqa: PLC0415 (rasterio only when needed)

        try:
            raster_pipeline.run(job, Path(settings.MEDIA_ROOT) / job.upload_path,
                                raster_pipeline.RasterOptions.from_params(job.params))
        except PlatformError as exc:
            log.info("raster job %s ended: %s", job_id, exc)  # recorded on the job
        return
    try:
        report = pipeline.run(job, Path(settings.MEDIA_ROOT) / job.upload_path)
    except PlatformError as exc:
        log.info("ingest job %s ended: %s", job_id, exc)  # recorded on the job and its report
        report = getattr(exc, "report", None)
    if report is not None:
        # Beside the upload, for download from the job page: JSON plus the rejects as GeoPackage.
        report.write(report_path(job))


def report_path(job: IngestJob) -> Path:
    return Path(settings.MEDIA_ROOT) / "uploads" / str(job.pk) / "report.json"
