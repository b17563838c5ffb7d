from django import forms
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _

from layers import access
from layers.models import Access, Department, Layer, Permission

from .models import IngestJob


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    widget = MultipleFileInput

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, (list, tuple)):
            return [single(d, initial) for d in data]
        return [single(data, initial)]


class UploadForm(forms.Form):
    files = MultipleFileField(
        label=_("Files"),
        help_text=_("A zip, GeoPackage, GeoJSON, KML, CSV or DXF file, or a Shapefile's .shp/.shx/.dbf/.prj/.cpg together."),
    )
    layer = forms.CharField(
        label=_("Layer"), max_length=50,
        validators=[RegexValidator(r"^[a-z][a-z0-9-]*$", _("Lower-case letters, digits and hyphens, starting with a letter."))],
    )
    mode = forms.ChoiceField(label=_("Mode"), choices=IngestJob.Mode.choices, initial=IngestJob.Mode.CREATE)
    sheet = forms.CharField(label=_("Sheet number"), required=False, max_length=60, help_text="4622.00-429.25")
    srs = forms.CharField(label=_("Coordinate system"), required=False, max_length=200,
                          help_text=_("Only when the file has none, e.g. EPSG:4538"))
    encoding = forms.CharField(label=_("Attribute encoding"), required=False, max_length=30,
                               help_text=_("Only to override detection, e.g. GBK"))
    max_invalid = forms.IntegerField(label=_("Rejected features allowed"), min_value=0, initial=0)
    survey_date = forms.DateField(label=_("Survey date"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    source = forms.CharField(label=_("Delivered by"), required=False, max_length=500)
    scale = forms.IntegerField(label=_("Scale 1:N"), required=False, min_value=1)
    title = forms.CharField(label=_("Title (new layer)"), required=False, max_length=200)
    department = forms.ModelChoiceField(label=_("Owner department (new layer)"), queryset=Department.objects.none(),
                                        required=False)
    access = forms.ChoiceField(label=_("Access level (new layer)"), choices=Access.choices, initial=Access.INTERNAL)
    raster_kind = forms.ChoiceField(
        label=_("Raster product"), required=False,
        choices=[("", _("none: vector data")), ("dom", _("orthophoto (DOM)")), ("dem", _("elevation model (DEM)")),
                 ("drg", _("scanned map (DRG)"))],
        help_text=_("For GeoTIFF (with .tfw/.prj), ASCII grid, JPEG2000 or a zip of mosaic tiles."),
    )
    nodata = forms.FloatField(label=_("Nodata value"), required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["department"].queryset = (
            Department.objects.all() if user.is_superuser else Department.objects.filter(members=user)
        )
        self.editable = access.layers_for(user, Permission.EDIT).order_by("slug")

    def clean(self):
        data = super().clean()
        slug, mode = data.get("layer"), data.get("mode")
        if not slug or not mode:
            return data
        exists = Layer.objects.filter(slug=slug).exists()
        if mode == IngestJob.Mode.CREATE:
            if exists:
                self.add_error("layer", _("This layer exists already: choose append, replace or replace sheet."))
            if not data.get("department"):
                self.add_error("department", _("A new layer needs an owner department you belong to."))
        elif not self.editable.filter(slug=slug).exists():
            # Same answer for a missing layer and one the user may not edit: nothing leaks.
            self.add_error("layer", _("No layer with this name that you may edit."))
        if data.get("raster_kind") and mode not in (IngestJob.Mode.CREATE, IngestJob.Mode.REPLACE):
            self.add_error("mode", _("A raster layer is created or replaced."))
        if mode == IngestJob.Mode.REPLACE_SHEET and not data.get("sheet"):
            self.add_error("sheet", _("Replacing a sheet needs its sheet number."))
        return data
