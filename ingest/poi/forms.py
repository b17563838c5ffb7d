"""Forms of the POI pages. They only collect input: every check of the POIs themselves is the
library's (validate.py through changesets.submit), whose refusals the views show beside the fields."""

from django import forms
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from . import categories
from .models import ChangeSet

CRS_CHOICES = [
    ("CGCS2000", _("CGCS2000 (national geodetic system)")),
    ("WGS84", _("WGS84 (GPS)")),
    ("GCJ02", _("GCJ-02 (Amap, Tencent maps)")),
    ("BD09", _("BD-09 (Baidu maps)")),
]
STATUS_CHOICES = [("", "—"), ("active", _("open")), ("closed", _("closed"))]


def category_label(category: categories.Category) -> str:
    language = (get_language() or "zh-hans").lower()
    if language.startswith("zh"):
        return category.zh
    if language.startswith("ug") and category.ug:
        return category.ug
    return category.en


def group_label(code: str) -> str:
    names = categories.groups().get(code) or {}
    language = (get_language() or "zh-hans").lower()
    if language.startswith("zh"):
        return names.get("zh") or code
    return names.get(language[:2]) or names.get("en") or code


def category_choices():
    by_group: dict[str, list] = {}
    for c in categories.all_categories():
        by_group.setdefault(c.group, []).append((c.code, f"{category_label(c)} ({c.code})"))
    return [("", "—")] + [(group_label(g), options) for g, options in by_group.items()]


class SubmitForm(forms.Form):
    file = forms.FileField(
        label=_("File"), help_text=_("CSV, XLSX or GeoJSON; one row per POI to add, update or delete."),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,.xlsx,.xlsm,.geojson,.json"}),
    )
    crs = forms.ChoiceField(label=_("Coordinates given in"), choices=CRS_CHOICES, initial="CGCS2000",
                            help_text=_("Points copied from Amap or Tencent maps are GCJ-02, from Baidu maps BD-09."))
    encoding = forms.CharField(label=_("CSV encoding"), required=False, max_length=30,
                               help_text=_("Only when the CSV is neither UTF-8 nor GBK"))
    max_invalid = forms.IntegerField(label=_("Refused rows allowed"), min_value=0, initial=0,
                                     help_text=_("With more refused rows nothing is submitted; every one is listed."))
    note = forms.CharField(label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 3}))


class PoiForm(forms.Form):
    """One POI, submitted as a change set of one item through the same path as a file."""

    # Form field → column of a submitted file (rows.FIELDS).
    COLUMNS = ["name", "name_en", "name_ug", "name_mn", "category", "rating", "address", "phone", "opening_hours",
               "description", "photos", "source", "lon", "lat", "collected_at", "verified_at", "status"]

    name = forms.CharField(label=_("Name (Chinese)"), required=False, max_length=1000)
    name_en = forms.CharField(label=_("Name (English)"), required=False, max_length=1000)
    name_ug = forms.CharField(label=_("Name (Uyghur)"), required=False, max_length=1000,
                              widget=forms.TextInput(attrs={"dir": "rtl", "lang": "ug"}))
    name_mn = forms.CharField(label=_("Name (Mongolian)"), required=False, max_length=1000)
    category = forms.ChoiceField(label=_("Category"), required=False)
    rating = forms.CharField(label=_("Rating"), required=False, max_length=20,
                             help_text=_("1A–5A for scenic spots, 1–5 stars for hotels"))
    address = forms.CharField(label=_("Address"), required=False, max_length=1000)
    phone = forms.CharField(label=_("Phone"), required=False, max_length=1000,
                            help_text=_("Several numbers separated by ;"))
    opening_hours = forms.CharField(label=_("Opening hours"), required=False, max_length=1000)
    description = forms.CharField(label=_("Description"), required=False, max_length=10000,
                                  widget=forms.Textarea(attrs={"rows": 3}))
    photos = forms.CharField(label=_("Photos"), required=False, max_length=10000,
                             widget=forms.Textarea(attrs={"rows": 2}), help_text=_("http(s) URLs separated by ;"))
    source = forms.CharField(label=_("Source"), required=False, max_length=1000)
    lon = forms.FloatField(label=_("Longitude"), required=False, widget=forms.NumberInput(attrs={"step": "any"}))
    lat = forms.FloatField(label=_("Latitude"), required=False, widget=forms.NumberInput(attrs={"step": "any"}))
    crs = forms.ChoiceField(label=_("Coordinates given in"), choices=CRS_CHOICES, initial="CGCS2000")
    status = forms.ChoiceField(label=_("Status"), choices=STATUS_CHOICES, required=False)
    collected_at = forms.DateField(label=_("Collected on"), required=False,
                                   widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    verified_at = forms.DateField(label=_("Verified on"), required=False,
                                  widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    note = forms.CharField(label=_("Note"), required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, editing: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.editing = editing
        self.fields["category"].choices = category_choices()

    def clean(self):
        data = super().clean()
        if self.editing:
            cleared = [self.fields[f].label for f in self.COLUMNS if f in self.changed_data
                       and self.initial.get(f) not in (None, "") and data.get(f) in (None, "")]
            if cleared:
                raise forms.ValidationError(
                    _("A change set cannot remove a value yet (an empty field means “unchanged”): %(fields)s"),
                    params={"fields": ", ".join(map(str, cleared))},
                )
        return data

    def row(self, poi_id: str | None = None) -> dict[str, str]:
        """The row of a submitted file: every filled field for a new POI, the changed ones for an edit."""
        data = self.cleaned_data
        if poi_id is None:
            names = self.COLUMNS  # empty ones too: the library names what a new POI lacks
            values = {"op": "add"}
        else:
            changed = set(self.changed_data)
            if changed & {"lon", "lat"} or "crs" in changed:
                changed |= {"lon", "lat"}
            if "category" in changed:
                changed.add("rating")  # checked again against the new category
            names = [f for f in self.COLUMNS if f in changed and data.get(f) not in (None, "")]
            values = {"op": "update", "id": poi_id}
        for f in names:
            value = data.get(f)
            if value is None:
                values[f] = ""
            elif isinstance(value, float):
                values[f] = repr(value)
            else:
                values[f] = value.isoformat() if hasattr(value, "isoformat") else str(value)
        return values


class StatusFilter(forms.Form):
    status = forms.ChoiceField(label=_("Status"), required=False, choices=[("", _("all"))] + ChangeSet.Status.choices)
