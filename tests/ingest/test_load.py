"""Loading a vector file into a new layer: atomic, secure by default, errors name file and feature."""

import json

import pytest
from django.db import connection

from ingest.load import LayerSpec, load_new_layer
from layers import storage
from layers.errors import Conflict, InvalidInput
from layers.models import Access, AuditEntry, Layer

from ..conftest import SAMPLE


def write(path, features, crs=None):
    fc = {"type": "FeatureCollection", "features": features}
    path.write_text(json.dumps(fc, ensure_ascii=False), encoding="utf-8")
    return path


def feature(geometry, **props):
    return {"type": "Feature", "geometry": geometry, "properties": props}


def test_new_layer_is_internal_with_native_crs_extent_and_audit(db):
    layer = load_new_layer(SAMPLE / "lakes.geojson", LayerSpec(slug="lakes-copy", title_zh="湖泊副本", department="zrzy"))
    assert layer.access == Access.INTERNAL
    assert (layer.native_srid, layer.storage_srid) == (4326, 4490)
    assert layer.geometry_type == "MultiPolygon"  # single polygons promoted
    assert layer.feature_count == 4
    xmin, ymin, xmax, ymax = layer.extent.extent
    assert 80 < xmin < xmax < 95 and 35 < ymin < ymax < 43
    entry = AuditEntry.objects.get(layer=layer)
    assert entry.action == "layer.create" and entry.details["features"] == 4
    with connection.cursor() as cur:
        cur.execute(f'SELECT name FROM data."{layer.table_name}" ORDER BY name')
        assert "博斯腾湖" in [r[0] for r in cur.fetchall()]


def test_invalid_geometry_is_rejected_naming_file_and_feature_and_nothing_is_left(tmp_path):
    bowtie = {"type": "Polygon", "coordinates": [[[86, 41], [87, 42], [87, 41], [86, 42], [86, 41]]]}
    good = {"type": "Polygon", "coordinates": [[[86, 41], [87, 41], [87, 42], [86, 41]]]}
    path = write(tmp_path / "地块.geojson", [feature(good, 名称="好"), feature(bowtie, 名称="坏")])
    with pytest.raises(InvalidInput) as err:
        load_new_layer(path, LayerSpec(slug="parcels", title_zh="地块", department="zrzy"))
    message = str(err.value)
    assert "地块.geojson" in message and "feature 2" in message and "Self-intersection" in message
    assert not Layer.objects.filter(slug="parcels").exists()
    assert not storage.table_exists(storage.table_for_slug("parcels"))


def test_existing_slug_is_a_conflict_and_keeps_the_old_layer(layers):
    before = layers["public"].feature_count
    with pytest.raises(Conflict):
        load_new_layer(SAMPLE / "lakes.geojson", LayerSpec(slug=layers["public"].slug, title_zh="x", department="zrzy"))
    assert Layer.objects.get(slug=layers["public"].slug).feature_count == before


def test_unknown_department_and_access_are_refused(db):
    with pytest.raises(InvalidInput, match="department"):
        load_new_layer(SAMPLE / "lakes.geojson", LayerSpec(slug="a1", title_zh="x", department="nope"))
    with pytest.raises(InvalidInput, match="access"):
        load_new_layer(SAMPLE / "lakes.geojson", LayerSpec(slug="a2", title_zh="x", department="zrzy", access="secret"))


def test_unreadable_file_is_refused(tmp_path):
    path = tmp_path / "broken.geojson"
    path.write_text("{not json")
    with pytest.raises(InvalidInput, match="broken.geojson"):
        load_new_layer(path, LayerSpec(slug="broken", title_zh="x", department="zrzy"))
