"""Change sets of points of interest (POIs), their items, and every version of every POI.

The current POIs are a plain PostGIS layer table (store.py) that the OGC API, tiles and the
thematic apps read like any other layer; these tables hold the workflow and the history.
"""

from django.conf import settings
from django.contrib.gis.db import models
from django.utils.translation import gettext_lazy as _


class Op(models.TextChoices):
    ADD = "add", _("add")
    UPDATE = "update", _("update")
    DELETE = "delete", _("delete")


class ChangeSet(models.Model):
    class Status(models.TextChoices):
        REVIEW = "review", _("in review")
        APPLIED = "applied", _("applied")
        REJECTED = "rejected", _("rejected")  # every item rejected; nothing to apply
        REVERTED = "reverted", _("reverted")

    class Kind(models.TextChoices):
        SUBMISSION = "submission", _("submission")
        REVERT = "revert", _("revert")  # written by `revert`: restores the versions before another set

    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices, default=Kind.SUBMISSION)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.REVIEW, db_index=True)
    layer_slug = models.CharField(_("layer"), max_length=60)
    source_name = models.CharField(_("file"), max_length=500, blank=True)
    origin_crs = models.CharField(_("coordinate system"), max_length=10, default="CGCS2000")
    note = models.TextField(_("note"), blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="poi_changesets", verbose_name=_("submitted by")
    )
    submitted_at = models.DateTimeField(_("submitted"), auto_now_add=True)
    applied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    applied_at = models.DateTimeField(_("applied"), null=True, blank=True)
    reverts = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="reverted_by")
    # Rows refused at validation ({row, reasons, message}), ignored columns, the offset check.
    report = models.JSONField(_("report"), default=dict, blank=True)
    offset_flag = models.JSONField(_("offset warning"), null=True, blank=True)
    offset_accepted = models.BooleanField(default=False)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("POI change set")
        verbose_name_plural = _("POI change sets")

    def __str__(self):
        return f"#{self.pk} {self.source_name or self.kind} ({self.status})"


class ChangeItem(models.Model):
    class Decision(models.TextChoices):
        PENDING = "pending", _("pending")
        APPROVED = "approved", _("approved")
        REJECTED = "rejected", _("rejected")
        MERGED = "merged", _("merged")  # folded into an existing POI or another item

    changeset = models.ForeignKey(ChangeSet, on_delete=models.CASCADE, related_name="items")
    row = models.PositiveIntegerField(_("row"))  # spreadsheet row (header = 1) or feature number
    op = models.CharField(_("operation"), max_length=8, choices=Op.choices)
    poi_id = models.CharField(_("POI id"), max_length=64, db_index=True)
    base_version = models.PositiveIntegerField(null=True, blank=True)  # the POI's version when submitted
    data = models.JSONField(default=dict)  # the proposed attributes (only the given ones for updates)
    lon = models.FloatField(null=True, blank=True)  # CGCS2000
    lat = models.FloatField(null=True, blank=True)
    orig_lon = models.FloatField(null=True, blank=True)  # as submitted, in the change set's origin CRS
    orig_lat = models.FloatField(null=True, blank=True)
    duplicates = models.JSONField(default=list, blank=True)  # candidates: existing POIs and earlier items
    decision = models.CharField(max_length=10, choices=Decision.choices, default=Decision.PENDING, db_index=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    comment = models.TextField(blank=True)
    merged_into = models.CharField(max_length=64, blank=True)  # a POI id

    class Meta:
        ordering = ["changeset", "row"]
        constraints = [models.UniqueConstraint(fields=["changeset", "row"], name="poi_item_row_unique")]

    def __str__(self):
        return f"{self.changeset_id}:{self.row} {self.op} {self.poi_id}"


class PoiVersion(models.Model):
    """One version of one POI, valid from `valid_from` until the next version's. A deletion is a
    version too (deleted=True), so "the state as of T" is one indexed lookup per POI."""

    poi_id = models.CharField(max_length=64)
    version = models.PositiveIntegerField()
    changeset = models.ForeignKey(ChangeSet, on_delete=models.PROTECT, related_name="versions")
    op = models.CharField(max_length=8, choices=Op.choices)
    deleted = models.BooleanField(default=False)
    data = models.JSONField(default=dict)  # every attribute after the change
    geom = models.PointField(srid=4490, null=True)
    valid_from = models.DateTimeField()
    valid_to = models.DateTimeField(null=True, blank=True)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["poi_id", "version"]
        constraints = [models.UniqueConstraint(fields=["poi_id", "version"], name="poi_version_unique")]
        indexes = [models.Index(fields=["poi_id", "valid_from"]), models.Index(fields=["changeset"])]
