"""After a load, the changed extent is announced: a Django signal in-process, and a
PostgreSQL NOTIFY for every other process (tile caches on other servers)."""

import json
import os
import subprocess
import sys

import psycopg
import pytest
from django.db import connection

from layers.changes import CHANNEL, layer_data_changed

from ..conftest import ROOT, test_database_url
from ..ingest.conftest import feature, load, square, write_geojson


def test_signal_carries_layer_version_and_extent(tmp_path, django_capture_on_commit_callbacks):
    heard = []

    def receiver(sender, layer, bbox, job, **kwargs):
        heard.append((layer.slug, layer.data_version, bbox, job))

    layer_data_changed.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            report = load(write_geojson(tmp_path / "a.geojson", [feature(square(86.15, 41.73, 0.01), n=1)]),
                          layer="signalled", title_zh="x")
    finally:
        layer_data_changed.disconnect(receiver)
    (slug, version, bbox, job), = heard
    assert (slug, job) == ("signalled", report.job_id) and version == 2
    assert bbox == pytest.approx((86.15, 41.73, 86.16, 41.74))


def test_other_processes_hear_a_notify_when_the_load_commits(tmp_path):
    s = connection.settings_dict
    listener = psycopg.connect(host=s["HOST"], port=s["PORT"], dbname=s["NAME"], user=s["USER"],
                               password=s["PASSWORD"] or None, autocommit=True)
    slug = "notified"
    env = os.environ | {"DATABASE_URL": test_database_url()}
    try:
        listener.execute(f"LISTEN {CHANNEL}")
        path = write_geojson(tmp_path / "n.geojson", [feature(square(86.2, 41.7, 0.02), n=1)])
        cli = [sys.executable, "-m", "geoplatform.cli"]
        done = subprocess.run([*cli, "ingest", path, "--layer", slug, "--department", "zrzy"],
                              cwd=ROOT, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        payloads = [json.loads(n.payload) for n in listener.notifies(timeout=5, stop_after=1)]
        assert payloads and payloads[0]["layer"] == slug
        assert payloads[0]["bbox"] == pytest.approx([86.2, 41.7, 86.22, 41.72])
    finally:
        listener.close()
        subprocess.run([*cli, "shell", "-c", f"from layers.models import Layer; Layer.objects.filter(slug={slug!r}).delete()"],
                       cwd=ROOT, env=env, check=True, capture_output=True)
