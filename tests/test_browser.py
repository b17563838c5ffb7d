"""The home page in Debian's Chromium (Playwright), served by the production server (gunicorn)."""

import os
import shutil
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings
from playwright.sync_api import sync_playwright

from .conftest import INTERNAL, PUBLIC, RESTRICTED

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.browser
PUBLIC_SLUGS = "admin-counties,admin-prefectures,lakes,places,poi"


@pytest.fixture(scope="module")
def browser():
    # Playwright's sync API keeps an event loop running in this thread; the test's own
    # database work (fixtures, rollback) is still synchronous and safe.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"],
        )
        yield browser
        browser.close()
    del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="zh-CN")
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    yield page
    context.close()
    assert not errors, errors


def test_anonymous_visitor_sees_public_layers_on_the_map(server, page):
    page.goto(server + "/")
    page.wait_for_selector("#map[data-ready]", timeout=20_000)
    assert page.get_attribute("#map", "data-ready") == PUBLIC_SLUGS
    assert page.locator(".leaflet-overlay-pane path").count() >= 12 + 2 + 4 + 14
    listed = page.locator("#layer-list .layer").evaluate_all("els => els.map(e => e.dataset.slug)")
    assert PUBLIC in listed and INTERNAL not in listed and RESTRICTED not in listed
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    assert "县级行政区划" in page.content()
    # the basemap comes from MapProxy/MapServer under /tiles/
    page.wait_for_selector("img.leaflet-tile-loaded", timeout=30_000)
    sizes = page.locator("img.leaflet-tile-loaded").evaluate_all("imgs => imgs.map(i => [i.naturalWidth, i.src])")
    assert sizes and all(w == 256 and "/tiles/wmts/admin-counties/GLOBAL_WEBMERCATOR/" in src for w, src in sizes)


def test_department_member_logs_in_and_sees_internal_and_restricted_layers(server, page):
    password = (Path(settings.DATA_DIR) / "demo-password").read_text().strip()
    page.goto(server + "/accounts/login/")
    page.fill("#id_username", "surveyor")
    page.fill("#id_password", password)
    page.click("form[action='/accounts/login/'] button[type=submit]")
    page.wait_for_selector("#map[data-ready]", timeout=20_000)
    ready = page.get_attribute("#map", "data-ready").split(",")
    assert INTERNAL in ready and RESTRICTED in ready


def test_language_switch_to_uyghur_is_right_to_left(server, page):
    page.goto(server + "/")
    page.select_option("select[name=language]", "ug")
    page.wait_for_selector("html[lang=ug]")
    assert page.locator("html").get_attribute("dir") == "rtl"


def test_static_map_library_is_served_by_the_platform(server):
    with urllib.request.urlopen(server + "/static/vendor/leaflet/leaflet.js") as response:
        assert response.status == 200 and b"Leaflet" in response.read(2000)


def login(page, server, username):
    password = (Path(settings.DATA_DIR) / "demo-password").read_text().strip()
    page.goto(server + "/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("form[action='/accounts/login/'] button[type=submit]")
    page.wait_for_url(server + "/")


def test_surveyor_uploads_while_no_worker_runs_and_the_load_completes_when_one_starts(server, page, tmp_path):
    """The job waits in PostgreSQL through a worker outage, then loads; the page follows it."""
    import subprocess
    import sys
    import zipfile

    from .conftest import ROOT, test_database_url

    archive = tmp_path / "buildings.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for f in (ROOT / "sample_data" / "gbk_shapefile").glob("korla_buildings_gbk.*"):
            zf.write(f, f.name)
    env = os.environ | {"DATABASE_URL": test_database_url()}
    login(page, server, "surveyor")
    page.goto(server + "/ingest/upload/")
    page.set_input_files("#id_files", str(archive))
    page.fill("#id_layer", "e2e-buildings")
    page.fill("#id_title", "房屋（浏览器上传）")
    page.select_option("#id_department", label="自然资源局 (zrzy)")
    page.click("#upload-form button[type=submit]")
    page.wait_for_selector("#job-status[data-status=queued]")
    log = tmp_path / "worker.log"
    worker = subprocess.Popen([sys.executable, "-m", "geoplatform.cli", "worker"], cwd=ROOT, env=env,
                              stdout=log.open("w"), stderr=subprocess.STDOUT)
    try:
        try:
            page.wait_for_selector("#job-status:not([data-status=queued]):not([data-status=running])", timeout=60_000)
        except Exception as exc:
            from procrastinate.contrib.django.models import ProcrastinateJob

            from ingest.models import IngestJob

            queued = list(ProcrastinateJob.objects.values_list("id", "task_name", "status", "args"))
            jobs = list(IngestJob.objects.values_list("id", "status", "message"))
            raise AssertionError(f"the job did not finish: {jobs} {queued}; worker log:\n{log.read_text()}") from exc
        status = page.get_attribute("#job-status", "data-status")
        assert status == "succeeded", page.inner_text("#job-message")
        assert "GB18030" in page.content()
        page.click("a[href='/layers/e2e-buildings/']")
        page.wait_for_selector("#map[data-ready='e2e-buildings']", timeout=20_000)
    finally:
        worker.terminate()
        worker.wait(timeout=20)
        subprocess.run([sys.executable, "-m", "geoplatform.cli", "shell", "-c",
                        "from layers.models import Layer; Layer.objects.filter(slug='e2e-buildings').delete()"],
                       cwd=ROOT, env=env, check=True, capture_output=True)
