"""CASS-style DXF sheets (South Surveying's CASS on AutoCAD): CAD layers fan out into target layers.

The CAD layer of each entity picks a target through the editable mapping
``ingest/cass_mapping.json`` (explained in docs/cass-mapping.md): JMD -> buildings, DGX/JQX ->
contours, ZJ -> labels, … Entities on layers the mapping does not know go to the target
"unmapped", so nothing is dropped silently; the pipeline reports what it refuses.

Read with ezdxf rather than GDAL's DXF driver. GDAL is ~10x faster, but on CASS data it
(GDAL 3.12, as bundled with pyogrio 0.13) decodes R2007+ files, which are UTF-8 by definition,
with the header's $DWGCODEPAGE, so a DXF saved by AutoCAD on a Chinese system (ANSI_936)
comes back as mojibake without an error; it drops the elevation of 2D POLYLINEs (group 30 of
the POLYLINE header: R12-era CASS contours come back at Z = 0); \\U+XXXX escapes in TEXT stay
escaped; feature codes are reachable only by re-parsing its RawCodeValues strings (and only
with INCLUDE_RAW_CODE_VALUES); block attributes only with INLINE_BLOCKS=NO. ezdxf gives XDATA,
block attributes, OCS/elevation-correct coordinates and the exact entity type directly, and
has a recover mode for damaged files. Cost: about 1 s per MB of DXF (a dense 1:500 sheet is
1-5 MB); a sheet is held in memory while it is read.

Every feature carries ``cad_layer``, ``entity`` (DXF type), ``handle`` (DXF entity handle, so a
report can name the entity), ``feature_code`` (from XDATA, NULL when absent), ``elevation``
(from Z on height layers, NULL elsewhere), ``text`` (label text / first block attribute),
``block`` and ``attributes`` (INSERTs: block name, attributes as JSON); contours also ``index``.
Geometry is 2D shapely; heights live in ``elevation``. DXF declares no CRS: ``crs`` is None.
"""

from __future__ import annotations

import codecs
import fnmatch
import io
import json
import math
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import LineString, Point, Polygon

from layers.errors import InvalidInput
from layers.storage import Column

from .base import BATCH_SIZE, Batch, Reader, SourceLayer

DEFAULT_MAPPING = Path(__file__).resolve().parent.parent / "cass_mapping.json"
GEOMETRIES = {"Point", "LineString", "Polygon", ""}
LAYER_KEYS = {"target", "point_target", "line_target", "elevation_from_z", "label_text", "close_to_polygon",
              "index_contour"}
TEXT_TYPES = {"TEXT", "MTEXT"}
POINT_TYPES = {"POINT", "INSERT"}
AREA_TYPES = {"HATCH", "SOLID", "TRACE", "3DFACE", "MPOLYGON"}
CLOSE_TOLERANCE = 0.001  # drawing units (m): a line ending this close to its start is closed
SHEET_ID_TEXT = re.compile(r"^\s*\d{3,5}(?:\.\d{1,3})?\s*-\s*\d{2,5}(?:\.\d{1,3})?\s*$")
NUMBER = re.compile(r"^\s*[-+]?\d+(?:\.\d+)?\s*$")
BINARY_SENTINEL = b"AutoCAD Binary DXF"

BASE_FIELDS = [
    Column("cad_layer", "text"),
    Column("entity", "text"),
    Column("handle", "text"),
    Column("feature_code", "text"),
    Column("elevation", "double precision"),
    Column("text", "text"),
    Column("block", "text"),
    Column("attributes", "text"),
]
INDEX_FIELD = Column("index", "boolean")


# ---------------------------------------------------------------------------- the mapping

@dataclass(frozen=True)
class LayerRule:
    pattern: str  # as written in the mapping (exact name or fnmatch pattern)
    target: str
    point_target: str | None = None
    line_target: str | None = None
    elevation_from_z: bool = False
    label_text: bool = False
    close_to_polygon: bool = False
    index_contour: bool | None = None


@dataclass
class Mapping:
    path: Path
    targets: dict[str, dict]  # name -> {"title_zh", "title_en", "geometry"}
    exact: dict[str, LayerRule]  # casefolded layer name -> rule
    patterns: list[LayerRule]  # longest pattern first
    xdata_apps: list[str]
    text_target: str
    unmapped_target: str
    curve_tolerance: float

    def rule_for(self, cad_layer: str) -> LayerRule | None:
        key = cad_layer.casefold()
        rule = self.exact.get(key)
        if rule is not None:
            return rule
        for rule in self.patterns:
            if fnmatch.fnmatchcase(key, rule.pattern.casefold()):
                return rule
        return None

    def has_index(self, target: str) -> bool:
        return any(r.target == target and r.index_contour is not None
                   for r in [*self.exact.values(), *self.patterns])


