"""The `geoplatform` console script: the real installed entry point, on the test database."""

import json
import os
import subprocess
import sys
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from layers.models import AuditEntry, Grant, Layer, Permission

from ..conftest import INTERNAL, PUBLIC, RESTRICTED, ROOT, test_database_url

GEOPLATFORM = os.path.join(os.path.dirname(sys.executable), "geoplatform")


def run_cli(*args):
    env = os.environ | {"DATABASE_URL": test_database_url()}
    return subprocess.run([GEOPLATFORM, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def call(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_help_names_the_platform_commands():
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ["serve", "layers list", "token create", "demo-data", "migrate", "ingest PATH", "ingest rollback", "worker"]:
        assert command in result.stdout


def test_django_commands_and_layer_listing_through_the_console_script():
    result = run_cli("layers", "list", "--anonymous", "--json")
    assert result.returncode == 0, result.stderr
    slugs = {layer["slug"] for layer in json.loads(result.stdout)}
    assert PUBLIC in slugs and INTERNAL not in slugs and RESTRICTED not in slugs
    shell = run_cli("shell", "-c", "from layers.models import Layer; print(Layer.objects.count())")
    assert shell.returncode == 0 and shell.stdout.strip().splitlines()[-1] == str(Layer.objects.count())
    check = run_cli("check")
    assert check.returncode == 0, check.stderr


def test_token_create_prints_a_working_token(client):
    result = run_cli("token", "create", "surveyor", "--name", "nightly export")
    assert result.returncode == 0, result.stderr
    key = result.stdout.strip()
    response = client.get(f"/api/layers/{RESTRICTED}/", HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 200
    assert run_cli("token", "create", "nobody").returncode != 0


def test_layers_list_as_user_follows_the_access_rules():
    visible = {row["slug"] for row in json.loads(call("layers", "list", "--as", "tourism", "--json"))}
    assert INTERNAL in visible and RESTRICTED not in visible


def test_grant_revoke_and_set_access_are_audited(layers):
    call("layers", "grant", INTERNAL, "wlj", "download", "--by", "admin")
    assert Grant.objects.get(layer=layers["internal"], department__code="wlj").permission == Permission.DOWNLOAD
    call("layers", "revoke", INTERNAL, "wlj", "--by", "admin")
    assert not Grant.objects.filter(layer=layers["internal"], department__code="wlj").exists()
    call("layers", "set-access", INTERNAL, "restricted", "--by", "admin")
    actions = list(AuditEntry.objects.filter(layer=layers["internal"]).order_by("at").values_list("action", "username"))
    assert actions[-3:] == [("grant.set", "admin"), ("grant.revoke", "admin"), ("layer.access", "admin")]


def test_unknown_layer_is_a_clear_error():
    with pytest.raises(CommandError, match="no layer 'nope'"):
        call("layers", "show", "nope")


def test_show_lists_grants():
    data = json.loads(call("layers", "show", RESTRICTED))
    assert data["access"] == "restricted"
    assert {"department": "tjj", "permission": "view"} in data["grants"]


def test_departments_create_and_membership_change_what_a_user_sees(django_user_model, layers):
    user = django_user_model.objects.create_user("newcomer", password="a-long-password-1")
    from layers import access

    assert not access.can(user, layers["internal"], Permission.VIEW)
    call("departments", "create", "slj", "水利局", "--name-en", "Water Resources Bureau")
    call("departments", "add-member", "slj", "newcomer")
    assert access.can(django_user_model.objects.get(pk=user.pk), layers["internal"], Permission.VIEW)
    assert "newcomer" in call("departments", "list")
    call("departments", "remove-member", "slj", "newcomer")
    assert not access.can(django_user_model.objects.get(pk=user.pk), layers["internal"], Permission.VIEW)
