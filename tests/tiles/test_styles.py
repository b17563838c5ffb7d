"""Styles (tiles/styles/): which style a layer gets, and what MapServer draws with it, checked on
tiles rendered through the real MapProxy and MapServer from the session's sample data.

Pixel checks look for a style's own colours at a feature's position: a POI's symbol, the contour
label colour, the scenic-spot star. The Uyghur check measures the label's second line against the
same text laid out by HarfBuzz (Pillow's raqm) and without shaping.
"""

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
import yaml
from django.db import connection
from django.test.utils import override_settings
from PIL import ImageFont
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.test import Client

from layers.models import Access, Layer
from tests.tiles.test_mapproxy import (  # noqa: F401 (_keep_test_connection: autouse fixture)
    _keep_test_connection,
    _not_django,
    cgcs2000_tile,
    drawn_pixels,
    png,
    token_for,
    use_dir,
    webmercator_tile,
)
from tiles.mapproxy import catalog, config, fonts, invalidate, mapfile
from tiles.mapproxy.app import make_app
from tiles.mapproxy.catalog import LayerSpec

GRIDS = [("GLOBAL_WEBMERCATOR", webmercator_tile), ("cgcs2000_c", cgcs2000_tile)]
CONTOURS = [(0xC0, 0x8A, 0x55), (0xA0, 0x62, 0x2D)]  # targets/contours.map, parts/contour-index.map
MEDICAL, ACCOMMODATION = (0xE3, 0x1A, 0x1C), (0x6A, 0x51, 0xA3)  # layers/poi.map
SCENIC_4A_5A, CATERING = (0xD7, 0x30, 0x1F), (0xF1, 0x69, 0x13)
SCENIC_LABEL = (0xA5, 0x0F, 0x15)
ARABIC_FONT = fonts.arabic_font()  # the reference layout's font


