"""Per-row checks of a submitted POI file. Every refused row is reported with its row number
and every reason that applies (REASONS); nothing is dropped silently."""

import datetime as dt
import re
import unicodedata
import uuid
from dataclasses import dataclass, field

from django.conf import settings

from . import categories
from .rows import RawRow

REASONS = {
    "unknown_op": "operation must be add, update or delete",
    "missing_id": "update and delete need the POI id",
    "bad_id": "id may only contain letters, digits and . _ : - (at most 64)",
    "unknown_id": "no current POI has this id",
    "id_exists": "a POI with this id already exists; use op=update",
    "duplicate_id": "the same POI id appears on an earlier row",
    "duplicate_row": "the same row appears earlier in the file",
    "missing_name": "a new POI needs a Chinese name",
    "missing_category": "a new POI needs a category",
    "unknown_category": "category not in the code list (docs/poi.md)",
    "bad_rating": "rating not valid for this category (1A–5A for scenic spots, 1–5 stars for hotels)",
    "missing_coordinates": "a new POI needs lon and lat",
    "bad_coordinates": "lon/lat are not numbers in degrees",
    "outside_region": "the point lies outside the platform's region",
    "bad_phone": "not a Chinese phone number (mobile, area code + number, 400/800, or a short service number)",
    "bad_date": "date is not YYYY-MM-DD, or lies in the future",
    "bad_status": "status must be active or closed",
    "bad_url": "photos must be http(s) URLs separated by ;",
    "too_long": "a value is longer than allowed",
}

OPS = {"add": "add", "新增": "add", "添加": "add", "update": "update", "修改": "update", "更新": "update",
       "delete": "delete", "删除": "delete"}
STATUSES = {"active": "active", "营业": "active", "正常": "active", "开放": "active",
            "closed": "closed", "停业": "closed", "关闭": "closed", "已关闭": "closed", "歇业": "closed"}
MAX_LENGTH = {"name": 200, "name_en": 200, "name_ug": 200, "name_mn": 200, "address": 300, "phone": 100,
              "opening_hours": 200, "description": 4000, "photos": 4000, "source": 300}
TEXT_FIELDS = ("name", "name_en", "name_ug", "name_mn", "address", "opening_hours", "description", "source")
ID_RE = re.compile(r"[A-Za-z0-9._:\-]{1,64}")
# Mobile, landline with area code (optional extension), 400/800 lines, emergency and service
# numbers (110, 119, 120, 122, 12345 citizen hotline, 12301 tourism, 123xx), 95xxx company lines.
PHONE_RE = re.compile(r"(?:\+?86[- ]?)?(?:1[3-9]\d{9}|0\d{2,3}[- ]?\d{7,8}(?:[-转]\d{1,6})?"
                      r"|[48]00[- ]?\d{3}[- ]?\d{4}|11[09]|12[02]|123\d{2}|95\d{3,4})")
PHONE_SPLIT = re.compile(r"[;；,，/、]\s*")


@dataclass
class Proposal:
    row: int
    op: str
    poi_id: str
    data: dict  # canonical attributes given on the row
    lon: float | None = None  # as submitted (origin CRS) until converted
    lat: float | None = None
    id_given: bool = False
    orig: tuple | None = None  # lon/lat as submitted, once lon/lat are converted to CGCS2000
    base_version: int | None = None  # the POI's current version, for updates and deletions


@dataclass
class Refusal:
    row: int
    reasons: list[str]
    messages: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"row": self.row, "reasons": self.reasons, "message": "; ".join(self.messages)}


def new_id() -> str:
    return uuid.uuid4().hex[:16]


def _date(text: str, today: dt.date) -> str | None:
    t = unicodedata.normalize("NFKC", text).strip()
    m = re.fullmatch(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})日?(?:[T ].*)?", t)
    if not m:
        return None
    try:
        d = dt.date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None
    return d.isoformat() if d <= today else None


