"""CASS DXF reader: CAD layers fan out into mapped targets with codes, heights and labels intact."""

import importlib.util
import json
import math

import ezdxf
import pytest
import shapely

from ingest.readers import load_reader
from ingest.readers.dxf import CassDxfReader, load_mapping
from layers.errors import InvalidInput

from ..conftest import SAMPLE

SHEET = SAMPLE / "dxf" / "korla_4622.00-429.25.dxf"
EXPECTED = {
    "control-points": 3,
    "buildings": 26,  # closed outlines
    "building-lines": 1,  # the open fence (围墙) on JMD, routed by the mapping's line_target
    "independent-features": 9,
    "roads": 8,
    "water-lines": 1,
    "water-areas": 1,
    "vegetation": 1,
    "vegetation-symbols": 6,
    "contours": 10,
    "spot-heights": 30,
    "labels": 41,
    "sheet-frame": 1,
    "unmapped": 6,
}


def rows(source):
    """All features of a source layer as (geometry, {column: value}) pairs."""
    out = []
    for batch in source.batches():
        for i, geom in enumerate(batch.geoms):
            out.append((geom, {name: values[i] for name, values in batch.attrs.items()}))
    return out


@pytest.fixture(scope="module")
def sheet():
    return {s.name: s for s in CassDxfReader().open(SHEET)}


