"""Web upload for surveyors: the file goes to shared storage, the load to the job queue;
the job page follows its progress and shows its report."""

from pathlib import Path

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.text import get_valid_filename
from django.views.decorators.http import require_GET, require_POST

from layers import access, audit
from layers.errors import PlatformError
from layers.models import Permission

from . import pipeline
from .forms import UploadForm
from .models import IngestJob
from .tasks import report_path, run_job


def _may_see(user, job: IngestJob) -> bool:
    if user.is_superuser or job.user_id == user.pk:
        return True
    slugs = set(job.layers_touched) | {job.layer_slug}
    return access.layers_for(user, Permission.EDIT).filter(slug__in=slugs).exists()


def _job_for(request, pk) -> IngestJob:
    job = get_object_or_404(IngestJob, pk=pk)
    if not _may_see(request.user, job):
        raise Http404("no such job")
    return job


@login_required
def upload(request):
    form = UploadForm(request.POST or None, request.FILES or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        options = pipeline.Options(
            layer=d["layer"], mode=d["mode"], srs=d["srs"] or None, encoding=d["encoding"] or None,
            sheet=d["sheet"] or None, access=d["access"], department=d["department"].code if d["department"] else None,
            max_invalid=d["max_invalid"], title_zh=d["title"] or None, survey_date=d["survey_date"],
            source=d["source"], scale=d["scale"],
        )
        files = d["files"]
        with transaction.atomic():
            if d.get("raster_kind"):
                from .raster import pipeline as raster_pipeline  # noqa: PLC0415 (rasterio only when needed)

                options = raster_pipeline.RasterOptions(
                    layer=d["layer"], kind=d["raster_kind"], mode=d["mode"], srs=d["srs"] or None,
                    nodata=d.get("nodata"), access=d["access"],
                    department=d["department"].code if d["department"] else None, title_zh=d["title"] or "",
                    survey_date=d["survey_date"], source=d["source"],
                )
                job = raster_pipeline.create_job(Path(files[0].name), options, request.user)
            else:
                job = pipeline.create_job(Path(files[0].name), options, request.user)
            folder = Path("uploads") / str(job.pk)
            target = Path(settings.MEDIA_ROOT) / folder
            target.mkdir(parents=True, exist_ok=True)
            for f in files:
                with open(target / get_valid_filename(Path(f.name).name), "wb") as out:
                    for chunk in f.chunks():
                        out.write(chunk)
            # One file is loaded as itself; several (a Shapefile's parts) as their folder.
            job.upload_path = str(folder / get_valid_filename(Path(files[0].name).name)) if len(files) == 1 else str(folder)
            job.source_name = ", ".join(Path(f.name).name for f in files)[:500]
            job.save(update_fields=["upload_path", "source_name"])
            audit.record(request.user, "ingest.upload", None, via="web", layer_slug=options.layer, job=job.pk,
                         files=[f.name for f in files])
            transaction.on_commit(lambda: run_job.defer(job_id=job.pk))
        return redirect("ingest-job", pk=job.pk)
    return render(request, "ingest/upload.html", {"form": form, "editable": form.editable})


@login_required
@require_GET
def job_list(request):
    jobs = [j for j in IngestJob.objects.select_related("user")[:200] if _may_see(request.user, j)][:50]
    return render(request, "ingest/jobs.html", {"jobs": jobs})


@login_required
@require_GET
def job_page(request, pk):
    job = _job_for(request, pk)
    return render(request, "ingest/job.html", {"job": job, "report": job.report, "rejects": job.report.get("rejects", [])[:200]})


@login_required
@require_GET
def job_status(request, pk):
    job = _job_for(request, pk)
    return JsonResponse({
        "id": job.pk, "status": job.status, "done": job.progress_done, "total": job.progress_total,
        "message": job.message, "loaded": job.report.get("loaded"), "rejected": job.report.get("rejected"),
        "finished": job.status in IngestJob.FINISHED,
    })


@login_required
@require_GET
def job_report(request, pk, kind):
    from django.http import FileResponse

    job = _job_for(request, pk)
    path = report_path(job)
    if kind == "rejects.gpkg":
        path = path.with_name(path.stem + ".rejects.gpkg")
    if not path.exists():
        raise Http404("no report file")
    return FileResponse(path.open("rb"), as_attachment=True, filename=f"job-{job.pk}-{path.name}")


@login_required
@require_POST
def job_cancel(request, pk):
    job = _job_for(request, pk)
    if job.status in (IngestJob.Status.QUEUED, IngestJob.Status.RUNNING):
        IngestJob.objects.filter(pk=job.pk).update(cancel_requested=True)
        audit.record(request.user, "ingest.cancel", None, via="web", layer_slug=job.layer_slug, job=job.pk)
    return redirect("ingest-job", pk=job.pk)


@login_required
@require_POST
def job_rollback(request, pk):
    job = _job_for(request, pk)
    editable = access.layers_for(request.user, Permission.EDIT).filter(slug__in=job.layers_touched)
    if editable.count() != len(job.layers_touched):
        raise PermissionDenied("rolling back needs the edit permission on every layer the load touched")
    try:
        pipeline.rollback(job.pk, user=request.user)
    except PlatformError as exc:
        return render(request, "ingest/job.html", {"job": job, "report": job.report, "error": str(exc),
                                                   "rejects": job.report.get("rejects", [])[:200]}, status=exc.http_status)
    return redirect("ingest-job", pk=job.pk)
