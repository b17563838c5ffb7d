"""Real clients against the real server (gunicorn on the test database): OWSLib and GDAL."""

import json
import os
import subprocess
import sys

import pytest
from owslib.ogcapi.features import Features

from ...conftest import INTERNAL, PUBLIC, RESTRICTED, ROOT, test_database_url


def token_for(username: str) -> str:
    """A token committed where the server can see it, made the way an administrator does."""
    env = os.environ | {"DATABASE_URL": test_database_url()}
    done = subprocess.run([sys.executable, "-m", "geoplatform.cli", "token", "create", username], cwd=ROOT, env=env,
                          capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_owslib_anonymous_sees_public_collections_and_pages_items(server):
    api = Features(f"{server}/ogcapi/")
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in api.conformance()["conformsTo"]
    ids = [c["id"] for c in api.collections()["collections"]]
    assert PUBLIC in ids and INTERNAL not in ids and RESTRICTED not in ids
    items = api.collection_items("places", limit=5, bbox=[85.9, 41.6, 86.4, 41.9])
    assert [f["properties"]["name"] for f in items["features"]] == ["Korla"]
    assert api.collection_queryables("places")["properties"]["population"]["type"] == "integer"


def test_owslib_with_a_token_sees_what_its_department_may(server):
    api = Features(f"{server}/ogcapi/", headers={"Authorization": f"Token {token_for('statistics')}"})
    ids = [c["id"] for c in api.collections()["collections"]]
    assert RESTRICTED in ids  # the statistics bureau holds a view grant
    items = api.collection_items(RESTRICTED, limit=100)
    assert items["numberMatched"] == 30


@pytest.mark.parametrize("client_tool", ["ogrinfo", "ogr2ogr"])
def test_gdal_oapif_driver(server, tmp_path, client_tool):
    source = f"OAPIF:{server}/ogcapi/"
    if client_tool == "ogrinfo":
        listing = subprocess.run(["ogrinfo", "-ro", "-q", source], capture_output=True, text=True, timeout=120)
        assert listing.returncode == 0, listing.stderr
        assert PUBLIC in listing.stdout and INTERNAL not in listing.stdout
        detail = subprocess.run(["ogrinfo", "-ro", "-so", source, "places"], capture_output=True, text=True, timeout=120)
        assert "Feature Count: 14" in detail.stdout, detail.stdout + detail.stderr
    else:
        out = tmp_path / "places.geojson"
        done = subprocess.run(["ogr2ogr", "-f", "GeoJSON", str(out), source, "places", "-where", "population > 100000"],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        names = sorted(f["properties"]["name"] for f in json.loads(out.read_text())["features"])
        assert "Korla" in names and len(names) == 3


def test_gdal_with_a_token_header(server, tmp_path):
    token = token_for("surveyor")
    out = tmp_path / "restricted.geojson"
    env = os.environ | {"GDAL_HTTP_HEADERS": f"Authorization: Token {token}"}
    done = subprocess.run(["ogr2ogr", "-f", "GeoJSON", str(out), f"OAPIF:{server}/ogcapi/", RESTRICTED],
                          capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr
    assert len(json.loads(out.read_text())["features"]) == 30


def test_schemathesis_finds_no_server_error(server):
    """Generated requests from the OpenAPI document (valid and invalid): never a 5xx."""
    schemathesis = os.path.join(os.path.dirname(sys.executable), "schemathesis")
    done = subprocess.run([schemathesis, "run", f"{server}/ogcapi/openapi", "--checks", "not_a_server_error",
                           "--max-examples", "25", "--seed", "4490"],
                          capture_output=True, text=True, timeout=600, env=os.environ | {"NO_COLOR": "1"})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and "failed" not in done.stdout.split("SUMMARY")[-1]
