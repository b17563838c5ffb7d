"""The permission matrix at the decision point (layers.access); test_api.py checks every endpoint."""

import pytest

from layers import access
from layers.models import Access, Department, Grant, Permission

VIEW = {
    #            public internal restricted
    "anonymous": (True, False, False),
    "member": (True, True, True),
    "granted": (True, True, True),
    "other": (True, True, False),
    "admin": (True, True, True),
}


@pytest.mark.parametrize("who", VIEW)
@pytest.mark.parametrize("level", ["public", "internal", "restricted"])
def test_view_matrix(users, layers, who, level):
    expected = VIEW[who][["public", "internal", "restricted"].index(level)]
    assert access.can(users[who], layers[level], Permission.VIEW) is expected
    assert (layers[level] in access.layers_for(users[who])) is expected


def test_anonymous_sees_only_public_layers(users):
    visible = access.layers_for(users["anonymous"])
    assert visible.exists()
    assert set(visible.values_list("access", flat=True)) == {Access.PUBLIC}


def test_download_needs_a_grant_except_on_public_layers(users, layers):
    assert access.can(users["anonymous"], layers["public"], Permission.DOWNLOAD)
    assert not access.can(users["other"], layers["internal"], Permission.DOWNLOAD)  # may view, not download
    assert not access.can(users["granted"], layers["restricted"], Permission.DOWNLOAD)  # view grant only
    assert access.can(users["member"], layers["restricted"], Permission.DOWNLOAD)  # owner


def test_grant_levels_imply_lower_ones(users, layers):
    Grant.objects.update_or_create(
        layer=layers["restricted"], department=Department.objects.get(code="tjj"),
        defaults={"permission": Permission.EDIT},
    )
    user = users["granted"]
    assert [access.can(user, layers["restricted"], p) for p in Permission] == [True, True, True, False]
    assert access.permission_of(user, layers["restricted"]) == Permission.EDIT


def test_owner_department_manages_and_admin_does_everything(users, layers):
    assert access.permission_of(users["member"], layers["restricted"]) == Permission.MANAGE
    assert access.permission_of(users["admin"], layers["restricted"]) == Permission.MANAGE
    assert access.permission_of(users["anonymous"], layers["restricted"]) is None


def test_nobody_edits_a_public_layer_without_a_grant(users, layers):
    assert not access.can(users["anonymous"], layers["public"], Permission.EDIT)
    assert not access.can(users["other"], layers["public"], Permission.EDIT)


def test_inactive_user_sees_nothing_private(users, layers):
    member = users["member"]
    member.is_active = False
    member.save()
    assert not access.can(member, layers["internal"], Permission.VIEW)


def test_user_without_department_sees_public_only(django_user_model, layers):
    loner = django_user_model.objects.create_user("loner", password="x-very-long-pw")
    assert access.can(loner, layers["public"], Permission.VIEW)
    assert not access.can(loner, layers["internal"], Permission.VIEW)