def load_mapping(path: str | Path | None = None) -> Mapping:
    """Parse and check the mapping file; every mistake is an InvalidInput naming the entry."""
    path = Path(path) if path else DEFAULT_MAPPING
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"CASS mapping {path}: cannot be read ({exc})") from exc
    where = f"CASS mapping {path.name}"
    targets = raw.get("targets")
    layers = raw.get("layers")
    if not isinstance(targets, dict) or not isinstance(layers, dict):
        raise InvalidInput(f"{where}: needs the objects \"targets\" and \"layers\"")
    for name, spec in targets.items():
        if not isinstance(spec, dict) or spec.get("geometry", "") not in GEOMETRIES:
            raise InvalidInput(f"{where}: target {name!r} needs \"geometry\" Point, LineString, Polygon or \"\"")
    text_target = raw.get("text_target", "labels")
    unmapped = raw.get("unmapped_target", "unmapped")
    for role, name in (("text_target", text_target), ("unmapped_target", unmapped)):
        if name not in targets:
            raise InvalidInput(f"{where}: {role} {name!r} is not one of the targets")
    exact: dict[str, LayerRule] = {}
    patterns: list[LayerRule] = []
    for pattern, spec in layers.items():
        if not isinstance(spec, dict):
            raise InvalidInput(f"{where}: layer {pattern!r} must map to an object")
        unknown = set(spec) - LAYER_KEYS
        if unknown:
            raise InvalidInput(f"{where}: layer {pattern!r} has unknown keys {', '.join(sorted(unknown))} "
                               f"(allowed: {', '.join(sorted(LAYER_KEYS))})")
        for key in ("target", "point_target", "line_target"):
            if (key == "target" or key in spec) and spec.get(key) not in targets:
                raise InvalidInput(f"{where}: layer {pattern!r}: {key} {spec.get(key)!r} is not one of the targets")
        for key in ("elevation_from_z", "label_text", "close_to_polygon", "index_contour"):
            if key in spec and not isinstance(spec[key], bool):
                raise InvalidInput(f"{where}: layer {pattern!r}: {key} must be true or false")
        rule = LayerRule(pattern=pattern, **spec)
        if any(c in pattern for c in "*?["):
            patterns.append(rule)
        elif pattern.casefold() in exact:
            raise InvalidInput(f"{where}: layer {pattern!r} is listed twice (names are case-insensitive)")
        else:
            exact[pattern.casefold()] = rule
    patterns.sort(key=lambda r: -len(r.pattern.rstrip("*?")))
    tolerance = raw.get("curve_tolerance", 0.01)
    if not isinstance(tolerance, (int, float)) or tolerance <= 0:
        raise InvalidInput(f"{where}: curve_tolerance must be a positive number (drawing units)")
    apps = raw.get("xdata_apps", ["SOUTH"])
    if not isinstance(apps, list) or not all(isinstance(a, str) for a in apps):
        raise InvalidInput(f"{where}: xdata_apps must be a list of application names")
    return Mapping(path=path, targets=targets, exact=exact, patterns=patterns, xdata_apps=apps,
                   text_target=text_target, unmapped_target=unmapped, curve_tolerance=float(tolerance))


# ---------------------------------------------------------------------------- reading the file

@dataclass
class _Encoding:
    name: str | None  # Python codec used for text, None for binary DXF (ezdxf decides)
    note: str


def _codec(label: str) -> str:
    """Python codec for an --encoding value or a $DWGCODEPAGE ("ANSI_936" -> gb18030)."""
    from ezdxf.tools.codepage import toencoding

    text = label.strip()
    if text.upper().startswith("ANSI_"):
        text = toencoding(text.upper())
    try:
        name = codecs.lookup(text).name
    except LookupError:
        raise InvalidInput(f"unknown text encoding {label!r}") from None
    # GB18030 decodes every GBK/GB2312 byte sequence the same way and more besides.
    return "gb18030" if name in {"gbk", "gb2312", "cp936"} else name


def _header_value(head: bytes, name: bytes) -> str | None:
    m = re.search(rb"\$" + name + rb"[ \t]*\r?\n[ \t]*\d+[ \t]*\r?\n([^\r\n]*)", head)
    return m.group(1).strip().decode("ascii", "replace") if m else None


