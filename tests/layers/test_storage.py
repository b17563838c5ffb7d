"""One real PostGIS table per vector layer: typed columns, 4490 geometry, GiST index, safe names."""

import pytest
import shapely
from django.db import connection

from layers import storage
from layers.errors import InvalidInput
from layers.storage import Column


def fetch(query, params=()):
    with connection.cursor() as cur:
        cur.execute(query, params)
        return cur.fetchall()


def test_sample_layer_is_a_plain_table_with_typed_columns_and_gist_index(layers):
    table = layers["restricted"].table_name
    assert fetch("SELECT Find_SRID('data', %s, 'geom')", [table]) == [(4490,)]
    assert fetch("SELECT type FROM geometry_columns WHERE f_table_schema='data' AND f_table_name=%s", [table]) == [("MULTIPOINT",)]
    indexes = fetch("SELECT indexdef FROM pg_indexes WHERE schemaname='data' AND tablename=%s", [table])
    assert any("USING gist (geom)" in d for (d,) in indexes)
    types = {c.name: c.type for c in storage.columns_of(table)}
    assert types["elevation"] == "double precision"
    assert types["point_id"] == "text"


def test_hostile_and_chinese_names_are_quoted_not_executed(db):
    table = 'evil"; DROP TABLE layers_layer; --'
    columns = [Column("名称", "text"), Column('x"); DROP TABLE layers_department; --', "bigint")]
    storage.create_table(table, "MultiPoint", columns)
    point = shapely.to_wkb(shapely.set_srid(shapely.MultiPoint([(86.1, 41.7)]), 4490), include_srid=True)
    assert storage.copy_rows(table, columns, [(point, "库尔勒", 7)]) == 1
    assert storage.table_exists(table)
    assert fetch("SELECT count(*) FROM layers_layer")[0][0] > 0
    n, box = storage.table_stats(table)
    assert n == 1 and box == pytest.approx((86.1, 41.7, 86.1, 41.7))
    assert [c.name for c in storage.columns_of(table)] == ["名称", 'x"); DROP TABLE layers_department; --']


def test_column_types_and_names_are_checked():
    with pytest.raises(InvalidInput):
        Column("a", "text; DROP TABLE x")
    with pytest.raises(InvalidInput):
        Column("geom", "text")
    with pytest.raises(InvalidInput):
        Column("长" * 22, "text")  # 66 bytes: longer than a PostgreSQL identifier


def test_unknown_geometry_type_is_refused(db):
    with pytest.raises(InvalidInput):
        storage.create_table("t_bad", "GeometryCollection", [])


def test_deleting_a_layer_drops_its_table(layers):
    table = layers["internal"].table_name
    layers["internal"].delete()
    assert not storage.table_exists(table)
