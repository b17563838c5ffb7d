"""Raster layers through MapProxy + MapServer: in the capabilities by access, rendered on both
grids and in WMS, part of the basemap, and a new version starts a fresh cache."""

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from ingest.raster import pipeline
from layers.models import Layer
from tiles.mapproxy import catalog, config, mapfile

from ..conftest import user
from .test_mapproxy import _keep_test_connection, client, getmap, png, tiles, token_for, wms_layer_names  # noqa: F401

BOSTEN = (86.4, 41.5, 87.6, 42.3)  # lon/lat box over 博斯腾湖 and its mountains


def capabilities(client, headers=None):
    return wms_layer_names(client.get("/tiles/service", query_string={"SERVICE": "WMS", "REQUEST": "GetCapabilities",
                                                                     "VERSION": "1.3.0"}, headers=headers or {}))


def test_raster_layers_are_served_by_access(client):
    anonymous = capabilities(client)
    assert {"dem-bayingolin", "dem-bayingolin-hillshade", "dem-bayingolin-relief"} <= anonymous
    assert "korla-dom" not in anonymous and "korla-dem" not in anonymous
    assert {"korla-dom", "korla-dem-hillshade"} <= capabilities(client, token_for("surveyor"))


@pytest.mark.parametrize("crs, bbox", [("EPSG:4490", (BOSTEN[1], BOSTEN[0], BOSTEN[3], BOSTEN[2])),
                                       ("EPSG:3857", None)])
def test_colour_relief_renders_in_wms(client, crs, bbox):
    if bbox is None:
        from pyproj import Transformer
        t = Transformer.from_crs(4326, 3857, always_xy=True)
        (x0, y0), (x1, y1) = t.transform(BOSTEN[0], BOSTEN[1]), t.transform(BOSTEN[2], BOSTEN[3])
        bbox = (x0, y0, x1, y1)
    img = png(getmap(client, "dem-bayingolin-relief", crs, bbox))
    colours = {img.getpixel((x, y))[:3] for x in range(0, 256, 16) for y in range(0, 256, 16)}
    assert len(colours) > 5  # a relief, not one flat colour
    assert img.getchannel("A").getextrema()[1] == 255


def test_orthophoto_tile_for_a_department_only(client):
    # WMTS z17 tile over the Korla sample sheet (E 429 375, N 4 622 125 in EPSG:4538 ≈ 86.187E 41.742N)
    from pyproj import Transformer
    lon, lat = Transformer.from_crs(4538, 4490, always_xy=True).transform(429_375, 4_622_125)
    n = 2 ** 17
    x = int((lon + 180) / 360 * n)
    import math
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    url = f"/tiles/wmts/korla-dom/GLOBAL_WEBMERCATOR/17/{x}/{y}.png"
    assert client.get(url).status_code == 403
    img = png(client.get(url, headers=token_for("surveyor")))
    rgb = np.asarray(img)[..., :3].reshape(-1, 3)
    assert img.getchannel("A").getextrema() == (255, 255) and len(np.unique(rgb, axis=0)) > 50


def test_cgcs2000_grid_tile_of_the_hillshade(client):
    # Tianditu's `c` grid, level 6 (1.40625°/2^6 per pixel): the tile over the Tianshan north of Korla.
    res = 1.40625 / 2 ** 6
    x, y = int((86.0 + 180) / (256 * res)), int((90 - 42.5) / (256 * res))
    img = png(client.get(f"/tiles/wmts/dem-bayingolin-hillshade/cgcs2000_c/06/{x}/{y}.png"))
    grey = np.asarray(img)[..., 0]
    # drawn at 55 % opacity (multiplied over the relief in the basemap), with relief in it
    assert img.getchannel("A").getextrema()[1] == 140 and grey.std() > 2


def test_raster_tiles_are_rendered_one_at_a_time(client, tiles):
    import yaml

    conf = yaml.safe_load((tiles.root / "mapproxy/mapproxy.yaml").read_text())
    layers = {entry["name"]: entry for entry in conf["layers"]}
    public = conf["caches"][layers["dem-bayingolin-hillshade"]["sources"][0]]
    internal = conf["caches"][layers["korla-dom"]["tile_sources"][0]]
    for cache in (public, internal):  # no labels to keep whole: no metatile, no buffer
        assert cache["meta_size"] == [1, 1] and cache["meta_buffer"] == 0
    assert not public.get("disable_storage") and internal["disable_storage"] is True
    # a public raster tile is stored alone, not with its 15 neighbours of a 4 × 4 metatile
    res = 1.40625 / 2 ** 7
    x, y = int((86.0 + 180) / (256 * res)), int((90 - 42.5) / (256 * res))
    png(client.get(f"/tiles/wmts/dem-bayingolin-hillshade/cgcs2000_c/07/{x}/{y}.png"))
    stored = list(tiles.cache.glob("dem-bayingolin-hillshade_*/cgcs2000_c/7/*/*.png"))
    assert len(stored) == 1


def test_basemap_draws_hillshade_and_relief_first():
    members = [layer.slug for layer in mapfile.basemap_layers(catalog.vector_layers() + catalog.raster_layers())]
    assert members[:2] == ["dem-bayingolin-relief", "dem-bayingolin-hillshade"]
    assert "korla-dom" not in members  # internal: never in the public basemap


def test_a_new_version_changes_the_cache_key(tmp_path, settings):
    settings.RASTER_DIR = tmp_path / "r"
    src = tmp_path / "d.tif"
    with rasterio.open(src, "w", driver="GTiff", width=50, height=50, count=1, dtype="float32", crs="EPSG:4538",
                       transform=from_origin(429_000, 4_623_000, 2, 2), nodata=-9999) as ds:
        ds.write(np.full((1, 50, 50), 950, "float32"))
    for mode in ("create", "replace"):
        options = pipeline.RasterOptions(layer="t-key", kind="dem", mode=mode, department="zrzy", access="public",
                                         derived=False)
        pipeline.run(pipeline.create_job(src, options), src, options)
        spec = next(s for s in catalog.raster_layers() if s.slug == "t-key")
        key = mapfile.render_key(spec)
        if mode == "create":
            first = config.cache_name(spec, key)
    assert config.cache_name(spec, key) != first and Layer.objects.get(slug="t-key").raster_versions.count() == 2
