from django.conf import settings
from django.contrib.gis.db import models
from django.utils.translation import gettext_lazy as _


class IngestJob(models.Model):
    """One load: its parameters, progress, outcome and report. Rows it wrote carry its id."""

    class Mode(models.TextChoices):
        CREATE = "create", _("create")
        APPEND = "append", _("append")
        REPLACE = "replace", _("replace")
        REPLACE_SHEET = "replace-sheet", _("replace sheet")

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("running")
        SUCCEEDED = "succeeded", _("succeeded")
        REJECTED = "rejected", _("rejected")  # the input was refused; nothing loaded
        FAILED = "failed", _("failed")  # internal error or the worker died; nothing loaded
        CANCELLED = "cancelled", _("cancelled")
        ROLLED_BACK = "rolled-back", _("rolled back")

    FINISHED = {Status.SUCCEEDED, Status.REJECTED, Status.FAILED, Status.CANCELLED, Status.ROLLED_BACK}

    layer_slug = models.CharField(_("layer"), max_length=60, db_index=True)
    mode = models.CharField(_("mode"), max_length=16, choices=Mode.choices)
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.QUEUED, db_index=True)
    source_name = models.CharField(_("file"), max_length=500)
    params = models.JSONField(_("parameters"), default=dict)
    sheet = models.CharField(_("sheet"), max_length=60, blank=True)
    survey_date = models.DateField(_("survey date"), null=True, blank=True)
    source = models.CharField(_("source"), max_length=500, blank=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    started_at = models.DateTimeField(_("started"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    progress_done = models.BigIntegerField(default=0)
    progress_total = models.BigIntegerField(null=True, blank=True)
    cancel_requested = models.BooleanField(default=False)
    message = models.TextField(_("message"), blank=True)
    report = models.JSONField(_("report"), default=dict, blank=True)
    changed_extent = models.PolygonField(srid=4490, null=True, blank=True)
    layers_touched = models.JSONField(default=list, blank=True)  # slugs (a DXF sheet fans out)
    upload_path = models.CharField(max_length=1000, blank=True)  # web uploads, under MEDIA_ROOT

    class Meta:
        ordering = ["-id"]
        verbose_name = _("ingest job")
        verbose_name_plural = _("ingest jobs")

    def __str__(self):
        return f"#{self.pk} {self.mode} {self.layer_slug} ({self.status})"