@pytest.fixture(scope="module")
def generator():
    spec = importlib.util.spec_from_file_location("make_cass_dxf", SAMPLE / "make_cass_dxf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_reader_claims_dxf_and_takes_the_pipelines_arguments(tmp_path):
    assert isinstance(load_reader("ingest.readers.dxf.CassDxfReader"), CassDxfReader)
    assert CassDxfReader.suffixes == (".dxf",)
    assert len(CassDxfReader().open(SHEET, encoding=None, source_layer=None, workdir=tmp_path)) == len(EXPECTED)


def test_sample_sheet_fans_out_into_the_mapped_targets(sheet):
    assert {name: s.count for name, s in sheet.items()} == EXPECTED
    assert list(sheet) == list(EXPECTED)  # in mapping order
    for name, source in sheet.items():
        assert sum(len(b.geoms) for b in source.batches()) == EXPECTED[name]
        assert source.crs is None and "no coordinate system" in source.crs_note
        assert source.extra["sheet_ids"] == ["4622.00-429.25"]
        names = [c.name for c in source.fields]
        assert names[:8] == ["cad_layer", "entity", "handle", "feature_code", "elevation", "text", "block", "attributes"]
        assert ("index" in names) == (name == "contours")
    assert sheet["buildings"].extra["title_zh"] == "居民地"
    assert sheet["buildings"].geometry_type == "Polygon"
    assert sheet["contours"].extra["cad_layers"] == {"DGX": 8, "JQX": 2}
    assert sheet["labels"].extra["cad_layers"] == {"ZJ": 36, "TK": 3, "JQX": 2}


def test_geometry_is_2d_and_inside_the_sheet(sheet):
    frame = shapely.box(429250, 4622000, 429500, 4622250)
    for name, source in sheet.items():
        for geom, attrs in rows(source):
            assert not geom.has_z, (name, attrs["handle"])
            if name not in ("labels", "sheet-frame"):  # titles sit outside the frame
                assert frame.buffer(0.01).contains(geom), (name, attrs["handle"])
    (frame_geom, _), = rows(sheet["sheet-frame"])
    assert frame_geom.geom_type == "Polygon" and frame_geom.equals(frame)


def test_buildings_are_valid_polygons_with_codes_and_the_open_fence_is_a_line(sheet):
    buildings = rows(sheet["buildings"])
    polygons = [(g, a) for g, a in buildings if g.geom_type == "Polygon"]
    lines = rows(sheet["building-lines"])
    assert len(polygons) == 26 and all(g.is_valid and g.area > 20 for g, _ in polygons)
    assert {a["feature_code"] for _, a in polygons} == {"141101", "141200"}
    assert [(g.geom_type, a["feature_code"]) for g, a in lines] == [("LineString", "144301")]
    assert all(a["entity"] == "LWPOLYLINE" and a["handle"] for _, a in buildings)
    assert len({a["handle"] for _, a in buildings + lines}) == 27
    l_shaped = [g for g, _ in polygons if len(g.exterior.coords) == 7]
    assert len(l_shaped) == 1 and l_shaped[0].area == pytest.approx(70 * 15 + 18 * 20)


def test_feature_codes_come_from_south_xdata_strings_and_longs(sheet):
    assert {a["feature_code"] for _, a in rows(sheet["roads"])} == {"164100", "164900", "164200"}
    assert {a["feature_code"] for _, a in rows(sheet["contours"])} == {"201101", "201102"}  # 1071 longs
    assert {a["feature_code"] for _, a in rows(sheet["spot-heights"])} == {"202101"}
    assert {a["feature_code"] for _, a in rows(sheet["labels"])} == {None}
    # kerbs have rounded corners: the bulges were turned into arcs
    kerbs = [g for g, a in rows(sheet["roads"]) if a["feature_code"] == "164100"]
    assert len(kerbs) == 4 and all(len(g.coords) > 8 for g in kerbs)
    assert all(g.length == pytest.approx(140 + 118 - 16 + 8 * math.pi / 2, abs=0.01) for g in kerbs[:1])


def test_spot_heights_carry_the_generated_z(sheet, generator):
    spots = rows(sheet["spot-heights"])
    assert len(spots) == 30
    for geom, a in spots:
        assert a["entity"] == "INSERT" and a["block"] == "GC200"
        assert a["elevation"] == pytest.approx(float(a["text"]), abs=1e-9)
        assert json.loads(a["attributes"]) == {"H": a["text"]}
        x, y = geom.x - generator.X0, geom.y - generator.Y0
        assert abs(a["elevation"] - generator.height(x, y)) <= 0.081
    # and the Z in the file is the height, read independently of the reader
    doc = ezdxf.readfile(SHEET)
    z = sorted(round(e.dxf.insert.z, 2) for e in doc.modelspace().query('INSERT[layer=="GCD"]'))
    assert sorted(a["elevation"] for _, a in spots) == z
    assert 925 < min(z) and max(z) < 936


def test_control_points_have_names_and_heights(sheet):
    points = {a["text"]: a for _, a in rows(sheet["control-points"])}
    assert set(points) == {"D01", "D02", "D03"}
    for a in points.values():
        assert a["elevation"] == pytest.approx(float(json.loads(a["attributes"])["H"]))
        assert a["feature_code"] == "131800"


def test_contours_carry_elevation_and_jqx_is_the_index(sheet):
    contours = rows(sheet["contours"])
    for geom, a in contours:
        assert geom.geom_type == "LineString"
        assert a["elevation"] == round(a["elevation"]) and 925 <= a["elevation"] <= 936
        assert bool(a["index"]) == (a["cad_layer"] == "JQX") == (a["elevation"] % 5 == 0)
    assert sorted(a["elevation"] for _, a in contours if a["index"]) == [930, 935]
    assert {a["entity"] for _, a in contours} == {"LWPOLYLINE", "POLYLINE"}  # elevation (38) and 3D vertices
    assert sheet["contours"].fields[-1].type == "boolean"
    # the index contour labels went to labels, keeping their layer and height
    jqx_labels = sorted((a["text"], a["elevation"]) for _, a in rows(sheet["labels"]) if a["cad_layer"] == "JQX")
    assert jqx_labels == [("930", 930.0), ("935", 935.0)]


def test_labels_carry_the_chinese_text(sheet):
    texts = [a["text"] for _, a in rows(sheet["labels"])]
    for expected in ("人民东路", "天山东路", "团结渠", "库尔勒市第二中学", "天山花园\n小区", "砼5", "4622.00-429.25"):
        assert expected in texts
    assert texts.count("人民东路") == 3  # two street labels and the sheet name
    assert not any("\\" in t or "{" in t for t in texts)  # MTEXT formatting removed
    assert "utf-8" in sheet["labels"].encoding_note and "ANSI_936" in sheet["labels"].encoding_note
    # each building label sits inside a building
    buildings = [g for g, _ in rows(sheet["buildings"]) if g.geom_type == "Polygon"]
    structure_labels = [g for g, a in rows(sheet["labels"]) if a["text"][0] in "砼砖混简" and a["cad_layer"] == "ZJ"]
    assert len(structure_labels) == 26
    assert all(any(b.contains(p) for b in buildings) for p in structure_labels)


def test_unmapped_layers_are_kept_with_their_cad_layer(sheet):
    unmapped = rows(sheet["unmapped"])
    assert {(a["cad_layer"], a["entity"], g.geom_type) for g, a in unmapped} == {("SJW", "LINE", "LineString")}
    assert sheet["unmapped"].geometry_type == ""
    assert sheet["unmapped"].extra["cad_layers"] == {"SJW": 6}


def test_source_layer_selects_one_target():
    (only,) = CassDxfReader().open(SHEET, source_layer="spot-heights")
    assert only.name == "spot-heights" and only.count == 30
    with pytest.raises(InvalidInput, match="no target 'pipelines'"):
        CassDxfReader().open(SHEET, source_layer="pipelines")


# ---------------------------------------------------------------------------- small made-up files

def gbk_r2000(path, header_encoding="gbk", write_encoding=None):
    doc = ezdxf.new("R2000")
    doc.encoding = header_encoding
    doc.appids.add("SOUTH")
    msp = doc.modelspace()
    msp.add_text("人民东路", dxfattribs={"layer": "ZJ", "insert": (429300, 4622130)})
    msp.add_mtext(r"{\fSimSun|b0|i0|c134|p2;天山花园}\P小区", dxfattribs={"layer": "ZJ", "insert": (429300, 4622030)})
    building = msp.add_lwpolyline([(0, 0), (10, 0), (10, 8), (0, 8)], close=True, dxfattribs={"layer": "JMD"})
    building.set_xdata("SOUTH", [(1000, "141101")])
    doc.saveas(path, encoding=write_encoding)
    return path


def test_gbk_r2000_dxf_decodes_by_its_codepage(tmp_path):
    path = gbk_r2000(tmp_path / "gbk.dxf")
    raw = path.read_bytes()
    assert b"ANSI_936" in raw and "人民东路".encode("gbk") in raw  # really GBK bytes
    layers = {s.name: s for s in CassDxfReader().open(path)}
    labels = [a["text"] for _, a in rows(layers["labels"])]
    assert labels == ["人民东路", "天山花园\n小区"]
    assert layers["labels"].encoding == "gb18030" and "ANSI_936" in layers["labels"].encoding_note
    assert [a["feature_code"] for _, a in rows(layers["buildings"])] == ["141101"]


def test_encoding_argument_overrides_a_wrong_codepage(tmp_path):
    # GBK bytes behind a header that claims ANSI_1252, as some converters write
    path = gbk_r2000(tmp_path / "wrong.dxf", header_encoding="cp1252", write_encoding="gbk")
    assert b"ANSI_1252" in path.read_bytes()
    default = CassDxfReader().open(path, source_layer="labels")[0]
    assert rows(default)[0][1]["text"] != "人民东路"  # cp1252 mojibake, as the header says
    fixed = CassDxfReader().open(path, encoding="GBK", source_layer="labels")[0]
    assert [a["text"] for _, a in rows(fixed)] == ["人民东路", "天山花园\n小区"]
    assert "given with --encoding" in fixed.encoding_note
    with pytest.raises(InvalidInput, match="unknown text encoding"):
        CassDxfReader().open(path, encoding="klingon")


def test_r2000_text_that_is_valid_utf8_is_read_as_utf8(tmp_path):
    path = gbk_r2000(tmp_path / "u8.dxf", header_encoding="cp1252", write_encoding="utf-8")
    (labels,) = CassDxfReader().open(path, source_layer="labels")
    assert [a["text"] for _, a in rows(labels)][0] == "人民东路"
    assert "valid UTF-8" in labels.encoding_note


def test_mapping_is_case_insensitive_and_patterns_work(tmp_path):
    doc = ezdxf.new("R2010")
    msp = doc.modelspace()
    msp.add_lwpolyline([(0, 0), (10, 0), (10, 8), (0, 8)], close=True, dxfattribs={"layer": "jmd"})
    msp.add_lwpolyline([(0, 0), (5, 0), (5, 5)], dxfattribs={"layer": "Dgx", "elevation": 931.0})
    msp.add_lwpolyline([(20, 0), (30, 0), (30, 8), (20, 8)], close=True, dxfattribs={"layer": "JMD_附属"})
    msp.add_text("\\U+5929山", dxfattribs={"layer": "zj", "insert": (1, 1)})
    path = tmp_path / "case.dxf"
    doc.saveas(path)

    default = {s.name: s for s in CassDxfReader().open(path)}
    assert {n: s.extra["cad_layers"] for n, s in default.items()} == {
        "buildings": {"jmd": 1}, "contours": {"Dgx": 1}, "labels": {"zj": 1}, "unmapped": {"JMD_附属": 1},
    }
    assert rows(default["contours"])[0][1]["elevation"] == 931.0
    assert rows(default["labels"])[0][1]["text"] == "天山"  # \U+ escapes decoded

    mapping = json.loads(load_mapping().path.read_text(encoding="utf-8"))
    mapping["layers"]["jmd*"] = {"target": "water-areas", "close_to_polygon": True}  # a pattern
    custom = tmp_path / "mapping.json"
    custom.write_text(json.dumps(mapping, ensure_ascii=False), encoding="utf-8")
    layers = {s.name: s for s in CassDxfReader(custom).open(path)}
    assert layers["buildings"].extra["cad_layers"] == {"jmd": 1}  # the exact name wins over the pattern
    assert layers["water-areas"].extra["cad_layers"] == {"JMD_附属": 1}
    assert "unmapped" not in layers


def test_heights_from_2d_polylines_points_and_attribute_text(tmp_path):
    doc = ezdxf.new("R12")
    doc.blocks.new("GC200").add_attdef("H", (0.5, 0))
    msp = doc.modelspace()
    # R12-era CASS contour: a 2D POLYLINE whose height is the header's elevation (group 30)
    msp.add_polyline2d([(0, 0), (10, 2), (20, 0)], dxfattribs={"layer": "DGX", "elevation": (0, 0, 926.0)})
    msp.add_point((5, 5, 927.25), dxfattribs={"layer": "GCD"})
    flat = msp.add_blockref("GC200", (6, 6), dxfattribs={"layer": "GCD"})  # Z = 0: height only as text
    flat.add_auto_attribs({"H": "928.35"})
    path = tmp_path / "r12.dxf"
    doc.saveas(path)
    layers = {s.name: s for s in CassDxfReader().open(path)}
    (contour, a), = rows(layers["contours"])
    assert a["elevation"] == 926.0 and not a["index"]
    assert contour.geom_type == "LineString" and not contour.has_z
    heights = {a["entity"]: a["elevation"] for _, a in rows(layers["spot-heights"])}
    assert heights == {"POINT": 927.25, "INSERT": 928.35}
    assert layers["spot-heights"].extra["elevation_from_text"] == 1


def test_closed_lines_become_polygons_only_on_area_layers(tmp_path):
    doc = ezdxf.new("R2010")
    msp = doc.modelspace()
    ring = [(0, 0), (10, 0), (10, 10), (0, 10)]
    msp.add_lwpolyline(ring, close=True, dxfattribs={"layer": "SXSS"})
    msp.add_lwpolyline(ring + [(0, 0)], dxfattribs={"layer": "SXSS"})  # closed by its vertices, not the flag
    msp.add_lwpolyline(ring, close=True, dxfattribs={"layer": "DGX", "elevation": 930.0})  # a hill top
    msp.add_circle((50, 50), 4, dxfattribs={"layer": "JMD"})  # a round building
    hatch = msp.add_hatch(dxfattribs={"layer": "SXSS"})
    hatch.paths.add_polyline_path([(100, 0), (120, 0), (120, 20), (100, 20)], is_closed=True)
    hatch.paths.add_polyline_path([(105, 5), (110, 5), (110, 10), (105, 10)], is_closed=True)  # an island
    path = tmp_path / "closed.dxf"
    doc.saveas(path)
    layers = {s.name: s for s in CassDxfReader().open(path)}
    water = rows(layers["water-areas"])
    assert [g.geom_type for g, _ in water] == ["Polygon", "Polygon", "Polygon"]
    assert water[2][1]["entity"] == "HATCH" and water[2][0].area == pytest.approx(400 - 25)
    assert "water-lines" not in layers
    (hill, a), = rows(layers["contours"])
    assert hill.geom_type == "LineString" and hill.is_closed and a["elevation"] == 930
    (round_house, _), = rows(layers["buildings"])
    assert round_house.geom_type == "Polygon" and round_house.area == pytest.approx(math.pi * 16, rel=5e-3)


def test_mapping_mistakes_are_reported(tmp_path):
    bad = tmp_path / "bad.json"
    for content, message in (
        ({"targets": {}, "layers": {}}, "text_target 'labels' is not one of the targets"),
        ({"targets": {"labels": {"geometry": "Point"}, "unmapped": {"geometry": ""}},
          "layers": {"JMD": {"target": "houses"}}}, "target 'houses' is not one of the targets"),
        ({"targets": {"labels": {"geometry": "Point"}, "unmapped": {"geometry": ""}},
          "layers": {"ZJ": {"target": "labels", "lable_text": True}}}, "unknown keys lable_text"),
        ({"targets": {"labels": {"geometry": "Circle"}}, "layers": {}}, "needs \"geometry\""),
    ):
        bad.write_text(json.dumps(content), encoding="utf-8")
        with pytest.raises(InvalidInput, match=message):
            load_mapping(bad)


def test_not_a_dxf_is_invalid_input(tmp_path):
    path = tmp_path / "junk.dxf"
    path.write_text("this is not a drawing\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match="junk.dxf"):
        CassDxfReader().open(path)


def test_the_sheet_through_the_pipeline_fans_out_and_replace_sheet_uses_its_frame(db):
    from ingest.pipeline import rollback
    from layers.models import Layer

    from .conftest import load

    first = load(SHEET, layer="dlg", title_zh="地形图", srs="EPSG:4538", sheet="4622.00-429.25", scale=500,
                 access="restricted")
    slugs = {r["layer"]: r["loaded"] for r in first.results}
    assert slugs["dlg-buildings"] == 26 and slugs["dlg-spot-heights"] == 30 and slugs["dlg-building-lines"] == 1
    assert Layer.objects.get(slug="dlg-buildings").title_zh == "地形图 · 居民地"
    assert Layer.objects.get(slug="dlg-contours").access == "restricted"

    again = load(SHEET, layer="dlg", mode="replace-sheet", srs="EPSG:4538", sheet="4622.00-429.25", scale=500)
    assert again.sheet_frame == "the delivery's sheet frame (TK)"
    assert {r["layer"]: r["replaced"] for r in again.results} == slugs  # exactly the sheet's features
    assert Layer.objects.get(slug="dlg-buildings").feature_count == 26
    rollback(again.job_id)
    rollback(first.job_id)
    assert not Layer.objects.filter(slug__startswith="dlg-").exists()
