"""Attribute encoding of Shapefiles: override, .cpg, DBF language driver, detection from the bytes."""

import shutil
import struct
from pathlib import Path

import numpy as np
import pyogrio
import pyogrio.raw
import pytest
import shapely

from ingest import encoding as enc
from ingest.encoding import EncodingChoice, detect_dbf_encoding, normalize_encoding, read_kwargs
from layers.errors import InvalidInput

SAMPLE_DIR = Path(__file__).resolve().parents[2] / "sample_data" / "gbk_shapefile"
GBK_SHP = SAMPLE_DIR / "korla_buildings_gbk.shp"
CHINESE_SHP = SAMPLE_DIR / "库尔勒房屋.shp"
FIELDS = ["BSM", "名称", "结构", "层数", "用途", "面积"]


def copy_sample(tmp_path: Path, stem: str = "buildings") -> Path:
    for suffix in (".shp", ".shx", ".dbf", ".prj"):
        shutil.copyfile(GBK_SHP.with_suffix(suffix), tmp_path / f"{stem}{suffix}")
    return tmp_path / f"{stem}.shp"


def set_ldid(shp: Path, ldid: int) -> None:
    dbf = shp.with_suffix(".dbf")
    raw = bytearray(dbf.read_bytes())
    raw[29] = ldid
    dbf.write_bytes(bytes(raw))


def write_dbf(path: Path, fields, records, *, ldid=0, deleted=()) -> Path:
    """A minimal dBase III file: fields are (name bytes, type, width); values are bytes."""
    header_length = 32 + 32 * len(fields) + 1
    record_length = 1 + sum(width for _name, _type, width in fields)
    out = bytearray(struct.pack("<B3BIHH", 3, 124, 5, 20, len(records), header_length, record_length))
    out += bytes(17) + bytes([ldid]) + bytes(2)
    for name, ftype, width in fields:
        out += name.ljust(11, b"\x00") + ftype.encode() + bytes(4) + bytes([width, 0]) + bytes(14)
    out += b"\x0d"
    for i, values in enumerate(records):
        out += b"*" if i in deleted else b" "
        for (_name, _type, width), value in zip(fields, values):
            out += value[:width].ljust(width, b" ")
    out += b"\x1a"
    path.write_bytes(bytes(out))
    return path


def write_shp(path: Path, names, values, encoding: str) -> Path:
    """A one-field point Shapefile written by pyogrio/GDAL in ``encoding``, then its .cpg removed."""
    geoms = np.array([shapely.to_wkb(shapely.Point(429_300 + i, 4_622_100)) for i in range(len(values))], dtype=object)
    pyogrio.raw.write(path, geoms, [np.array(values, dtype=object)], names, geometry_type="Point",
                      crs="EPSG:4538", encoding=encoding)
    path.with_suffix(".cpg").unlink()
    return path


# ------------------------------------------------------------------ the GBK sample


def test_gbk_sample_without_cpg_is_detected_as_gb18030():
    assert not GBK_SHP.with_suffix(".cpg").exists()
    assert GBK_SHP.with_suffix(".dbf").read_bytes()[29] == 0  # no language driver either
    choice = detect_dbf_encoding(GBK_SHP)
    assert choice.encoding == "GB18030"
    assert choice.source == "detected"
    assert "no .cpg" in choice.note and "GB18030" in choice.note and "not valid UTF-8" in choice.note
    assert "GBK" in choice.note  # says it is the superset


def test_the_dbf_path_works_too():
    assert detect_dbf_encoding(GBK_SHP.with_suffix(".dbf")) == detect_dbf_encoding(GBK_SHP)


def test_detection_looks_at_field_names(tmp_path):
    """Chinese field names alone (ASCII values) are enough to detect GBK."""
    dbf = write_dbf(tmp_path / "names.dbf", [("名称".encode("gbk"), "C", 10)], [[b"abc"], [b"def"]])
    choice = detect_dbf_encoding(dbf)
    assert choice.encoding == "GB18030"
    assert "field name" in choice.note


def test_chinese_file_name_works_end_to_end():
    choice = detect_dbf_encoding(CHINESE_SHP)
    assert (choice.encoding, choice.source) == ("GB18030", "detected")
    meta, _fids, geoms, data = pyogrio.raw.read(CHINESE_SHP, **read_kwargs(choice))
    assert list(meta["fields"]) == FIELDS
    assert data[1][0] == "库尔勒市第一中学教学楼"
    assert len(geoms) == 40
    assert pyogrio.list_layers(CHINESE_SHP)[0][0] == "库尔勒房屋"


