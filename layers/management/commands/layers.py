import json

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from layers import access, audit
from layers.management.lookups import department_with_code, layer_with_slug, user_named
from layers.models import Access, Grant, Layer, Permission

LEVELS = {p.name.lower(): p for p in Permission}  # stable names, whatever the UI language


class Command(BaseCommand):
    help = "Inspect and govern the layer catalog."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        ls = sub.add_parser("list", help="list layers (those USER may see, with --as)")
        ls.add_argument("--as", dest="as_user", metavar="USER", help="only layers this user may view (default: all)")
        ls.add_argument("--anonymous", action="store_true", help="only layers an anonymous visitor may view")
        ls.add_argument("--json", action="store_true")
        show = sub.add_parser("show", help="one layer's metadata and grants")
        show.add_argument("slug")
        grant = sub.add_parser("grant", help="grant a department a permission on a layer")
        grant.add_argument("slug")
        grant.add_argument("department")
        grant.add_argument("level", choices=list(LEVELS))
        grant.add_argument("--by", help="user recorded in the audit log")
        revoke = sub.add_parser("revoke", help="remove a department's grant on a layer")
        revoke.add_argument("slug")
        revoke.add_argument("department")
        revoke.add_argument("--by")
        acc = sub.add_parser("set-access", help="change a layer's access level")
        acc.add_argument("slug")
        acc.add_argument("level", choices=Access.values)
        acc.add_argument("--by")

    def handle(self, *args, action, **opts):
        getattr(self, "do_" + action.replace("-", "_"))(**opts)

    # actions
    def do_list(self, as_user=None, anonymous=False, json=False, **_):
        from django.contrib.auth.models import AnonymousUser

        if anonymous:
            layers = access.layers_for(AnonymousUser())
        elif as_user:
            layers = access.layers_for(user_named(as_user))
        else:
            layers = Layer.objects.all()
        layers = layers.select_related("owner").order_by("slug")
        if json:
            self.stdout.write(_json([_summary(layer) for layer in layers]))
            return
        for layer in layers:
            self.stdout.write(
                f"{layer.slug:28} {layer.access:10} {layer.kind:6} {layer.geometry_type:16} "
                f"{layer.feature_count:>9}  {layer.owner.code:8} {layer.title_zh}"
            )

    def do_show(self, slug, **_):
        layer = layer_with_slug(slug)
        data = _summary(layer) | {
            "grants": [
                {"department": g.department.code, "permission": g.level_name}
                for g in layer.grants.select_related("department")
            ]
        }
        self.stdout.write(_json(data))

    def do_grant(self, slug, department, level, by=None, **_):
        layer, dept, user = layer_with_slug(slug), department_with_code(department), user_named(by, optional=True)
        with transaction.atomic():
            Grant.objects.update_or_create(layer=layer, department=dept, defaults={"permission": LEVELS[level]})
            audit.record(user, "grant.set", layer, via="cli", department=dept.code, permission=level)
        self.stdout.write(f"{dept.code} may now {level} {layer.slug}")

    def do_revoke(self, slug, department, by=None, **_):
        layer, dept, user = layer_with_slug(slug), department_with_code(department), user_named(by, optional=True)
        with transaction.atomic():
            deleted, _n = Grant.objects.filter(layer=layer, department=dept).delete()
            if not deleted:
                raise CommandError(f"{dept.code} has no grant on {layer.slug}")
            audit.record(user, "grant.revoke", layer, via="cli", department=dept.code)
        self.stdout.write(f"revoked {dept.code}'s grant on {layer.slug}")

    def do_set_access(self, slug, level, by=None, **_):
        layer, user = layer_with_slug(slug), user_named(by, optional=True)
        with transaction.atomic():
            before = layer.access
            layer.access = level
            layer.save(update_fields=["access", "updated_at"])
            audit.record(user, "layer.access", layer, via="cli", before=before, after=level)
        self.stdout.write(f"{layer.slug}: {before} → {level}")


def _summary(layer: Layer) -> dict:
    return {
        "slug": layer.slug,
        "title_zh": layer.title_zh,
        "title_en": layer.title_en,
        "kind": layer.kind,
        "geometry_type": layer.geometry_type,
        "access": layer.access,
        "owner": layer.owner.code,
        "table": layer.table_name,
        "native_crs": f"EPSG:{layer.native_srid}" if layer.native_srid else None,
        "storage_crs": f"EPSG:{layer.storage_srid}",
        "feature_count": layer.feature_count,
        "extent": list(layer.extent.extent) if layer.extent else None,
        "scale": layer.scale_label or None,
        "survey_date": layer.survey_date.isoformat() if layer.survey_date else None,
    }


def _json(data) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2)