def _decide_encoding(data: bytes, override: str | None) -> _Encoding:
    """DXF R2007+ is UTF-8 by definition; older files use $DWGCODEPAGE (ANSI_936 = GBK), unless
    their bytes are valid UTF-8 (written by a non-AutoCAD tool); --encoding overrides both."""
    head = data[: 64 * 1024]
    version = _header_value(head, b"ACADVER") or "AC1009"
    codepage = _header_value(head, b"DWGCODEPAGE")
    facts = f"DXF {version}" + (f", $DWGCODEPAGE {codepage}" if codepage else "")
    if override:
        return _Encoding(_codec(override), f"{_codec(override)} given with --encoding ({facts})")
    if version >= "AC1021":
        return _Encoding("utf-8", f"utf-8: {facts}; R2007 and later are always UTF-8")
    declared = _codec(codepage) if codepage else "cp1252"
    if declared != "utf-8" and not data.isascii():
        try:
            data.decode("utf-8")
            return _Encoding("utf-8", f"utf-8: {facts}, but the text is valid UTF-8 (not {declared})")
        except UnicodeDecodeError:
            pass
    how = "from $DWGCODEPAGE" if codepage else "AutoCAD's default, no $DWGCODEPAGE"
    return _Encoding(declared, f"{declared}: {facts} ({how})")


def _load(path: Path, encoding: str | None):
    """(ezdxf document, encoding facts, fixes made by recover mode)."""
    import ezdxf
    from ezdxf import recover
    from ezdxf.lldxf.const import DXFError

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"{path.name}: cannot be read ({exc})") from exc
    if data.startswith(BINARY_SENTINEL):
        enc = _Encoding(None, "binary DXF")
    else:
        enc = _decide_encoding(data, encoding)
    try:
        if enc.name is None:
            doc = ezdxf.readfile(path)
        else:
            text = data.decode(enc.name, errors="replace")
            del data
            bad = text.count("\ufffd")
            if bad:
                enc.note += f"; {bad} undecodable byte sequence(s) shown as U+FFFD: try another --encoding"
            doc = ezdxf.read(io.StringIO(text))
        return doc, enc, 0
    except DXFError as exc:  # structure errors: try ezdxf's recover mode before giving up
        try:
            doc, auditor = recover.readfile(path)
        except (DXFError, OSError, UnicodeError) as exc2:
            raise InvalidInput(f"{path.name}: not a readable DXF file ({exc}; recover mode: {exc2})") from exc2
        enc.note += f"; structure errors repaired by ezdxf's recover mode ({exc})"
        return doc, enc, len(auditor.fixes)


# ---------------------------------------------------------------------------- entity helpers

def _clean(s: str | None) -> str | None:
    if s is None:
        return None
    from ezdxf.lldxf.encoding import decode_dxf_unicode, has_dxf_unicode

    if has_dxf_unicode(s):
        s = decode_dxf_unicode(s)
    return s


def _feature_code(entity, apps: list[str]) -> str | None:
    if not entity.xdata:
        return None
    for app in apps:
        if not entity.has_xdata(app):
            continue
        for code, value in entity.get_xdata(app):
            if code in (1000, 1071, 1070):
                value = str(value).strip()
                if value:
                    return value
    return None


def _wcs_point(entity, ocs_point):
    if entity.dxf.hasattr("extrusion") and tuple(entity.dxf.extrusion) != (0, 0, 1):
        return entity.ocs().to_wcs(ocs_point)
    return ocs_point


def _path_points(entity, tolerance: float) -> list | None:
    from ezdxf import path as ezpath

    try:
        p = ezpath.make_path(entity)
    except TypeError:
        return None
    if len(p) == 0 and not p.has_sub_paths:
        return None
    return [v for v in p.flattening(tolerance)] if not p.has_sub_paths else None


def _hatch_polygon(entity, tolerance: float):
    """HATCH/MPOLYGON: boundary loops combined even-odd (islands become holes)."""
    from ezdxf import path as ezpath

    rings = []
    for p in ezpath.from_hatch(entity):
        pts = [(v.x, v.y) for v in p.flattening(tolerance)]
        if len(pts) >= 3:
            ring = Polygon(pts)
            if not ring.is_valid:
                ring = shapely.make_valid(ring)
            rings.append(ring)
    if not rings:
        return None
    geom = rings[0]
    for ring in rings[1:]:
        geom = geom.symmetric_difference(ring)
    return geom


