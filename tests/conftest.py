"""Shared fixtures. Every test runs against the real PostGIS that `make test` started.

The bundled sample data (6 layers: 4 public, 1 internal, 1 restricted; departments and demo
users) is loaded once per session into pytest-django's test database and committed, so a
real server process started by a test sees it too. Tests then run inside rolled-back
transactions (`db`); none may use `transactional_db`, whose flush would empty the catalog.
"""

import os
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.core.management import call_command
from django.db import connection

from layers.models import Layer

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_data"
PUBLIC, INTERNAL, RESTRICTED = "admin-counties", "korla-sheet-index", "korla-control-points"


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker, tmp_path_factory):
    # The test database's raster files live apart from the real ones (file names carry job ids,
    # which every database counts on its own); subprocesses inherit the setting.
    from django.conf import settings

    settings.RASTER_DIR = tmp_path_factory.mktemp("rasters")
    os.environ["GEOPLATFORM_RASTER_DIR"] = str(settings.RASTER_DIR)
    with django_db_blocker.unblock():
        call_command("demo_data", stdout=open(os.devnull, "w"))


@pytest.fixture(autouse=True)
def _db_for_every_test(request, db):
    assert "transactional_db" not in request.fixturenames, "transactional_db would flush the session's catalog"


def user(username):
    return get_user_model().objects.get(username=username)


@pytest.fixture
def users(db):
    """The permission matrix's callers: anonymous, owner-department member, a department
    with a view grant on the restricted layer, a department without grants, and an admin."""
    return {
        "anonymous": AnonymousUser(),
        "member": user("surveyor"),  # 自然资源局, owner of every sample layer
        "granted": user("statistics"),  # 统计局, view grant on the restricted layer
        "other": user("tourism"),  # 文旅局, no grants
        "admin": user("admin"),
    }


@pytest.fixture
def layers(db):
    return {name: Layer.objects.get(slug=slug) for name, slug in
            [("public", PUBLIC), ("internal", INTERNAL), ("restricted", RESTRICTED)]}


def test_database_url() -> str:
    s = connection.settings_dict
    host = urllib.parse.quote(s["HOST"] or "", safe="")
    auth = urllib.parse.quote(s["USER"] or "", safe="")
    if s.get("PASSWORD"):
        auth += ":" + urllib.parse.quote(s["PASSWORD"], safe="")
    return f"postgis://{auth}@{host}:{s['PORT'] or 5432}/{s['NAME']}"


test_database_url.__test__ = False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def server_env(django_db_setup, django_db_blocker, tmp_path_factory):
    """The environment of the `server` fixture's process: the test database and its own tiles
    directory (generated tile configuration and caches point at the test database). Commands run
    with it (`geoplatform shell`, `ingest`) change what that server serves."""
    with django_db_blocker.unblock():
        url_db = test_database_url()
    return os.environ | {"DATABASE_URL": url_db, "GEOPLATFORM_TILES_DIR": str(tmp_path_factory.mktemp("tiles"))}


@pytest.fixture(scope="session")
def server(server_env, django_db_blocker, tmp_path_factory):
    """The production server (`geoplatform serve`: nginx in front of gunicorn when nginx is
    installed, as `make demo` runs it) on the test database."""
    port = free_port()
    log = tmp_path_factory.mktemp("server") / "server.log"
    front_dir = tmp_path_factory.mktemp("front")
    proc = subprocess.Popen(
        [sys.executable, "-m", "geoplatform.cli", "serve", "--port", str(port), "--workers", "2", "--no-jobs",
         "--front-dir", str(front_dir)],
        cwd=ROOT, env=server_env, stdout=log.open("w"), stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(base + "/api/layers/", timeout=2)
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise RuntimeError("server did not start:\n" + log.read_text())
            time.sleep(0.2)
    yield base
    proc.terminate()
    proc.wait(timeout=10)
    # Backends of the stopped workers may outlive them briefly; the test database must be droppable.
    with django_db_blocker.unblock(), connection.cursor() as cur:
        cur.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