def test_read_kwargs_give_chinese_field_names_and_values():
    choice = detect_dbf_encoding(GBK_SHP)
    assert read_kwargs(choice) == {"encoding": "GB18030"}
    meta, _fids, geoms, data = pyogrio.raw.read(GBK_SHP, **read_kwargs(choice))
    assert list(meta["fields"]) == FIELDS
    values = dict(zip(meta["fields"], data))
    assert values["名称"][0] == "库尔勒市第一中学教学楼"
    assert set(values["结构"]) <= {"砖混", "钢混", "框架", "砖木", "钢结构", "简易"}
    assert "居民住宅" in set(values["用途"])
    assert values["层数"].dtype.kind == "i" and values["面积"].dtype.kind == "f"
    assert meta["encoding"] == "UTF-8"  # pyogrio: GDAL recoded to UTF-8 (SHAPE_ENCODING)
    assert "CGCS2000" in meta["crs"] or "4538" in meta["crs"]
    assert list(pyogrio.read_info(GBK_SHP, **read_kwargs(choice))["fields"]) == FIELDS


def test_without_the_encoding_gdal_gives_mojibake_not_an_error():
    """Why detection is needed: no .cpg + LDID 0 reads as ISO-8859-1, silently wrong."""
    meta, _fids, _geoms, data = pyogrio.raw.read(GBK_SHP)
    assert meta["encoding"] == "ISO-8859-1"
    assert meta["fields"][1] == "名称".encode("gbk").decode("latin-1")
    assert data[1][0] == "库尔勒市第一中学教学楼".encode("gbk").decode("latin-1")


@pytest.mark.parametrize("name", ["GBK", "CP936", "GB18030"])
def test_gdal_accepts_the_names_we_hand_out(name):
    meta, _fids, _geoms, data = pyogrio.raw.read(GBK_SHP, encoding=name)
    assert meta["fields"][1] == "名称" and data[1][0] == "库尔勒市第一中学教学楼"


# ------------------------------------------------------------------ .cpg


@pytest.mark.parametrize(
    "label, expected",
    [("UTF-8", "UTF-8"), ("utf8\r\n", "UTF-8"), ("65001", "UTF-8"), ("936", "GBK"), ("ANSI 936", "GBK"),
     ("GBK", "GBK"), ("GB2312", "GBK"), ("CP936", "GBK"), ("GB18030", "GB18030")],
)
def test_cpg_is_honoured(tmp_path, label, expected):
    shp = copy_sample(tmp_path)
    shp.with_suffix(".cpg").write_text(label, encoding="ascii")
    choice = detect_dbf_encoding(shp)
    assert (choice.encoding, choice.source) == (expected, "cpg")
    assert label.strip() in choice.note


def test_cpg_extension_is_case_insensitive(tmp_path):
    shp = copy_sample(tmp_path)
    (tmp_path / "buildings.CPG").write_text("936", encoding="ascii")
    choice = detect_dbf_encoding(shp)
    assert (choice.encoding, choice.source) == ("GBK", "cpg")
    assert pyogrio.raw.read(shp, **read_kwargs(choice))[3][1][0] == "库尔勒市第一中学教学楼"


def test_unknown_cpg_falls_back_to_detection(tmp_path):
    shp = copy_sample(tmp_path)
    shp.with_suffix(".cpg").write_text("Klingon", encoding="ascii")
    choice = detect_dbf_encoding(shp)
    assert (choice.encoding, choice.source) == ("GB18030", "detected")
    assert "Klingon" in choice.note


# ------------------------------------------------------------------ override


def test_override_wins_over_cpg(tmp_path):
    shp = copy_sample(tmp_path)
    shp.with_suffix(".cpg").write_text("UTF-8", encoding="ascii")
    choice = detect_dbf_encoding(shp, override="gbk")
    assert choice == EncodingChoice("GBK", "override", choice.note)
    assert "user" in choice.note


@pytest.mark.parametrize(
    "name, expected", [("936", "GBK"), ("cp936", "GBK"), ("utf8", "UTF-8"), ("GB18030", "GB18030")]
)
def test_override_is_normalised(name, expected):
    assert detect_dbf_encoding(GBK_SHP, override=name).encoding == expected


@pytest.mark.parametrize("name", ["no-such-encoding", "base64", "rot13"])
def test_unknown_override_is_invalid_input(name):
    with pytest.raises(InvalidInput, match=name):
        detect_dbf_encoding(GBK_SHP, override=name)


# ------------------------------------------------------------------ language driver id


def test_cjk_language_driver_is_trusted(tmp_path):
    shp = copy_sample(tmp_path)
    set_ldid(shp, 0x4D)
    choice = detect_dbf_encoding(shp)
    assert (choice.encoding, choice.source) == ("GBK", "ldid")
    assert "0x4D" in choice.note and "936" in choice.note


def test_ansi_language_driver_is_ignored(tmp_path):
    shp = copy_sample(tmp_path)
    set_ldid(shp, 0x57)
    choice = detect_dbf_encoding(shp)
    assert (choice.encoding, choice.source) == ("GB18030", "detected")
    assert "0x57" in choice.note and "ignored" in choice.note


