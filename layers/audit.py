"""Append entries to the audit log. Callers say how the change came in (`via`)."""

from .models import AuditEntry, Layer


def record(user, action: str, layer: Layer | None = None, *, via: str, layer_slug: str = "", **details) -> AuditEntry:
    authenticated = user is not None and user.is_authenticated
    return AuditEntry.objects.create(
        user=user if authenticated else None,
        username=user.get_username() if authenticated else "",
        action=action,
        layer=layer if layer is not None and layer.pk else None,
        layer_slug=layer.slug if layer is not None else layer_slug,
        via=via,
        details=details,
    )
