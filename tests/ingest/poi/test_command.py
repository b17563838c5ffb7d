"""`geoplatform poi` as reviewers run it: ids on stdout, exit status 2 with the row and reason."""

import json
import os
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command

from ingest.poi.models import ChangeSet

from ...conftest import ROOT, SAMPLE, test_database_url
from .conftest import add_row, current_by_name, write_csv


def poi(*args) -> str:
    import io
    out = io.StringIO()
    call_command("poi", *map(str, args), stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_the_review_cycle_on_the_command_line(tmp_path):
    path = write_csv(tmp_path / "a.csv", [add_row("命令行测试", 0), add_row("命令行测试二", 1)])
    cs = int(poi("submit", path, "--by", "collector", "--crs", "WGS84").strip())
    assert ChangeSet.objects.get(pk=cs).items.count() == 2
    assert "row     2 add" in poi("show", cs)
    with pytest.raises(CommandError, match="another reviewer") as exc:
        poi("approve", cs, "--all", "--by", "collector")
    assert exc.value.returncode == 2
    assert poi("approve", cs, "--items", "2", "--by", "tourism").strip() == "approved 1 items"
    with pytest.raises(CommandError, match="undecided"):
        poi("apply", cs, "--by", "tourism")
    poi("reject", cs, "--items", "3", "--by", "tourism")
    assert "applied" in poi("apply", cs)  # by the last reviewer
    poi_id = current_by_name("命令行测试")["poi_id"]
    assert "v1 add" in poi("history", poi_id)
    doc = json.loads(poi("export", "--format", "geojson"))
    assert poi_id in {f["id"] for f in doc["features"]}
    assert "reverted by change set" in poi("revert", cs, "--by", "tourism")
    assert current_by_name("命令行测试") is None
    rep = json.loads(poi("currency", "--json"))
    assert rep["total"] >= 100 and rep["groups"]


def test_refused_file_exits_2_naming_rows_and_reasons():
    env = os.environ | {"DATABASE_URL": test_database_url()}
    proc = subprocess.run([os.path.join(os.path.dirname(sys.executable), "geoplatform"), "poi", "submit",
                           str(SAMPLE / "poi" / "errors_batch.csv"), "--by", "collector", "--crs", "WGS84"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    assert "errors_batch.csv: 18 of 24 rows refused (at most 0 allowed); nothing submitted" in proc.stderr
    assert "errors_batch.csv, row 9: outside_region" in proc.stderr
    assert "errors_batch.csv, row 22: duplicate_row: same as row 21" in proc.stderr
