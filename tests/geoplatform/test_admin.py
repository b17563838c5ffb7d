"""GeoDjango admin: map widgets served locally, and admin changes land in the audit log."""

from layers.models import AuditEntry, Grant


def test_layer_change_page_has_a_local_map_widget(client, users, layers):
    client.force_login(users["admin"])
    page = client.get(f"/admin/layers/layer/{layers['public'].pk}/change/").content.decode()
    assert "vendor/ol/ol.js" in page and "OLMapWidget.js" in page
    assert "cdn.jsdelivr.net" not in page


def test_admin_lists_every_model(client, users):
    client.force_login(users["admin"])
    for url in ["layers/department/", "layers/layer/", "layers/grant/", "layers/apitoken/", "layers/auditentry/", "auth/user/"]:
        assert client.get("/admin/" + url).status_code == 200, url


def test_admin_grant_is_audited(client, users, layers):
    client.force_login(users["admin"])
    from layers.models import Department

    response = client.post("/admin/layers/grant/add/", {
        "layer": layers["restricted"].pk, "department": Department.objects.get(code="wlj").pk, "permission": 1,
    })
    assert response.status_code == 302
    assert Grant.objects.filter(layer=layers["restricted"], department__code="wlj").exists()
    entry = AuditEntry.objects.filter(action="grant.set").latest("at")
    assert (entry.username, entry.via, entry.layer_slug) == ("admin", "admin", layers["restricted"].slug)


def test_non_staff_department_users_cannot_enter_admin(client, users):
    client.force_login(users["member"])
    assert client.get("/admin/layers/layer/").status_code == 302
