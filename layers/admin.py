from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.contrib.gis import admin as gis_admin
from django.utils.translation import gettext_lazy as _

from . import audit
from .models import ApiToken, AuditEntry, Department, Grant, Layer
from .widgets import LocalOSMWidget


class GrantInline(admin.TabularInline):
    model = Grant
    extra = 0
    autocomplete_fields = ["department"]


@admin.register(Department)
class DepartmentAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "name_en"]
    search_fields = ["code", "name", "name_en"]
    filter_horizontal = ["members"]


@admin.register(Layer)
class LayerAdmin(gis_admin.GISModelAdmin):
    gis_widget = LocalOSMWidget
    list_display = ["slug", "title_zh", "kind", "geometry_type", "access", "owner", "feature_count", "updated_at"]
    list_filter = ["access", "kind", "owner"]
    search_fields = ["slug", "title_zh", "title_en", "keywords"]
    readonly_fields = ["table_name", "feature_count", "data_version", "created_at", "updated_at"]
    inlines = [GrantInline]
    fieldsets = [
        (None, {"fields": ["slug", "title_zh", "title_en", "kind", "access", "owner"]}),
        (_("Storage"), {"fields": ["geometry_type", "table_name", "native_srid", "storage_srid", "feature_count", "data_version", "extent"]}),
        (_("Provenance"), {"fields": ["source", "scale_denominator", "survey_date"]}),
        (_("Metadata"), {"fields": ["abstract", "keywords", "licence", "attribution", "contact", "created_at", "updated_at"]}),
    ]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        audit.record(request.user, "layer.update" if change else "layer.create", obj, via="admin",
                     fields=sorted(form.changed_data))

    def save_formset(self, request, form, formset, change):
        super().save_formset(request, form, formset, change)
        for grant in formset.new_objects + [obj for obj, _fields in formset.changed_objects]:
            audit.record(request.user, "grant.set", grant.layer, via="admin",
                         department=grant.department.code, permission=grant.level_name)
        for grant in formset.deleted_objects:
            audit.record(request.user, "grant.revoke", form.instance, via="admin", department=grant.department.code)

    def delete_model(self, request, obj):
        audit.record(request.user, "layer.delete", obj, via="admin", table=obj.table_name)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            audit.record(request.user, "layer.delete", obj, via="admin", table=obj.table_name)
        super().delete_queryset(request, queryset)


@admin.register(Grant)
class GrantAdmin(admin.ModelAdmin):
    list_display = ["layer", "department", "permission"]
    list_filter = ["permission", "department"]
    autocomplete_fields = ["layer", "department"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        audit.record(request.user, "grant.set", obj.layer, via="admin",
                     department=obj.department.code, permission=obj.level_name)

    def delete_model(self, request, obj):
        audit.record(request.user, "grant.revoke", obj.layer, via="admin", department=obj.department.code)
        super().delete_model(request, obj)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ["prefix", "user", "name", "created_at", "last_used_at", "expires_at", "rate_limit", "revoked"]
    list_filter = ["revoked"]
    readonly_fields = ["prefix", "created_at", "last_used_at"]
    fields = ["user", "name", "prefix", "expires_at", "rate_limit", "revoked", "created_at", "last_used_at"]

    def has_add_permission(self, request):
        return False  # created with `geoplatform token create`, which shows the key once


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ["at", "username", "action", "layer_slug", "via"]
    list_filter = ["action", "via"]
    search_fields = ["username", "layer_slug"]
    date_hierarchy = "at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class DepartmentMembershipInline(admin.TabularInline):
    model = Department.members.through
    extra = 0
    verbose_name = _("department")
    verbose_name_plural = _("departments")


User = get_user_model()
admin.site.unregister(User)


@admin.register(User)
class PlatformUserAdmin(UserAdmin):
    inlines = [DepartmentMembershipInline]