def _is_closed_entity(entity, pts) -> bool:
    t = entity.dxftype()
    if t in ("LWPOLYLINE", "POLYLINE"):
        if entity.is_closed:
            return True
    elif t == "CIRCLE":
        return True
    elif t == "ELLIPSE":
        return math.isclose(abs(entity.dxf.end_param - entity.dxf.start_param), math.tau, abs_tol=1e-9)
    elif t == "SPLINE":
        if entity.closed:
            return True
    return len(pts) > 2 and math.dist(pts[0][:2], pts[-1][:2]) <= CLOSE_TOLERANCE


def _line_z(pts) -> float | None:
    zs = {round(p[2], 3) for p in pts}
    if len(zs) == 1:
        z = zs.pop()
        return None if z == 0 else z
    return None


def _numeric(value: str | None) -> float | None:
    if value and NUMBER.match(value):
        return float(value)
    return None


@dataclass
class _Feature:
    geom: object
    cad_layer: str
    entity: str
    handle: str | None
    feature_code: str | None
    elevation: float
    text: str | None
    block: str | None
    attributes: str | None
    index: bool


def _plain_text(s: str) -> str:
    """TEXT/ATTRIB content without %%-codes (%%d -> °)."""
    from ezdxf.tools.text import plain_text as plain

    return plain(s)


def _plain_mtext(s: str) -> str:
    """MTEXT content without inline formatting ({\\fSimSun|…;人民东路}); \\P becomes a newline."""
    from ezdxf.tools.text import fast_plain_mtext as plain

    return plain(s, split=False)


class _Converter:
    def __init__(self, mapping: Mapping):
        self.mapping = mapping
        self.varying_z: Counter = Counter()  # target -> lines whose vertices differ in Z (elevation NULL)
        self.elevation_from_text: Counter = Counter()

    def convert(self, e, rule: LayerRule | None) -> tuple[str, _Feature]:
        m = self.mapping
        kind = e.dxftype()
        elevation_wanted = bool(rule and rule.elevation_from_z)
        text = block = attributes = None
        values: dict[str, str] = {}
        elevation = math.nan
        geom = None
        if kind in TEXT_TYPES:
            if kind == "TEXT":
                _, p, _ = e.get_placement()
                p = _wcs_point(e, p)
                text = _plain_text(_clean(e.dxf.text))
            else:
                p = e.dxf.insert
                text = _plain_mtext(_clean(e.text))
            geom = Point(p.x, p.y)
            if elevation_wanted and p.z:
                elevation = p.z
            target = None if rule is None else rule.target if rule.label_text else m.text_target
        elif kind in POINT_TYPES:
            if kind == "INSERT":
                p = _wcs_point(e, e.dxf.insert)
                block = _clean(e.dxf.name)
                for a in e.attribs:
                    values[_clean(a.dxf.tag)] = _plain_text(_clean(a.dxf.text))
                if values:
                    attributes = json.dumps(values, ensure_ascii=False)
                    text = next(iter(values.values()))
            else:
                p = e.dxf.location
            geom = Point(p.x, p.y)
            if elevation_wanted:
                if p.z:
                    elevation = p.z
                else:  # a 2D drawing: take the height from a numeric attribute ("928.35")
                    number = next((v for v in values.values() if _numeric(v) is not None), None)
                    if number is not None:
                        elevation = float(number)
                        self.elevation_from_text[rule.target] += 1
            target = (rule.point_target or rule.target) if rule else None
        elif kind in AREA_TYPES:
            if kind in ("HATCH", "MPOLYGON"):
                geom = _hatch_polygon(e, m.curve_tolerance)
            else:
                pts = _path_points(e, m.curve_tolerance)
                if pts and len(pts) >= 3:
                    geom = Polygon([(v.x, v.y) for v in pts])
            target = rule.target if rule else None
        else:
            pts = _path_points(e, m.curve_tolerance)
            target = rule.target if rule else None
            if pts is not None and len(pts) >= 2:
                xy = [(v.x, v.y) for v in pts]
                closed = _is_closed_entity(e, [(v.x, v.y, v.z) for v in pts])
                if closed and rule and rule.close_to_polygon and len(set(xy)) >= 3:
                    if xy[0] != xy[-1]:
                        xy.append(xy[0])
                    geom = Polygon(xy)
                else:
                    geom = LineString(xy)
                    if rule and rule.line_target:
                        target = rule.line_target
                if elevation_wanted:
                    z = _line_z([(v.x, v.y, v.z) for v in pts])
                    if z is not None:
                        elevation = z
                    elif len({round(v.z, 3) for v in pts}) > 1:
                        self.varying_z[target] += 1
        if rule is None:
            target = m.unmapped_target
        feature = _Feature(
            geom=geom, cad_layer=_clean(e.dxf.layer), entity=kind, handle=e.dxf.get("handle"),
            feature_code=_feature_code(e, m.xdata_apps), elevation=elevation, text=text, block=block,
            attributes=attributes, index=bool(rule and rule.index_contour),
        )
        return target, feature


