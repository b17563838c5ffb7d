"""Display helpers of the POI pages: category codes and attribute names in the reader's language."""

from django import template
from django.utils.translation import gettext_lazy as _

from .. import categories
from ..forms import STATUS_CHOICES, PoiForm, category_label, group_label

register = template.Library()

EXTRA_LABELS = {
    "category_group": _("Category group"),
    "adcode": _("Division code"),
    "county": _("County"),
    "origin_crs": _("Coordinates given in"),
}


@register.filter
def category_name(code):
    category = categories.find(code) if code else None
    return category_label(category) if category else (code or "")


@register.filter
def group_name(code):
    return group_label(code) if code else ""


@register.filter
def attribute_label(name):
    field = PoiForm.base_fields.get(name)
    if field is not None:
        return field.label
    return EXTRA_LABELS.get(name, name)


@register.filter
def attribute_value(value, name):
    """An attribute's value as shown: category codes by their name, empty as a dash."""
    if value is None or value == "":
        return "—"
    if name == "category":
        return category_name(value)
    if name == "category_group":
        return group_label(value)
    if name == "status":
        return dict(STATUS_CHOICES).get(value, value)
    return value


@register.filter
def get(mapping, key):
    return mapping.get(key) if hasattr(mapping, "get") else None
