"""The layer catalog: departments, layers, grants, API tokens and the audit log.

Vector data itself lives in one plain PostGIS table per layer (see storage.py);
these models only describe and govern it.
"""

from django.conf import settings
from django.contrib.gis.db import models
from django.contrib.postgres.fields import ArrayField
from django.core.validators import RegexValidator
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _


class Department(models.Model):
    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name (Chinese)"), max_length=100)
    name_en = models.CharField(_("name (English)"), max_length=200, blank=True)
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="departments", blank=True, verbose_name=_("members")
    )

    class Meta:
        ordering = ["code"]
        verbose_name = _("department")
        verbose_name_plural = _("departments")

    def __str__(self):
        return f"{self.name} ({self.code})"


class Access(models.TextChoices):
    """Secrecy level of a layer. Anonymous visitors only ever see PUBLIC."""

    PUBLIC = "public", _("public")
    INTERNAL = "internal", _("internal")  # every department member may view
    RESTRICTED = "restricted", _("restricted")  # only the owner and departments granted it


class Permission(models.IntegerChoices):
    """Ordered: each grant level implies the ones below it."""

    VIEW = 1, _("view")
    DOWNLOAD = 2, _("download")
    EDIT = 3, _("edit")
    MANAGE = 4, _("manage")


class Layer(models.Model):
    class Kind(models.TextChoices):
        VECTOR = "vector", _("vector")
        RASTER = "raster", _("raster")

    class GeometryType(models.TextChoices):
        POINT = "MultiPoint", _("point")
        LINE = "MultiLineString", _("line")
        POLYGON = "MultiPolygon", _("polygon")
        NONE = "", _("none / raster")

    slug = models.SlugField(
        _("slug"),
        max_length=60,
        unique=True,
        validators=[RegexValidator(r"^[a-z][a-z0-9-]*$", _("Lower-case letters, digits and hyphens, starting with a letter."))],
    )
    title_zh = models.CharField(_("title (Chinese)"), max_length=200)
    title_en = models.CharField(_("title (English)"), max_length=200, blank=True)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.VECTOR)
    geometry_type = models.CharField(_("geometry type"), max_length=20, choices=GeometryType.choices, blank=True)
    table_name = models.CharField(_("storage table"), max_length=63, unique=True, null=True, blank=True)
    native_srid = models.PositiveIntegerField(_("native CRS (EPSG)"), null=True, blank=True)
    storage_srid = models.PositiveIntegerField(_("storage CRS (EPSG)"), default=4490)
    extent = models.PolygonField(_("extent"), srid=4490, null=True, blank=True)
    feature_count = models.BigIntegerField(_("feature count"), default=0)
    source = models.CharField(_("source"), max_length=500, blank=True)
    scale_denominator = models.PositiveIntegerField(_("scale 1:N"), null=True, blank=True)
    survey_date = models.DateField(_("survey date"), null=True, blank=True)
    access = models.CharField(_("access level"), max_length=12, choices=Access.choices, default=Access.INTERNAL)
    owner = models.ForeignKey(
        Department, on_delete=models.PROTECT, related_name="layers", verbose_name=_("owner department")
    )
    abstract = models.TextField(_("abstract"), blank=True)
    keywords = ArrayField(models.CharField(max_length=50), default=list, blank=True, verbose_name=_("keywords"))
    licence = models.CharField(_("licence"), max_length=300, blank=True)
    attribution = models.CharField(_("attribution"), max_length=500, blank=True)
    contact = models.CharField(_("contact"), max_length=300, blank=True)
    data_version = models.PositiveIntegerField(_("data version"), default=1)  # bumps on every data change
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["slug"]
        verbose_name = _("layer")
        verbose_name_plural = _("layers")

    def __str__(self):
        return self.slug

    @property
    def title(self) -> str:
        """The title in the active language, falling back to Chinese."""
        if (get_language() or "").startswith("en") and self.title_en:
            return self.title_en
        return self.title_zh

    @property
    def raster_product(self) -> str:
        """The product of a raster layer's current version (dom, dem, drg, hillshade, relief)."""
        if self.kind != self.Kind.RASTER:
            return ""
        version = self.raster_versions.filter(retired_at=None).order_by("-id").first()
        return version.kind if version else ""

    @property
    def scale_label(self) -> str:
        return f"1:{self.scale_denominator}" if self.scale_denominator else ""