def test_language_driver_that_does_not_fit_the_bytes_is_overruled(tmp_path):
    # NB: only works because this UTF-8 is not valid GBK; much UTF-8 is (every 2-byte
    # sequence, e.g. Uyghur or Cyrillic, and often Chinese: "砖混" -> "鐮栨贩").
    value = "库尔勒市第一中学教学楼".encode()
    dbf = write_dbf(tmp_path / "u.dbf", [(b"NAME", "C", 40)], [[value]], ldid=0x4D)
    choice = detect_dbf_encoding(dbf)
    assert (choice.encoding, choice.source) == ("UTF-8", "detected")
    assert "does not fit" in choice.note


# ------------------------------------------------------------------ detection


def test_utf8_shapefile_is_utf8(tmp_path):
    values = ["库尔勒市第一中学教学楼", "梨香小区1号楼"]
    shp = write_shp(tmp_path / "utf8.shp", ["名称"], values, "UTF-8")
    choice = detect_dbf_encoding(shp)
    assert (choice.encoding, choice.source) == ("UTF-8", "detected")
    meta, _fids, _geoms, data = pyogrio.raw.read(shp, **read_kwargs(choice))
    assert meta["fields"][0] == "名称" and data[0][1] == "梨香小区1号楼"


def test_pure_ascii_is_utf8_with_note(tmp_path):
    shp = write_shp(tmp_path / "ascii.shp", ["name"], ["Korla No.1 Middle School", "Block 3"], "UTF-8")
    choice = detect_dbf_encoding(shp)
    assert (choice.encoding, choice.source) == ("UTF-8", "detected")
    assert "pure ASCII" in choice.note


def test_gb18030_only_characters(tmp_path):
    """Uyghur (Arabic script) is in GB18030 (4-byte sequences) but not in GBK."""
    text = "库尔勒 كورلا"
    shp = write_shp(tmp_path / "gb18030.shp", ["名称"], [text], "GB18030")
    choice = detect_dbf_encoding(shp)
    assert choice.encoding == "GB18030"
    assert pyogrio.raw.read(shp, **read_kwargs(choice))[3][0][0] == text


def test_undecodable_bytes_are_invalid_input_naming_file_record_and_field(tmp_path):
    dbf = write_dbf(
        tmp_path / "broken.dbf",
        [(b"NAME", "C", 10), (b"NOTE", "C", 10)],
        [[b"ok", b"fine"], [b"ok", b"\xff\xfe\x80"]],
    )
    with pytest.raises(InvalidInput) as err:
        detect_dbf_encoding(tmp_path / "broken.shp")
    message = str(err.value)
    assert str(dbf) in message
    assert "record 2" in message and "'NOTE'" in message
    assert "--encoding" in message


def test_deleted_records_are_not_looked_at(tmp_path):
    dbf = write_dbf(tmp_path / "d.dbf", [(b"NAME", "C", 10)], [[b"\xff\xff"], [b"plain"]], deleted={0})
    assert "pure ASCII" in detect_dbf_encoding(dbf).note


def test_character_cut_at_the_field_width_is_tolerated(tmp_path):
    cut = "库尔勒市".encode()[:10]  # 4 x 3 bytes cut at the 10-byte width: last character split
    dbf = write_dbf(tmp_path / "cut.dbf", [(b"NAME", "C", 10)], [[cut], ["梨香".encode()]])
    assert detect_dbf_encoding(dbf).encoding == "UTF-8"


def test_no_dbf(tmp_path):
    shp = copy_sample(tmp_path)
    shp.with_suffix(".dbf").unlink()
    choice = detect_dbf_encoding(shp)
    assert choice.encoding == "UTF-8" and "no .dbf" in choice.note


def test_sample_is_bounded_and_reaches_the_end(tmp_path, monkeypatch):
    n = 20_000
    dbf = write_dbf(tmp_path / "big.dbf", [(b"NAME", "C", 20)], [[b"x"]] * (n - 1) + [["梨香".encode("gbk")]])
    monkeypatch.setattr(enc, "SAMPLE_BYTES", 64 * 1024)
    with dbf.open("rb") as f:
        header = enc._read_header(f, dbf)
        numbers = [number for number, _record in enc._sample(f, header)]
    assert len(numbers) * header.record_length <= 64 * 1024
    assert numbers[0] == 1 and max(numbers) > n * 0.85  # windows spread over the whole file
    assert len(set(numbers)) == len(numbers)


@pytest.mark.parametrize(
    "label, expected",
    [("UTF-8", "UTF-8"), ("utf_8", "UTF-8"), ("ANSI 1252", "CP1252"), ("88591", "ISO-8859-1"),
     ("ISO-8859-1", "ISO-8859-1"), ("8859-5", "ISO-8859-5"), ("950", "CP950"), ("big5", "BIG5"),
     ("20936", "GBK"), ("54936", "GB18030"), ("", None),
     ("nonsense", None)],
)
def test_normalize_encoding(label, expected):
    assert normalize_encoding(label) == expected
