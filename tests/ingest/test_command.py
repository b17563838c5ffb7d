"""`geoplatform ingest` as surveyors run it: exit codes, messages, reports, history, rollback,
and a load killed with SIGKILL in the middle."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np

from ingest.models import IngestJob
from ingest.pipeline import recover_stale_jobs
from layers import storage
from layers.models import Layer

from ..conftest import ROOT, test_database_url
from .conftest import feature, point, square, write_geojson, write_points

GEOPLATFORM = os.path.join(os.path.dirname(sys.executable), "geoplatform")


def cli(*args, wait=True):
    env = os.environ | {"DATABASE_URL": test_database_url()}
    command = [GEOPLATFORM, "ingest", *map(str, args)]
    if not wait:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def drop_committed(slug):
    """The CLI commits in its own process: clean up what it made (committed, like it), so
    later tests see the session's catalog unchanged."""
    env = os.environ | {"DATABASE_URL": test_database_url()}
    code = f"from layers.models import Layer; Layer.objects.filter(slug={slug!r}).delete()"
    subprocess.run([GEOPLATFORM, "shell", "-c", code], cwd=ROOT, env=env, check=True, capture_output=True)


def test_exit_codes_messages_report_history_and_rollback(tmp_path):
    slug = "cli-buildings"
    try:
        good = write_geojson(tmp_path / "good.geojson", [feature(square(), 名称="一号楼"), feature(square(d=0.002), 名称="二号楼")])
        ok = cli(good, "--layer", slug, "--department", "zrzy", "--report", tmp_path / "r1.json")
        assert ok.returncode == 0, ok.stderr
        assert "loaded 2 feature(s)" in ok.stdout
        assert json.loads((tmp_path / "r1.json").read_text(encoding="utf-8"))["loaded"] == 2

        bad = write_geojson(tmp_path / "坏.geojson", [feature(square(), 名称="三号楼"), feature(point(), 名称="点")])
        refused = cli(bad, "--layer", slug, "--mode", "replace", "--report", tmp_path / "r2.json")
        assert refused.returncode == 2
        assert "坏.geojson" in refused.stderr and "feature 2: wrong geometry type Point" in refused.stderr
        assert (tmp_path / "r2.rejects.gpkg").exists()
        assert Layer.objects.get(slug=slug).feature_count == 2  # previous data intact

        replaced = cli(bad, "--layer", slug, "--mode", "replace", "--max-invalid", "1")
        assert replaced.returncode == 0 and Layer.objects.get(slug=slug).feature_count == 1

        history = cli("history", "--layer", slug, "--json")
        jobs = json.loads(history.stdout)
        assert [j["status"] for j in jobs] == ["succeeded", "rejected", "succeeded"]
        back = cli("rollback", jobs[0]["job"])
        assert back.returncode == 0, back.stderr
        assert Layer.objects.get(slug=slug).feature_count == 2

        assert cli("rollback", "999999").returncode == 2
        assert cli(tmp_path / "missing.shp", "--layer", "x").returncode == 2
    finally:
        drop_committed(slug)


def test_kill_9_mid_load_leaves_the_previous_data_and_the_job_is_marked_failed(tmp_path, layers):
    # Replace the public `places` layer with a large file, and kill the loader halfway.
    rng = np.random.default_rng(1)
    n = 400_000
    big = write_points(tmp_path / "big.gpkg", np.column_stack([rng.uniform(84, 90, n), rng.uniform(37, 42, n)]),
                       {"name": np.array([f"点{i}" for i in range(n)], dtype=object), "population": np.arange(n)})
    before = Layer.objects.get(slug="places")
    proc = cli(big, "--layer", "places", "--mode", "replace", wait=False)
    try:
        deadline = time.monotonic() + 120
        job = None
        while time.monotonic() < deadline:
            job = IngestJob.objects.filter(source_name="big.gpkg", status="running", progress_done__gt=0).first()
            if job or proc.poll() is not None:
                break
            time.sleep(0.05)
        assert job is not None, f"the load never got going: {proc.communicate()}"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL

    after = Layer.objects.get(slug="places")
    assert (after.feature_count, after.data_version) == (before.feature_count, before.data_version)
    assert len(storage.feature_collection(after.table_name, limit=100)) > 0
    job.refresh_from_db()
    assert job.status == IngestJob.Status.RUNNING  # nobody has noticed yet

    deadline = time.monotonic() + 10
    while job.pk not in (recovered := recover_stale_jobs()) and time.monotonic() < deadline:
        time.sleep(0.2)  # the server notices the dead connection and frees its lock
    assert job.pk in recovered
    job.refresh_from_db()
    assert job.status == IngestJob.Status.FAILED and "interrupted" in job.message
    assert not storage.table_exists(f"layer_places__stage_{job.pk}")
