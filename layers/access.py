"""Who may do what with a layer. The single place access decisions are made.

Rules (docs/architecture.md, "Access"):
- superusers: everything;
- a layer's owner department: MANAGE;
- a department with a Grant: that level (and every lower one);
- PUBLIC layers: VIEW and DOWNLOAD for everyone, anonymous included;
- INTERNAL layers: VIEW for any user who belongs to a department;
- RESTRICTED layers: nothing without the owner or a grant.
"""

from django.db.models import Exists, OuterRef, Q, QuerySet

from .models import Access, Grant, Layer, Permission


def _department_ids(user) -> list[int]:
    if not user.is_authenticated:
        return []
    cached = getattr(user, "_geoplatform_department_ids", None)
    if cached is None:
        cached = list(user.departments.values_list("id", flat=True))
        user._geoplatform_department_ids = cached
    return cached


def layers_for(user, permission: Permission = Permission.VIEW) -> QuerySet[Layer]:
    """Layers on which `user` holds at least `permission`."""
    layers = Layer.objects.all()
    if user.is_authenticated and user.is_active and user.is_superuser:
        return layers
    if not (user.is_authenticated and user.is_active):
        if permission <= Permission.DOWNLOAD:
            return layers.filter(access=Access.PUBLIC)
        return layers.none()

    depts = _department_ids(user)
    granted = Grant.objects.filter(layer=OuterRef("pk"), department_id__in=depts, permission__gte=permission)
    allowed = Q(owner_id__in=depts) | Q(Exists(granted))
    if permission <= Permission.DOWNLOAD:
        allowed |= Q(access=Access.PUBLIC)
    if permission == Permission.VIEW and depts:
        allowed |= Q(access=Access.INTERNAL)
    return layers.filter(allowed)


def can(user, layer: Layer, permission: Permission) -> bool:
    return layers_for(user, permission).filter(pk=layer.pk).exists()


def permission_of(user, layer: Layer) -> Permission | None:
    """The highest permission `user` holds on `layer`, or None."""
    for level in sorted(Permission, reverse=True):
        if can(user, layer, level):
            return level
    return None
