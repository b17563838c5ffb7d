"""Read a submitted POI file (CSV, XLSX, GeoJSON) into raw rows: canonical field names, text
values, and the spreadsheet row number (header = row 1) or feature number, for error reports.

Column names may be English or Chinese (FIELD_ALIASES); unknown columns are reported, not used.
"""

import csv
import datetime as dt
import io
import json
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from layers.errors import InvalidInput

FIELDS = (
    "op", "id", "name", "name_en", "name_ug", "name_mn", "category", "rating", "address", "phone",
    "opening_hours", "description", "photos", "lon", "lat", "source", "collected_at", "verified_at", "status",
)
FIELD_ALIASES = {
    "op": ["操作", "operation", "action", "变更类型"],
    "id": ["编号", "poi_id", "poiid", "标识"],
    "name": ["名称", "name_zh", "中文名称", "名字"],
    "name_en": ["英文名称", "英文名"],
    "name_ug": ["维吾尔文名称", "维文名称"],
    "name_mn": ["蒙古文名称", "蒙文名称"],
    "category": ["类别", "分类", "类型", "category_code", "type"],
    "rating": ["等级", "星级", "级别", "a_level", "star"],
    "address": ["地址"],
    "phone": ["电话", "联系电话", "tel", "telephone"],
    "opening_hours": ["营业时间", "开放时间", "hours"],
    "description": ["描述", "简介", "说明"],
    "photos": ["照片", "图片", "photo", "images"],
    "lon": ["经度", "x", "lng", "longitude", "long"],
    "lat": ["纬度", "y", "latitude"],
    "source": ["来源", "数据来源"],
    "collected_at": ["采集时间", "采集日期", "collected"],
    "verified_at": ["核实时间", "核实日期", "verified"],
    "status": ["状态", "营业状态"],
}
_HEADER = {unicodedata.normalize("NFKC", a).casefold(): f for f, aliases in FIELD_ALIASES.items() for a in [f, *aliases]}
FORMATS = ("csv", "xlsx", "geojson")
MAX_ROWS = 2_000_000


@dataclass
class RawRow:
    row: int
    values: dict[str, str]


@dataclass
class RawFile:
    name: str
    rows: list[RawRow]
    ignored_columns: list[str] = field(default_factory=list)


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))  # spreadsheets hand phone numbers and ids back as floats
    if isinstance(value, (list, tuple)):
        return ";".join(_text(v) for v in value)
    return str(value).strip()


def _map_header(name: str, header: list) -> tuple[list[str | None], list[str]]:
    mapped, ignored, seen = [], [], set()
    for h in header:
        f = _HEADER.get(unicodedata.normalize("NFKC", _text(h)).casefold())
        if f in seen:
            raise InvalidInput(f"{name}: column {h!r} repeats {f!r}")
        if f:
            seen.add(f)
        else:
            if _text(h):
                ignored.append(_text(h))
        mapped.append(f)
    if "lon" in seen and "lat" not in seen or "lat" in seen and "lon" not in seen:
        raise InvalidInput(f"{name}: a longitude column needs a latitude column and vice versa")
    if not seen & {"name", "id"}:
        raise InvalidInput(f"{name}: no name or id column (header: {', '.join(map(_text, header))})")
    return mapped, ignored


def _table(name: str, records) -> RawFile:
    records = iter(records)
    header = next(records, None)
    if header is None:
        raise InvalidInput(f"{name}: the file is empty")
    mapped, ignored = _map_header(name, list(header))
    rows = []
    for number, record in enumerate(records, start=2):
        cells = list(record)
        if not any(_text(c) for c in cells):
            continue  # blank spreadsheet lines
        if len(cells) > len(mapped) and any(_text(c) for c in cells[len(mapped):]):
            raise InvalidInput(f"{name}, row {number}: more cells than header columns")
        values = {f: _text(c) for f, c in zip(mapped, cells) if f}
        rows.append(RawRow(number, values))
        if len(rows) > MAX_ROWS:
            raise InvalidInput(f"{name}: more than {MAX_ROWS} rows; split the change set")
    return RawFile(name, rows, ignored)


def read_csv(path: Path, encoding: str | None = None) -> RawFile:
    data = path.read_bytes()
    if encoding is None:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = data.decode("gb18030")  # Excel in China saves CSV in the ANSI code page (GBK)
    else:
        try:
            text = data.decode(encoding)
        except (UnicodeDecodeError, LookupError) as e:
            raise InvalidInput(f"{path.name}: cannot decode as {encoding}: {e}") from None
    try:
        return _table(path.name, csv.reader(io.StringIO(text, newline="")))
    except csv.Error as e:
        raise InvalidInput(f"{path.name}: not a readable CSV file: {e}") from None


def read_xlsx(path: Path) -> RawFile:
    import openpyxl  # parses through defusedxml (a dependency), so no XXE

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as e:  # openpyxl raises zipfile, KeyError and XML errors alike
        raise InvalidInput(f"{path.name}: not a readable XLSX workbook: {e}") from None
    try:
        return _table(path.name, book.worksheets[0].iter_rows(values_only=True))
    finally:
        book.close()


def read_geojson(path: Path) -> RawFile:
    try:
        doc = json.loads(path.read_bytes())
    except (ValueError, UnicodeDecodeError) as e:
        raise InvalidInput(f"{path.name}: not valid JSON: {e}") from None
    features = doc.get("features") if isinstance(doc, dict) else None
    if not isinstance(features, list):
        raise InvalidInput(f"{path.name}: not a GeoJSON FeatureCollection")
    rows, ignored = [], set()
    for number, feature in enumerate(features, start=1):
        feature = feature if isinstance(feature, dict) else {}
        props = feature.get("properties") or {}
        props = props if isinstance(props, dict) else {}
        values = {}
        for key, value in props.items():
            f = _HEADER.get(unicodedata.normalize("NFKC", str(key)).casefold())
            if f and f not in ("lon", "lat"):
                values[f] = _text(value)
            elif not f:
                ignored.add(str(key))
        geometry = feature.get("geometry")
        if geometry:
            if not isinstance(geometry, dict) or geometry.get("type") != "Point" or not isinstance(geometry.get("coordinates"), list):
                values["lon"] = values["lat"] = ""
                values["_geometry_error"] = "the geometry is not a Point"
            else:
                coords = geometry["coordinates"]
                values["lon"], values["lat"] = (_text(c) for c in (coords + [None, None])[:2])
        if feature.get("id") is not None and "id" not in values and values.get("op") in ("update", "delete"):
            values["id"] = _text(feature["id"])
        rows.append(RawRow(number, values))
    return RawFile(path.name, rows, sorted(ignored))


def read(path: Path, encoding: str | None = None) -> RawFile:
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt"):
        return read_csv(path, encoding)
    if suffix in (".xlsx", ".xlsm"):
        return read_xlsx(path)
    if suffix in (".geojson", ".json"):
        return read_geojson(path)
    raise InvalidInput(f"{path.name}: unsupported file type {suffix or '(none)'}; use CSV, XLSX or GeoJSON")