def check_row(raw: RawRow, today: dt.date) -> Proposal | Refusal:
    v = raw.values
    reasons, messages = [], []

    def refuse(reason, detail=""):
        if reason not in reasons:
            reasons.append(reason)
        messages.append(f"{reason}: {detail or REASONS[reason]}")

    op_text = v.get("op", "").strip().casefold()
    op = OPS.get(op_text) if op_text else ("update" if v.get("id") else "add")
    if op is None:
        refuse("unknown_op", f"{v.get('op')!r}: {REASONS['unknown_op']}")
        op = "add"
    poi_id = v.get("id", "").strip()
    if op in ("update", "delete") and not poi_id:
        refuse("missing_id")
    if poi_id and not ID_RE.fullmatch(poi_id):
        refuse("bad_id", f"{poi_id[:80]!r}: {REASONS['bad_id']}")

    data = {}
    for name in TEXT_FIELDS:
        if v.get(name):
            data[name] = v[name].strip()
    for name, limit in MAX_LENGTH.items():
        if len(v.get(name, "")) > limit:
            refuse("too_long", f"{name} has {len(v[name])} characters (at most {limit})")

    if op == "add" and not data.get("name"):
        refuse("missing_name")

    category = None
    if v.get("category"):
        category = categories.find(v["category"])
        if category is None:
            refuse("unknown_category", f"{v['category']!r}: {REASONS['unknown_category']}")
        else:
            data["category"] = category.code
    elif op == "add":
        refuse("missing_category")
    if v.get("rating"):
        if category is not None:
            rating = categories.parse_rating(v["rating"], category)
            if rating is None:
                refuse("bad_rating", f"{v['rating']!r} for {category.code}: {REASONS['bad_rating']}")
            else:
                data["rating"] = rating
        elif op == "update":
            # A rating alone: checked against the POI's own category once it is looked up (changesets.py).
            data["rating"] = v["rating"].strip()

    if v.get("_geometry_error"):
        refuse("bad_coordinates", v["_geometry_error"])
    lon = lat = None
    if v.get("lon") or v.get("lat"):
        try:
            lon, lat = float(unicodedata.normalize("NFKC", v["lon"])), float(unicodedata.normalize("NFKC", v["lat"]))
            if not (-180 <= lon <= 180 and -90 <= lat <= 90) or lon != lon or lat != lat:
                raise ValueError
        except (KeyError, ValueError):
            refuse("bad_coordinates", f"lon {v.get('lon')!r}, lat {v.get('lat')!r}: {REASONS['bad_coordinates']}")
            lon = lat = None
    elif op == "add" and not v.get("_geometry_error"):
        refuse("missing_coordinates")

    if v.get("phone"):
        phones = [p.strip() for p in PHONE_SPLIT.split(unicodedata.normalize("NFKC", v["phone"])) if p.strip()]
        bad = [p for p in phones if not PHONE_RE.fullmatch(p)]
        if bad:
            refuse("bad_phone", f"{', '.join(bad)!r}: {REASONS['bad_phone']}")
        else:
            data["phone"] = "; ".join(phones)
    for name in ("collected_at", "verified_at"):
        if v.get(name):
            d = _date(v[name], today)
            if d is None:
                refuse("bad_date", f"{name} {v[name]!r}: {REASONS['bad_date']}")
            else:
                data[name] = d
    if v.get("status"):
        status = STATUSES.get(v["status"].strip().casefold())
        if status is None:
            refuse("bad_status", f"{v['status']!r}: {REASONS['bad_status']}")
        else:
            data["status"] = status
    if v.get("photos"):
        urls = [u.strip() for u in re.split(r"[;；|\s]+", v["photos"]) if u.strip()]
        bad = [u for u in urls if not re.fullmatch(r"https?://[^\s<>\"']+", u, re.I)]
        if bad:
            refuse("bad_url", f"{bad[0][:100]!r}: {REASONS['bad_url']}")
        else:
            data["photos"] = ";".join(urls)

    if reasons:
        return Refusal(raw.row, reasons, messages)
    return Proposal(raw.row, op, poi_id or new_id(), data, lon, lat, id_given=bool(poi_id))


def in_region(lon: float, lat: float) -> bool:
    return any(x0 <= lon <= x1 and y0 <= lat <= y1 for x0, y0, x1, y1 in settings.GEOPLATFORM["REGION_BOUNDS"])