class Grant(models.Model):
    department = models.ForeignKey(Department, on_delete=models.CASCADE, related_name="grants", verbose_name=_("department"))
    layer = models.ForeignKey(Layer, on_delete=models.CASCADE, related_name="grants", verbose_name=_("layer"))
    permission = models.PositiveSmallIntegerField(_("permission"), choices=Permission.choices, default=Permission.VIEW)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["department", "layer"], name="one_grant_per_department_layer")]
        verbose_name = _("grant")
        verbose_name_plural = _("grants")

    def __str__(self):
        return f"{self.department.code} → {self.layer.slug}: {self.get_permission_display()}"

    @property
    def level_name(self) -> str:
        """Stable English name (view/download/edit/manage) for logs and machine interfaces."""
        return Permission(self.permission).name.lower()


class ApiToken(models.Model):
    """A token for scripts: `Authorization: Token <key>`. Only a SHA-256 digest is stored."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("name"), max_length=100, blank=True)
    prefix = models.CharField(_("prefix"), max_length=12, editable=False)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    revoked = models.BooleanField(_("revoked"), default=False)
    rate_limit = models.PositiveIntegerField(
        _("requests per minute"), null=True, blank=True, help_text=_("Empty: the platform default.")
    )

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")

    def __str__(self):
        return f"{self.prefix}… ({self.user})"


class TokenUsage(models.Model):
    """Requests per token per minute, counted in PostgreSQL so every web worker shares the count."""

    token = models.ForeignKey(ApiToken, on_delete=models.CASCADE)
    window = models.DateTimeField()
    count = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["token", "window"], name="one_usage_row_per_token_window")]


class AuditEntry(models.Model):
    """Who did what to which layer, and when. Append-only."""

    at = models.DateTimeField(_("time"), auto_now_add=True, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, verbose_name=_("user")
    )
    username = models.CharField(_("user name"), max_length=150, blank=True)  # kept if the user is deleted
    action = models.CharField(_("action"), max_length=40, db_index=True)
    layer = models.ForeignKey(Layer, on_delete=models.SET_NULL, null=True, blank=True, verbose_name=_("layer"))
    layer_slug = models.CharField(_("layer slug"), max_length=60, blank=True, db_index=True)
    via = models.CharField(_("via"), max_length=20, blank=True)  # admin, cli, api, web
    details = models.JSONField(_("details"), default=dict, blank=True)

    class Meta:
        ordering = ["-at"]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit log")

    def __str__(self):
        return f"{self.at:%Y-%m-%d %H:%M} {self.username} {self.action} {self.layer_slug}"


class RasterVersion(models.Model):
    """One stored version of a raster layer: a Cloud-Optimised GeoTIFF on shared storage
    (`settings.RASTER_DIR`), in the data's native CRS. The current one has `retired_at` unset;
    older ones stay until removed, so a load can be rolled back."""

    class Kind(models.TextChoices):
        DOM = "dom", _("orthophoto (DOM)")
        DEM = "dem", _("elevation model (DEM)")
        DRG = "drg", _("scanned map (DRG)")
        HILLSHADE = "hillshade", _("hillshade")
        RELIEF = "relief", _("colour relief")

    layer = models.ForeignKey(Layer, on_delete=models.CASCADE, related_name="raster_versions")
    job = models.BigIntegerField(_("load"), null=True, blank=True)  # the ingest job that wrote it
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    path = models.CharField(_("file"), max_length=500)  # relative to RASTER_DIR
    native_srid = models.PositiveIntegerField(_("native CRS (EPSG)"), null=True, blank=True)
    crs_wkt = models.TextField(blank=True)  # when the CRS has no EPSG code
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    res_x = models.FloatField(_("resolution x"))
    res_y = models.FloatField(_("resolution y"))
    bands = models.PositiveSmallIntegerField(_("bands"))
    dtype = models.CharField(_("data type"), max_length=20)
    nodata = models.FloatField(_("nodata"), null=True, blank=True)
    statistics = models.JSONField(_("statistics"), default=list, blank=True)  # per band: min, max, mean, std
    size_bytes = models.BigIntegerField(default=0)
    sources = models.JSONField(default=list, blank=True)  # input file names
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    retired_at = models.DateTimeField(_("retired"), null=True, blank=True)

    class Meta:
        ordering = ["layer", "-id"]
        verbose_name = _("raster version")
        verbose_name_plural = _("raster versions")

    def __str__(self):
        return f"{self.layer.slug} {self.kind} {self.path}"

    @property
    def absolute_path(self):
        from pathlib import Path

        return Path(settings.RASTER_DIR) / self.path
