"""Chinese by default, English and Uyghur through Django i18n; catalogs complete."""

import subprocess

import pytest

from ..conftest import ROOT


@pytest.mark.parametrize("lang", ["zh_Hans", "ug"])
def test_catalog_is_complete(lang):
    po = ROOT / "geoplatform" / "locale" / lang / "LC_MESSAGES" / "django.po"
    for flag in ["--untranslated", "--only-fuzzy"]:
        left = subprocess.run(["msgattrib", flag, "--no-obsolete", str(po)], capture_output=True, text=True, check=True)
        missing = [line for line in left.stdout.splitlines() if line.startswith("msgid ") and line != 'msgid ""']
        assert not missing, f"{lang}: {flag} {missing}"


@pytest.mark.parametrize(
    "accept, heading, direction",
    [("", "图层", "ltr"), ("zh-CN", "图层", "ltr"), ("en", "Layers", "ltr"), ("ug", "قەۋەتلەر", "rtl")],
)
def test_home_page_language(client, accept, heading, direction):
    headers = {"HTTP_ACCEPT_LANGUAGE": accept} if accept else {}
    page = client.get("/", **headers).content.decode()
    assert f"<h1>{heading}</h1>" in page
    assert f'dir="{direction}"' in page