@pytest.fixture(scope="module")
def tiles(django_db_setup, django_db_blocker, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("data")
    with override_settings(DATA_DIR=data_dir, TILES_DIR=data_dir / "tiles"), django_db_blocker.unblock():
        config.regenerate()
        app = DispatcherMiddleware(_not_django, {"/tiles": make_app()})
        yield SimpleNamespace(app=app, data_dir=data_dir, root=data_dir / "tiles",
                              cache=data_dir / "tiles/mapproxy/cache")


@pytest.fixture
def client(tiles):
    return Client(tiles.app)


def spec(slug: str) -> LayerSpec:
    return next(s for s in catalog.vector_layers() if s.slug == slug)


def poi(name: str) -> tuple[float, float]:
    with connection.cursor() as cur:
        cur.execute("SELECT ST_X(ST_GeometryN(geom, 1)), ST_Y(ST_GeometryN(geom, 1)) FROM data.layer_poi "
                    "WHERE name = %s", [name])
        return cur.fetchone()


def tile(client, layer, grid, tile_of, lon, lat, z, headers=None):
    col, row, px, py = tile_of(lon, lat, z)
    return png(client.get(f"/tiles/wmts/{layer}/{grid}/{z}/{col}/{row}.png", headers=headers or {})), px, py


def like(pixel, colour, tolerance=30) -> bool:
    return pixel[3] > 200 and all(abs(pixel[i] - colour[i]) <= tolerance for i in range(3))


def near(img, x, y, colour, r=3, tolerance=30) -> int:
    """Pixels of `colour` within r px of (x, y)."""
    return sum(like(img.getpixel((i, j)), colour, tolerance)
               for i in range(max(int(x) - r, 0), min(int(x) + r + 1, img.width))
               for j in range(max(int(y) - r, 0), min(int(y) + r + 1, img.height)))


def count(img, colour, tolerance=30) -> int:
    return sum(like(img.getpixel((x, y)), colour, tolerance) for x in range(img.width) for y in range(img.height))


# --- which style -----------------------------------------------------------------------------


def test_every_dlg_layer_takes_the_style_of_its_cass_target():
    targets = mapfile.cass_targets()
    assert targets["contours"] == "LINE" and targets["buildings"] == "POLYGON" and targets["unmapped"] == ""
    dlg = [s for s in catalog.vector_layers() if s.slug.startswith("korla-dlg-")]
    assert {s.slug for s in dlg} >= {"korla-dlg-buildings", "korla-dlg-contours", "korla-dlg-roads",
                                     "korla-dlg-spot-heights", "korla-dlg-water-areas", "korla-dlg-labels"}
    for layer in dlg:
        target = layer.slug.removeprefix("korla-dlg-")
        if target == "unmapped":  # no style of its own: the geometry's
            assert mapfile.style_template(layer) == f"{layer.ms_type.lower()}.map"
        else:
            assert mapfile.style_template(layer) == f"targets/{target}.map", layer.slug
    # Any sheet's layers: `<target>` or `<anything>-<target>`, the longest target, the right geometry.
    line = LayerSpec(slug="x", title="", abstract="", attribution="", table="t", schema="data",
                     geometry_type=Layer.GeometryType.LINE, srid=4490, access=Access.RESTRICTED, extent=None,
                     label=None)
    assert mapfile.style_template(replace(line, slug="roads")) == "targets/roads.map"
    assert mapfile.style_template(replace(line, slug="wuhai-0412-water-lines")) == "targets/water-lines.map"
    polygon = replace(line, slug="sheet7-roads", geometry_type=Layer.GeometryType.POLYGON)
    assert mapfile.style_template(polygon) == "polygon.map"  # roads are lines: not the roads style
    assert mapfile.style_template(spec("poi")) == "layers/poi.map"  # a layer's own style first


def test_styles_use_only_the_columns_a_table_has(tiles):
    text = (tiles.root / "mapserver/geoplatform.map").read_text()
    contours = text[text.index('NAME "korla-dlg-contours"'):]
    contours = contours[:contours.index("\n  END\n")]
    assert 'EXPRESSION ("[index]" = "true" AND "[elevation]" != "")' in contours  # JQX, from the mapping
    assert f"MAXSCALEDENOM {mapfile.FROM_ZOOM[15]}" in contours
    # The GeoJSON control points (point_id, no `text`) take the control-point style with their label.
    points = text[text.index('NAME "korla-control-points"'):]
    assert 'LABELITEM "point_id"' in points[:2000] and 'SYMBOL "triangle"' in points[:2000]


# --- scale -----------------------------------------------------------------------------------


@pytest.mark.parametrize("grid, tile_of", GRIDS)
def test_large_scale_detail_from_level_15_only(client, grid, tile_of):
    lon, lat = 86.1511, 41.7312  # the middle of the sample sheet 4622.00-429.25
    token = token_for("surveyor")
    for z, drawn in [(13, False), (14, False), (15, True), (16, True)]:
        img, _px, _py = tile(client, "korla-dlg-buildings", grid, tile_of, lon, lat, z, token)
        assert (drawn_pixels(img) > 0) is drawn, (grid, z)


def test_index_contours_are_labelled_along_the_line_at_level_17(client):
    extent = Layer.objects.get(slug="korla-dlg-contours").extent.extent
    token = token_for("surveyor")

    def label_pixels(z):
        (c0, r0, _, _), (c1, r1, _, _) = (webmercator_tile(extent[0], extent[3], z),
                                          webmercator_tile(extent[2], extent[1], z))
        found, drawn = 0, 0
        for col in range(c0, c1 + 1):
            for row in range(r0, r1 + 1):
                img = png(client.get(f"/tiles/wmts/korla-dlg-contours/GLOBAL_WEBMERCATOR/{z}/{col}/{row}.png",
                                     headers=token))
                # Text is drawn over its (white) halo: opaque pixels between the label colour and
                # white, which no line has (lines: their own colour, opaque or translucent).
                found += sum(1 for x in range(img.width) for y in range(img.height)
                             if img.getpixel((x, y))[3] == 255
                             and not any(like(img.getpixel((x, y)), line, tolerance=20) for line in CONTOURS))
                drawn += drawn_pixels(img)
        return found, drawn

    labels, lines = label_pixels(17)
    assert labels > 50 and lines > 1000  # elevations written along the index contours
    labels, lines = label_pixels(15)
    assert labels == 0 and lines > 200  # the lines only


# --- POIs ------------------------------------------------------------------------------------


@pytest.mark.parametrize("grid, tile_of", GRIDS)
@pytest.mark.parametrize("name, colour", [("巴州人民医院", MEDICAL), ("孔雀河示例宾馆", ACCOMMODATION)])
def test_poi_symbol_has_its_category_group_colour(client, grid, tile_of, name, colour):
    img, px, py = tile(client, "poi", grid, tile_of, *poi(name), 15)
    assert like(img.getpixel((int(px), int(py))), colour), img.getpixel((int(px), int(py)))


@pytest.mark.parametrize("grid, tile_of", GRIDS)
def test_scenic_spots_show_from_level_8_restaurants_from_level_13(client, grid, tile_of):
    scenic, restaurant = poi("博斯腾湖景区"), poi("示例拌面馆")  # 5A scenic spot; a restaurant in Korla
    assert near(*tile(client, "poi", grid, tile_of, *scenic, 7), SCENIC_4A_5A) == 0
    for z in (8, 9):
        assert near(*tile(client, "poi", grid, tile_of, *scenic, z), SCENIC_4A_5A) > 10, z
    for z in (9, 12):
        assert near(*tile(client, "poi", grid, tile_of, *restaurant, z), CATERING) == 0, z
    assert near(*tile(client, "poi", grid, tile_of, *restaurant, 13), CATERING) > 10


def test_closed_pois_are_not_drawn(client):
    with connection.cursor() as cur:
        cur.execute("SELECT name FROM data.layer_poi WHERE status = 'closed' AND category_group = 'catering'")
        name = cur.fetchone()[0]
    img, px, py = tile(client, "poi", "GLOBAL_WEBMERCATOR", webmercator_tile, *poi(name), 16)
    assert near(img, px, py, CATERING) == 0


def _lines(img, colour):
    """Rows of the label's text (its colour, not the halo), grouped into lines (a gap of 3 rows or
    more; dots below a line stay with it): (top, bottom, width, pixels)."""
    pixels = [(x, y) for y in range(img.height) for x in range(img.width)
              if like(img.getpixel((x, y)), colour, tolerance=45)]
    rows = sorted({y for _x, y in pixels})
    groups, current = [], [rows[0]]
    for y in rows[1:]:
        if y - current[-1] > 3:
            groups.append(current)
            current = []
        current.append(y)
    groups.append(current)
    lines = []
    for g in groups:
        xs = [x for x, y in pixels if g[0] <= y <= g[-1]]
        lines.append((g[0], g[-1], max(xs) - min(xs) + 1, len(xs)))
    return lines


def test_uyghur_name_is_drawn_shaped_right_to_left_below_the_chinese(client, tiles):
    """巴音布鲁克天鹅湖 (no other POI near): its label's second line is the Uyghur name in an
    Arabic-script font, letters joined (HarfBuzz) and ordered right to left (FriBidi). Its width
    against the Chinese line matches the shaped layout, not isolated letters or missing glyphs."""
    with connection.cursor() as cur:
        cur.execute("SELECT name, name_ug, ST_X(ST_GeometryN(geom, 1)), ST_Y(ST_GeometryN(geom, 1)) "
                    "FROM data.layer_poi WHERE name = '巴音布鲁克天鹅湖'")
        name, name_ug, lon, lat = cur.fetchone()
    d = 0.02
    img = png(client.get("/tiles/service", query_string={
        "SERVICE": "WMS", "REQUEST": "GetMap", "VERSION": "1.1.1", "LAYERS": "poi", "STYLES": "",
        "SRS": "EPSG:4490", "BBOX": f"{lon - d},{lat - d},{lon + d},{lat + d}", "WIDTH": 512, "HEIGHT": 512,
        "FORMAT": "image/png", "TRANSPARENT": "TRUE"}))
    lines = _lines(img, SCENIC_LABEL)
    assert len(lines) == 2, lines
    (top1, bottom1, chinese, _), (top2, _bottom2, uyghur, ink) = lines
    assert top2 > bottom1 and ink > 40  # a second line, with ink

    fontset = dict(line.split(None, 1) for line in (tiles.root / "mapserver/fonts.txt").read_text().splitlines())
    layouts = {}
    for engine in (ImageFont.Layout.RAQM, ImageFont.Layout.BASIC):
        cjk = ImageFont.truetype(fontset["cjk"].strip(), 40, layout_engine=engine)
        arabic = ImageFont.truetype(str(ARABIC_FONT), 40, layout_engine=engine)
        layouts[engine] = arabic.getlength(name_ug) / cjk.getlength(name)
    shaped, unshaped = layouts[ImageFont.Layout.RAQM], layouts[ImageFont.Layout.BASIC]
    assert abs(unshaped - shaped) > 0.3  # the check can tell them apart
    assert uyghur / chinese == pytest.approx(shaped, rel=0.12), (uyghur / chinese, shaped, unshaped)


def test_fontset_has_a_font_with_the_uyghur_letters(tiles):
    from fontTools.ttLib import TTFont

    fontset = dict(line.split(None, 1) for line in (tiles.root / "mapserver/fonts.txt").read_text().splitlines())
    cmap = TTFont(fontset["arabic"].strip(), fontNumber=0).getBestCmap()
    assert all(ord(c) in cmap for c in "ئاەبپتجچخدرزژسشغفقكگڭلمنھوۇۆۈۋېيى")


# --- the combined basemap --------------------------------------------------------------------


def test_basemap_draws_the_public_layers_in_one_request(tiles):
    conf = yaml.safe_load((tiles.root / "mapproxy/mapproxy.yaml").read_text())
    source = conf["sources"]["basemap_source"]
    members = source["req"]["layers"].split(",")
    # bottom first: the public DEM's colour relief and hillshade, county fills, lakes, prefecture
    # outlines, places, POIs
    assert members[:3] == ["dem-bayingolin-relief", "dem-bayingolin-hillshade", "admin-counties"]
    assert members[-2:] == ["places", "poi"]
    assert members.index("lakes") < members.index("admin-prefectures") < members.index("places")
    assert all(Layer.objects.get(slug=slug).access == Access.PUBLIC for slug in members)
    entry = next(lyr for lyr in conf["layers"] if lyr["name"] == "basemap")
    cache = conf["caches"][entry["sources"][0]]
    assert not cache.get("disable_storage") and cache["meta_size"] == [4, 4]
    # every label lies inside one metatile's core: none is cut at a metatile edge
    assert f'"labelcache_map_edge_buffer" "-{config.META_BUFFER}"' in \
        (tiles.root / "mapserver/geoplatform.map").read_text()


@pytest.mark.parametrize("grid, tile_of", GRIDS)
def test_basemap_tiles_for_everyone(client, grid, tile_of):
    lon, lat = poi("博斯腾湖景区")
    img, px, py = tile(client, "basemap", grid, tile_of, lon, lat, 9)
    assert near(img, px, py, SCENIC_4A_5A) > 10  # the POI on top
    # Bosten Lake's water under it (its translucent blue over the DEM's relief and hillshade)
    rgb = np.asarray(img.convert("RGB")).astype(int)
    assert ((rgb[..., 2] > rgb[..., 0] + 30) & (rgb[..., 2] > rgb[..., 1])).sum() > 500
    assert client.get(f"/tiles/wmts/basemap/{grid}/9/0/0.png").status_code == 200  # anonymous


def test_a_member_data_change_removes_basemap_tiles(client, tiles, settings):
    use_dir(settings, tiles.data_dir)
    lon, lat = poi("博斯腾湖景区")
    col, row, _px, _py = cgcs2000_tile(lon, lat, 10)
    png(client.get(f"/tiles/wmts/basemap/cgcs2000_c/10/{col}/{row}.png"))
    stored = next(tiles.cache.glob(f"basemap_*/cgcs2000_c/10/{col}/{row}.png"))
    assert invalidate.layer_tiles("poi", (lon, lat, lon, lat)) > 0
    assert not stored.exists()