# ---------------------------------------------------------------------------- source layers

class DxfTargetLayer(SourceLayer):
    """One mapping target of one DXF file; features are already in memory (a sheet is small)."""

    def __init__(self, *, features: list[_Feature], **kwargs):
        super().__init__(**kwargs)
        self._features = features

    def batches(self) -> Iterator[Batch]:
        names = [c.name for c in self.fields]
        for start in range(0, len(self._features), BATCH_SIZE):
            chunk = self._features[start:start + BATCH_SIZE]
            geoms = np.empty(len(chunk), dtype=object)
            geoms[:] = [f.geom for f in chunk]
            attrs = {}
            for name in names:
                if name == "elevation":
                    attrs[name] = np.array([f.elevation for f in chunk], dtype=float)
                elif name == "index":
                    attrs[name] = np.array([f.index for f in chunk], dtype=bool)
                else:
                    values = np.empty(len(chunk), dtype=object)
                    values[:] = [getattr(f, name) for f in chunk]
                    attrs[name] = values
            yield Batch(geoms=geoms, attrs=attrs, first_feature=start + 1)


class CassDxfReader(Reader):
    suffixes = (".dxf",)

    def __init__(self, mapping: str | Path | Mapping | None = None):
        if mapping is None:
            try:
                from django.conf import settings

                mapping = getattr(settings, "GEOPLATFORM", {}).get("CASS_MAPPING")
            except Exception:  # settings not configured (a script): the bundled mapping
                mapping = None
        self.mapping = mapping if isinstance(mapping, Mapping) else load_mapping(mapping)

    def open(self, path: Path, *, encoding: str | None = None, source_layer: str | None = None,
             workdir: Path | None = None) -> list[SourceLayer]:
        path = Path(path)  # read in memory: `workdir` is not needed
        m = self.mapping
        doc, enc, repaired = _load(path, encoding)
        converter = _Converter(m)
        by_target: dict[str, list[_Feature]] = {}
        cad_layers: dict[str, Counter] = {}
        entities: dict[str, Counter] = {}
        sheet_ids: list[str] = []
        for e in doc.modelspace():
            layer = e.dxf.layer
            rule = m.rule_for(_clean(layer))
            target, feature = converter.convert(e, rule)
            by_target.setdefault(target, []).append(feature)
            cad_layers.setdefault(target, Counter())[feature.cad_layer] += 1
            entities.setdefault(target, Counter())[feature.entity] += 1
            if feature.text:
                if SHEET_ID_TEXT.match(feature.text) and feature.text.strip() not in sheet_ids:
                    sheet_ids.append(feature.text.strip())
        paper = sum(len(layout) for layout in doc.layouts if not layout.is_modelspace)
        file_facts = {
            "dxf_version": doc.dxfversion,
            "codepage": doc.header.get("$DWGCODEPAGE"),
            "insunits": doc.header.get("$INSUNITS"),
            "mapping": m.path.name,
            "sheet_ids": sheet_ids,
            "paperspace_entities_ignored": paper,
        }
        if repaired:
            file_facts["recover_fixes"] = repaired
        note = enc.note

        order = list(m.targets)
        names = sorted(by_target, key=lambda t: order.index(t) if t in order else len(order))
        if source_layer is not None:
            if source_layer not in by_target:
                raise InvalidInput(f"{path.name}: no target {source_layer!r} (it has: {', '.join(names)})")
            names = [source_layer]
        layers: list[SourceLayer] = []
        for name in names:
            spec = m.targets[name]
            fields = list(BASE_FIELDS) + ([INDEX_FIELD] if m.has_index(name) else [])
            extra = {
                "title_zh": spec.get("title_zh", name),
                "title_en": spec.get("title_en", name),
                "cad_layers": dict(cad_layers[name].most_common()),
                "entities": dict(entities[name].most_common()),
                **file_facts,
            }
            if converter.varying_z[name]:
                extra["lines_with_varying_z"] = converter.varying_z[name]
            if converter.elevation_from_text[name]:
                extra["elevation_from_text"] = converter.elevation_from_text[name]
            layers.append(DxfTargetLayer(
                name=name, path=path, fields=fields, geometry_type=spec.get("geometry", ""),
                crs=None, crs_note="DXF declares no coordinate system",
                encoding=enc.name or "binary", encoding_note=note,
                count=len(by_target[name]), extra=extra, features=by_target[name],
            ))
        return layers
