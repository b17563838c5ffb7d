"""The one place ingest decides a source's CRS and builds the transform to storage (EPSG:4490).

Chinese deliveries declare their CRS in many spellings: EPSG codes, OGC WKT 1/2, PROJ strings
and ESRI-style ``.prj`` files written by ArcGIS, SuperMap, MapGIS or CASS, sometimes with a
custom name and an anonymous datum. `recognise` reads the projection *parameters* (datum or
ellipsoid, central meridian, false easting, scale 1, latitude of origin 0) and maps
Gauss-Krüger definitions onto the EPSG code of the national series, instead of trusting names
or ``CRS.to_epsg()``.

Rules (see ../shared/DOMAIN.md):

* CGCS2000 is stored as is. WGS84 goes through PROJ's null ("ballpark") transform: the two
  differ by centimetres.
* Xi'an 1980 and Beijing 1954 are refused unless the caller gives the locally published
  transformation (``towgs84``); a ``TOWGS84`` declared inside the file is not used on its own.
  Any other datum is refused when PROJ only knows a ballpark transform to CGCS2000.
* A file without a CRS is only identified from its coordinates when a zone-prefixed easting
  names the Gauss-Krüger zone; the datum is then *assumed* CGCS2000 and the assumption is
  returned in `Recognised.note`.

Transformers are always built with ``always_xy=True``: sources and PostGIS hold x=easting/lon,
y=northing/lat, while EPSG orders 4490 as lat, lon and the GK CRSs as northing, easting.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pyproj import CRS, Transformer
from pyproj.crs import Datum
from pyproj.exceptions import CRSError, ProjError

from layers.errors import InvalidInput, PlatformError

__all__ = [
    "STORAGE_EPSG",
    "Recognised",
    "check_region",
    "guess_from_coordinates",
    "parse_user_srs",
    "plausible_for_region",
    "recognise",
    "transformer_to_storage",
]

STORAGE_EPSG = 4490  # CGCS2000 geographic 2D; the pipeline's storage CRS

DatumName = Literal["CGCS2000", "WGS84", "Xian1980", "Beijing1954", "other"]
Kind = Literal["geographic", "gk3", "gk6", "utm", "projected"]

DATUM_LABELS = {"CGCS2000": "CGCS2000", "WGS84": "WGS84", "Xian1980": "Xi'an 1980", "Beijing1954": "Beijing 1954"}
LEGACY_DATUMS = ("Xian1980", "Beijing1954")

# Roughly China, for sanity checks of transformed coordinates (lon_min, lat_min, lon_max, lat_max).
CHINA_BOUNDS = (73.0, 18.0, 135.0, 54.0)


@dataclass(frozen=True)
class Recognised:
    """What ingest knows about a source CRS.

    ``crs`` is the canonical EPSG CRS when ``epsg`` is set, else the CRS as declared (without
    any declared TOWGS84). ``prefixed`` is only set for Gauss-Krüger zones: True for the
    zone-prefixed easting (e.g. 29 512 345), False for the short one (512 345). ``note`` says
    how the CRS was found or what was assumed, for the load report.
    """

    epsg: int | None
    crs: CRS
    name: str
    datum: DatumName
    kind: Kind
    zone: int | None = None
    prefixed: bool | None = None
    central_meridian: float | None = None
    note: str = ""

    @property
    def datum_label(self) -> str:
        return DATUM_LABELS.get(self.datum, self.crs.datum.name if self.crs.datum else "unknown datum")


# --- The EPSG series, verified against PROJ 9.5's EPSG database (tests re-check every code) ---

_GEOGRAPHIC = {"CGCS2000": 4490, "WGS84": 4326, "Xian1980": 4610, "Beijing1954": 4214}

# (datum, kind, prefixed) -> first EPSG code; zones run 25-45 (3°, CM 75E-135E step 3) and
# 13-23 (6°, CM 75E-135E step 6), the codes consecutive in that order.
_GK_SERIES: dict[tuple[str, str, bool], int] = {
    ("CGCS2000", "gk3", True): 4513,  # zone 25..45        4513-4533
    ("CGCS2000", "gk3", False): 4534,  # CM 75E..135E      4534-4554
    ("CGCS2000", "gk6", True): 4491,  # zone 13..23        4491-4501
    ("CGCS2000", "gk6", False): 4502,  # CM 75E..135E      4502-4512
    ("Xian1980", "gk6", True): 2327,  #                    2327-2337
    ("Xian1980", "gk6", False): 2338,  #                   2338-2348
    ("Xian1980", "gk3", True): 2349,  #                    2349-2369
    ("Xian1980", "gk3", False): 2370,  #                   2370-2390
    ("Beijing1954", "gk3", True): 2401,  #                 2401-2421
    ("Beijing1954", "gk3", False): 2422,  #                2422-2442
    ("Beijing1954", "gk6", True): 21413,  #                21413-21423
    ("Beijing1954", "gk6", False): 21453,  #               21453-21463
}
_ZONES = {"gk3": range(25, 46), "gk6": range(13, 24)}


def _cm(kind: str, zone: int) -> int:
    return 3 * zone if kind == "gk3" else 6 * zone - 3


def gk_epsg(datum: str, kind: str, zone: int, prefixed: bool) -> int | None:
    """EPSG code of a national Gauss-Krüger CRS, or None outside the series."""
    first = _GK_SERIES.get((datum, kind, prefixed))
    zones = _ZONES.get(kind)
    if first is None or zone not in zones:
        return None
    return first + zone - zones.start


_BY_EPSG: dict[int, tuple[str, str, int, bool]] = {
    gk_epsg(d, k, z, p): (d, k, z, p) for (d, k, p) in _GK_SERIES for z in _ZONES[k]
}


# --- recognise ---------------------------------------------------------------------------


def _norm(text: str) -> str:
    return re.sub(r"[^0-9a-z\u4e00-\u9fff]", "", text.lower())


def _where(path) -> str:
    return f"{path}: " if path else ""


def _datum_by_name(name: str) -> DatumName | None:
    n = _norm(name.split("using towgs84")[0])  # PROJ's "Unknown based on ... using towgs84=..."
    if "newbeijing" in n:
        return None  # New Beijing is its own datum, not Beijing 1954
    if any(s in n for s in ("china2000", "cgcs2000", "chinageodeticcoordinatesystem2000", "cgcs")):
        return "CGCS2000"
    if any(s in n for s in ("wgs84", "wgs1984", "worldgeodeticsystem1984")):
        return "WGS84"
    if any(s in n for s in ("xian1980", "xian80", "西安80", "西安1980")):
        return "Xian1980"
    if any(s in n for s in ("beijing1954", "beijing54", "北京54", "北京1954")):
        return "Beijing1954"
    return None


def _anonymous_datum(name: str, ellipsoid: str) -> bool:
    n = _norm(name)
    if not n or any(s in n for s in ("unknown", "notspecified", "undefined", "custom", "userdefined", "local")):
        return True
    if n.removeprefix("d") == _norm(ellipsoid) or n == _norm(ellipsoid):
        return True  # ESRI "D_<ellipsoid>"
    try:
        Datum.from_name(name)
    except CRSError:
        return True
    return False


def _same(a: float, b: float, tol: float) -> bool:
    return abs(a - b) <= tol


def _datum_by_ellipsoid(a: float, rf: float) -> DatumName | None:
    if _same(a, 6378137.0, 0.01) and _same(rf, 298.257222101, 1e-6):
        return "CGCS2000"  # = GRS80's parameters
    if _same(a, 6378137.0, 0.01) and _same(rf, 298.257223563, 1e-6):
        return "WGS84"
    if _same(a, 6378140.0, 0.01) and _same(rf, 298.257, 1e-6):
        return "Xian1980"  # IAG 1975, used by nothing else in China
    if _same(a, 6378245.0, 0.01) and _same(rf, 298.3, 1e-6):
        return "Beijing1954"  # Krassowsky 1940
    return None


def _classify_datum(crs: CRS) -> tuple[DatumName, str]:
    datum = crs.datum
    name = datum.name if datum else ""
    found = _datum_by_name(name)
    if found:
        return found, ""
    ell = crs.ellipsoid
    if ell is not None and _anonymous_datum(name, ell.name):
        by_ellipsoid = _datum_by_ellipsoid(ell.semi_major_metre, ell.inverse_flattening)
        if by_ellipsoid:
            label = DATUM_LABELS[by_ellipsoid]
            return by_ellipsoid, f"datum {name!r} is not named; taken as {label} from its ellipsoid {ell.name}"
    return "other", ""


def _params(crs: CRS) -> tuple[str, dict[str, float]]:
    op = crs.coordinate_operation
    if op is None:
        return "", {}
    return _norm(op.method_name), {_norm(p.name): p.value for p in op.params}


def _gk_kind_hint(crs: CRS) -> str | None:
    n = _norm(crs.name)
    if any(s in n for s in ("3degree", "3deg", "3度")):
        return "gk3"
    if any(s in n for s in ("6degree", "6deg", "6度")):
        return "gk6"
    if "gausskruger" in n or "gk" in n:
        return "gk6"  # EPSG and ESRI name 6° zones without a width ("CGCS2000 / Gauss-Kruger CM 87E")
    return None


def _own_epsg(crs: CRS) -> int | None:
    """The EPSG code the CRS carries itself (no database search, unlike to_epsg)."""
    ident = crs.to_json_dict().get("id") or {}
    return int(ident["code"]) if ident.get("authority") == "EPSG" else None


def _unwrap(crs: CRS) -> tuple[CRS, str]:
    notes = []
    if crs.is_bound:
        op = crs.coordinate_operation
        values = ",".join(f"{p.value:g}" for p in op.params) if op is not None else "?"
        notes.append(f"the declared TOWGS84 {values} is not used on its own; give towgs84 to apply it")
        crs = crs.source_crs
    if crs.is_compound:
        horizontal = [c for c in crs.sub_crs_list if c.is_geographic or c.is_projected]
        if horizontal:
            notes.append(f"vertical part of {crs.name!r} ignored")
            crs = horizontal[0]
            if crs.is_bound:
                crs = crs.source_crs
    return crs, "; ".join(notes)


def _to_crs(crs_or_wkt, path) -> CRS:
    if isinstance(crs_or_wkt, CRS):
        return crs_or_wkt
    if isinstance(crs_or_wkt, bytes):
        try:
            crs_or_wkt = crs_or_wkt.decode("utf-8-sig")
        except UnicodeDecodeError:
            crs_or_wkt = crs_or_wkt.decode("gb18030", errors="replace")  # .prj from Chinese desktop GIS
    text = str(crs_or_wkt).lstrip("\ufeff").strip()
    if not text:
        raise InvalidInput(f"{_where(path)}the coordinate reference system definition is empty")
    try:
        return CRS.from_user_input(text)
    except CRSError as e:
        raise InvalidInput(f"{_where(path)}cannot read the coordinate reference system ({e}): {text[:120]!r}") from e


def recognise(crs_or_wkt: CRS | str | bytes, *, path: Path | str | None = None) -> Recognised:
    """Identify a CRS given as pyproj CRS, WKT (OGC 1/2, ESRI .prj), PROJ string or EPSG code.

    Gauss-Krüger and UTM definitions are matched by their parameters, so a custom-named
    ``Transverse_Mercator`` with CGCS2000's ellipsoid, CM 87 and false easting 29 500 000 is
    EPSG:4517. Raises InvalidInput (naming `path`) for unreadable or non-horizontal CRSs.
    """
    original = _to_crs(crs_or_wkt, path)
    crs, note = _unwrap(original)
    if not (crs.is_geographic or crs.is_projected):
        raise InvalidInput(f"{_where(path)}{crs.type_name} {crs.name!r} is not a horizontal (map) coordinate system")
    datum, datum_note = _classify_datum(crs)
    notes = [n for n in (note, datum_note) if n]

    def done(epsg, kind, zone=None, prefixed=None, cm=None, keep=None):
        canonical = keep if keep is not None else (CRS.from_epsg(epsg) if epsg else crs)
        if epsg and not keep and _norm(crs.name) != _norm(canonical.name):
            notes.append(f"{crs.name!r} matched to EPSG:{epsg} by its parameters")
        return Recognised(
            epsg=epsg, crs=canonical, name=canonical.name, datum=datum, kind=kind, zone=zone,
            prefixed=prefixed, central_meridian=cm, note="; ".join(notes),
        )

    if crs.is_geographic:
        angular = crs.axis_info[0].unit_name.lower() if crs.axis_info else ""
        greenwich = crs.prime_meridian is None or crs.prime_meridian.longitude == 0
        if datum in _GEOGRAPHIC and "degree" in angular and greenwich:
            return done(_GEOGRAPHIC[datum], "geographic")
        return done(crs.to_epsg(), "geographic", keep=crs)

    method, p = _params(crs)
    lat0 = p.get("latitudeofnaturalorigin", p.get("latitudeoforigin"))
    lon0 = p.get("longitudeofnaturalorigin", p.get("centralmeridian"))
    k = p.get("scalefactoratnaturalorigin", p.get("scalefactor"))
    fe = p.get("falseeasting")
    fn = p.get("falsenorthing")
    metres = all(a.unit_conversion_factor == 1.0 and "met" in a.unit_name.lower() for a in crs.axis_info)
    is_tm = ("transversemercator" in method or "gausskruger" in method) and "south" not in method
    if not (is_tm and metres and None not in (lat0, lon0, k, fe, fn) and lat0 == 0):
        return done(crs.to_epsg(), "projected", cm=lon0, keep=crs)

    if _same(k, 1.0, 1e-9) and fn == 0:  # Gauss-Krüger
        prefix, rest = divmod(fe, 1_000_000)
        prefixed = prefix > 0
        kind = zone = None
        if not _same(rest, 500_000, 1e-6):
            pass
        elif prefixed:
            prefix = int(prefix)
            if 25 <= prefix <= 45 and _same(lon0, 3 * prefix, 1e-9):
                kind, zone = "gk3", prefix
            elif 13 <= prefix <= 23 and _same(lon0, 6 * prefix - 3, 1e-9):
                kind, zone = "gk6", prefix
        elif _same(lon0, round(lon0), 1e-9) and round(lon0) % 3 == 0:
            cm = round(lon0)
            declared = _BY_EPSG.get(_own_epsg(crs) or 0)
            if declared and declared[2] in _ZONES[declared[1]] and _cm(declared[1], declared[2]) == cm:
                kind = declared[1]
            elif cm % 6 == 3:  # both a 3° and a 6° central meridian: same projection, label by name
                kind = _gk_kind_hint(crs) or "gk3"  # default: large-scale survey data is 3°
            else:
                kind = "gk3"
            zone = cm // 3 if kind == "gk3" else (cm + 3) // 6
        if kind:
            epsg = gk_epsg(datum, kind, zone, prefixed)
            return done(epsg, kind, zone, prefixed, float(lon0), keep=None if epsg else crs)
        return done(crs.to_epsg(), "projected", cm=lon0, keep=crs)

    if _same(k, 0.9996, 1e-9) and fe == 500_000 and fn in (0, 10_000_000):
        zone = (lon0 + 183) / 6
        if _same(zone, round(zone), 1e-9) and 1 <= round(zone) <= 60:
            zone = round(zone)
            epsg = (32600 if fn == 0 else 32700) + zone if datum == "WGS84" else None
            return done(epsg, "utm", zone, None, float(lon0), keep=None if epsg else crs)
    return done(crs.to_epsg(), "projected", cm=lon0, keep=crs)


# --- files without a CRS -----------------------------------------------------------------


def _fmt(value: float) -> str:
    return f"{value:,.0f}".replace(",", " ")


def guess_from_coordinates(bounds: tuple[float, float, float, float]) -> Recognised | None:
    """The CRS of a file that declares none, only when its coordinates identify it.

    `bounds` is (xmin, ymin, xmax, ymax) in the file's x=easting, y=northing order. Only a
    zone-prefixed Gauss-Krüger easting names a zone (prefix 25–45: 3° zone; 13–23: 6° zone);
    its datum is still unknown, so the result *assumes* CGCS2000 (the national standard since
    2008) and says so in `Recognised.note`. Everything else returns None: lon/lat bounds (WGS84,
    CGCS2000 or Xi'an geographic alike), short eastings (any zone), eastings spanning two
    prefixes, swapped axes, or a zone whose coordinates do not land in China.
    """
    try:
        xmin, ymin, xmax, ymax = (float(v) for v in bounds)
    except (TypeError, ValueError):
        return None
    if not all(map(math.isfinite, (xmin, ymin, xmax, ymax))) or xmin > xmax or ymin > ymax:
        return None
    prefix = int(xmin // 1_000_000)
    if int(xmax // 1_000_000) != prefix or not 0 <= ymin <= ymax <= 6_000_000:
        return None
    if 25 <= prefix <= 45:
        kind = "gk3"
    elif 13 <= prefix <= 23:
        kind = "gk6"
    else:
        return None
    if not 100_000 <= xmin - prefix * 1_000_000 <= xmax - prefix * 1_000_000 <= 900_000:
        return None
    epsg = gk_epsg("CGCS2000", kind, prefix, True)
    crs = CRS.from_epsg(epsg)
    lonlat = Transformer.from_crs(crs, STORAGE_EPSG, always_xy=True).transform_bounds(xmin, ymin, xmax, ymax)
    if not plausible_for_region(lonlat):
        return None
    width = "3-degree" if kind == "gk3" else "6-degree"
    note = (
        f"assumed CGCS2000 {width} GK zone {prefix} (EPSG:{epsg}) from zone-prefixed eastings "
        f"{_fmt(xmin)}–{_fmt(xmax)}; pass --srs if the data is Xi'an 1980 or Beijing 1954"
    )
    return Recognised(
        epsg=epsg, crs=crs, name=crs.name, datum="CGCS2000", kind=kind, zone=prefix,
        prefixed=True, central_meridian=float(_cm(kind, prefix)), note=note,
    )


# --- the user's --srs --------------------------------------------------------------------

ACCEPTED_SRS_FORMS = """accepted forms:
  EPSG:4517 or 4517                      an EPSG code
  CGCS2000 GK3 CM87, cgcs2000-gk3-cm87e  3-degree Gauss-Krüger, short easting, by central meridian
  CGCS2000 GK3 29, cgcs2000-gk3-zone29   3-degree Gauss-Krüger, zone-prefixed easting, by zone
  xian80 gk6 15, beijing54 gk6 cm87      6-degree zones (13-23) / central meridians; datums
                                         cgcs2000, xian1980 (xian80), beijing1954 (beijing54, bj54)
  CGCS2000, WGS84, xian80, beijing54     geographic (lon/lat) coordinates
  WGS84 UTM 45N                          UTM
  WKT (OGC or ESRI .prj text), PROJ string (+proj=tmerc ...), PROJJSON"""

_SHORT_DATUMS = {
    "cgcs2000": "CGCS2000", "cgcs": "CGCS2000", "china2000": "CGCS2000",
    "wgs84": "WGS84", "wgs1984": "WGS84",
    "xian1980": "Xian1980", "xian80": "Xian1980",
    "beijing1954": "Beijing1954", "beijing54": "Beijing1954", "bj54": "Beijing1954",
}
_SHORT_KINDS = {"utm": "utm"} | {
    form.format(w): f"gk{w}" for w in "36" for form in ("gk{}", "{}deg", "{}degree", "{}deggk", "{}degreegk")
}
_SHORT_RE = re.compile(
    r"(?P<datum>{})(?P<kind>{})?(?P<which>zone|z|cm)?(?P<number>\d+(?:\.\d+)?)?(?P<hemi>[ens])?".format(
        "|".join(sorted(_SHORT_DATUMS, key=len, reverse=True)),
        "|".join(sorted(_SHORT_KINDS, key=len, reverse=True)),
    )
)


def _bad_srs(text: str, why: str) -> InvalidInput:
    return InvalidInput(f"spatial reference {text!r}: {why}\n{ACCEPTED_SRS_FORMS}")


def _short_form(text: str, compact: str) -> CRS:
    m = _SHORT_RE.fullmatch(compact)
    datum = _SHORT_DATUMS[m["datum"]]
    kind = _SHORT_KINDS.get(m["kind"] or "")
    which, number, hemi = m["which"], m["number"], m["hemi"]
    if kind is None:
        if which or number or hemi:
            raise _bad_srs(text, "say gk3, gk6 or utm before the zone or central meridian")
        return CRS.from_epsg(_GEOGRAPHIC[datum])
    if number is None:
        raise _bad_srs(text, "give the zone (e.g. 29) or the central meridian (e.g. CM87)")
    if kind == "utm":
        if datum != "WGS84" or which == "cm" or "." in number or not 1 <= int(number) <= 60 or hemi == "e":
            raise _bad_srs(text, "UTM is supported for WGS84 zones 1-60, e.g. WGS84 UTM 45N")
        return CRS.from_epsg((32700 if hemi == "s" else 32600) + int(number))
    if datum == "WGS84" or hemi in ("n", "s"):
        raise _bad_srs(text, "Gauss-Krüger zones are defined for CGCS2000, Xi'an 1980 and Beijing 1954")
    value = float(number)
    zones = _ZONES[kind]
    cms = {_cm(kind, z): z for z in zones}
    if which in ("zone", "z") or (which is None and hemi is None and value in zones):
        if value not in zones:
            raise _bad_srs(text, f"{kind} zones run {zones.start}-{zones.stop - 1}")
        return CRS.from_epsg(gk_epsg(datum, kind, int(value), True))
    if value not in cms:
        step = 3 if kind == "gk3" else 6
        why = f"{kind} central meridians are 75E-135E in steps of {step}, or zones {zones.start}-{zones.stop - 1}"
        raise _bad_srs(text, why)
    return CRS.from_epsg(gk_epsg(datum, kind, cms[value], False))


def parse_user_srs(text: str) -> CRS:
    """The CRS a user names (CLI ``--srs``, upload form); forms in `ACCEPTED_SRS_FORMS`.

    Raises InvalidInput listing the accepted forms when the text names no horizontal CRS.
    """
    text = (text or "").strip()
    if not text:
        raise _bad_srs(text, "empty")
    compact = re.sub(r"[\s_\-/,:'’()]+", "", text.lower()).replace("degrees", "degree")
    m = re.fullmatch(r"(?:epsg)?(\d+)", compact)
    if m:
        try:
            crs = CRS.from_epsg(int(m[1]))
        except CRSError:
            raise _bad_srs(text, f"EPSG:{m[1]} is not in the EPSG database") from None
    elif _SHORT_RE.fullmatch(compact):
        crs = _short_form(text, compact)
    else:
        try:
            crs = CRS.from_user_input(text)
        except CRSError:
            raise _bad_srs(text, "not recognised") from None
    if not (crs.is_geographic or crs.is_projected or crs.is_compound or crs.is_bound):
        raise _bad_srs(text, f"{crs.type_name} {crs.name!r} is not a horizontal (map) coordinate system")
    return crs


# --- transform to storage ----------------------------------------------------------------

_HELMERT = [  # position vector (EPSG:9606), PROJ's +towgs84 order and units
    ("X-axis translation", 8605, "metre"),
    ("Y-axis translation", 8606, "metre"),
    ("Z-axis translation", 8607, "metre"),
    ("X-axis rotation", 8608, "arc-second"),
    ("Y-axis rotation", 8609, "arc-second"),
    ("Z-axis rotation", 8610, "arc-second"),
    ("Scale difference", 8611, "parts per million"),
]
_UNITS = {
    "metre": "metre",
    "arc-second": {"type": "AngularUnit", "name": "arc-second", "conversion_factor": math.pi / 648000},
    "parts per million": {"type": "ScaleUnit", "name": "parts per million", "conversion_factor": 1e-6},
}


def _named_towgs84() -> dict:
    try:
        from django.conf import settings

        table = getattr(settings, "GEOPLATFORM", None) or {}
        return dict(table.get("TOWGS84") or {})
    except Exception:  # settings not configured, or not Django at all: no named sets
        return {}


def _towgs84_values(towgs84: str, path) -> tuple[list[float], str]:
    text = towgs84.strip()
    label = text
    if not re.fullmatch(r"[\s\d.,+\-eE]+", text):
        named = _named_towgs84()
        value = named.get(text)
        if value is None:
            value = next((v for k, v in named.items() if k.lower() == text.lower()), None)
        if value is None:
            known = ", ".join(sorted(named)) or "none configured"
            raise InvalidInput(
                f"{_where(path)}towgs84 {text!r} is neither 'dx,dy,dz[,rx,ry,rz,s]' nor a named set in "
                f"GEOPLATFORM['TOWGS84'] (known: {known})"
            )
        label, text = f"{text} ({value})", str(value)
    try:
        values = [float(v) for v in text.replace(" ", "").split(",")]
    except ValueError:
        values = []
    if len(values) not in (3, 7) or not all(map(math.isfinite, values)):
        raise InvalidInput(
            f"{_where(path)}towgs84 {towgs84!r}: give 3 or 7 numbers 'dx,dy,dz[,rx,ry,rz,s]' "
            "(metres, arc-seconds, ppm; position-vector convention as PROJ's +towgs84)"
        )
    return values + [0.0] * (7 - len(values)), label


def _bound_to_storage(source: CRS, values: list[float], label: str) -> CRS:
    """`source` bound to CGCS2000 by a user Helmert: PROJ then uses exactly that step.

    (A ``+towgs84`` PROJ string is bound to WGS84, and PROJ 9 ignores it on the way to 4490,
    going through a ballpark instead; binding to 4490 itself avoids that.)
    """
    bound = {
        "$schema": "https://proj.org/schemas/v0.7/projjson.schema.json",
        "type": "BoundCRS",
        "source_crs": source.to_json_dict(),
        "target_crs": CRS.from_epsg(STORAGE_EPSG).to_json_dict(),
        "transformation": {
            "name": f"user transformation {label} to CGCS2000",
            "method": {
                "name": "Position Vector transformation (geog2D domain)",
                "id": {"authority": "EPSG", "code": 9606},
            },
            "parameters": [
                {"name": name, "value": v, "unit": _UNITS[unit], "id": {"authority": "EPSG", "code": code}}
                for (name, code, unit), v in zip(_HELMERT, values)
            ],
        },
    }
    return CRS.from_json_dict(bound)


def _ballpark(transformer: Transformer) -> bool:
    names = [op.name for op in transformer.operations or []] or [transformer.description]
    return any("ballpark" in n.lower() for n in names)


def transformer_to_storage(
    source: Recognised | CRS, *, towgs84: str | None = None, path: Path | str | None = None
) -> Transformer:
    """An always_xy Transformer from the source CRS to EPSG:4490.

    Xi'an 1980 and Beijing 1954 (and any datum PROJ can only ballpark) are refused, naming
    `path` and the datum, unless `towgs84` gives the transformation to CGCS2000:
    "dx,dy,dz[,rx,ry,rz,s]" (metres, arc-seconds, ppm; position vector, as PROJ's +towgs84) or
    the name of a set in ``settings.GEOPLATFORM["TOWGS84"]``. CGCS2000 sources refuse a
    `towgs84` (it would contradict the declared datum: fix the CRS with --srs instead).
    """
    rec = source if isinstance(source, Recognised) else recognise(source, path=path)
    where = _where(path)
    if towgs84 is not None and str(towgs84).strip():
        if rec.datum == "CGCS2000":
            raise InvalidInput(
                f"{where}towgs84 given but the data is declared in CGCS2000 ({rec.name}); "
                "if it is really Xi'an 1980 or Beijing 1954, say so with --srs"
            )
        values, label = _towgs84_values(str(towgs84), path)
        transformer = Transformer.from_crs(_bound_to_storage(rec.crs, values, label), STORAGE_EPSG, always_xy=True)
        if _ballpark(transformer):  # never expected: PROJ must use the bound Helmert
            raise PlatformError(f"{where}PROJ did not apply the given towgs84 ({transformer.description})")
        return transformer
    if rec.datum in LEGACY_DATUMS:
        declared = "".join(f" ({n})" for n in rec.note.split("; ") if "TOWGS84" in n)
        raise InvalidInput(
            f"{where}the data is in {rec.datum_label} ({rec.name}); its shift to CGCS2000 is tens of metres "
            "and needs the locally published transformation, which is not guessed: give towgs84 "
            "'dx,dy,dz[,rx,ry,rz,s]' (--towgs84, position vector, metres/arc-seconds/ppm) or the name "
            f"of a set in GEOPLATFORM['TOWGS84']{declared}"
        )
    try:
        transformer = Transformer.from_crs(rec.crs, STORAGE_EPSG, always_xy=True)
    except ProjError as e:
        raise InvalidInput(f"{where}no transformation from {rec.name} to CGCS2000 ({e})") from e
    if rec.datum not in ("CGCS2000", "WGS84") and _ballpark(transformer):
        raise InvalidInput(
            f"{where}PROJ knows no transformation from datum {rec.datum_label!r} ({rec.name}) to CGCS2000; "
            "give towgs84 'dx,dy,dz[,rx,ry,rz,s]' or fix the CRS with --srs"
        )
    return transformer


# --- sanity of transformed coordinates ---------------------------------------------------


def plausible_for_region(lon_lat_bounds: tuple[float, float, float, float]) -> bool:
    """True when (lon_min, lat_min, lon_max, lat_max) lies within China (73–135E, 18–54N).

    False catches swapped axes, a wrong zone or a wrong --srs after transformation.
    """
    try:
        xmin, ymin, xmax, ymax = (float(v) for v in lon_lat_bounds)
    except (TypeError, ValueError):
        return False
    if not all(map(math.isfinite, (xmin, ymin, xmax, ymax))):
        return False
    lon0, lat0, lon1, lat1 = CHINA_BOUNDS
    return lon0 <= xmin <= xmax <= lon1 and lat0 <= ymin <= ymax <= lat1


def check_region(lon_lat_bounds: tuple[float, float, float, float], *, path: Path | str | None = None) -> None:
    """Raise InvalidInput, naming `path`, unless `plausible_for_region(lon_lat_bounds)`."""
    if plausible_for_region(lon_lat_bounds):
        return
    xmin, ymin, xmax, ymax = lon_lat_bounds
    raise InvalidInput(
        f"{_where(path)}coordinates land at lon {xmin:.4f}..{xmax:.4f}, lat {ymin:.4f}..{ymax:.4f}, "
        "which is outside China; wrong --srs or swapped axes?"
    )
