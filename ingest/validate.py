"""Per-feature checks on one batch (already in the storage CRS). Every refusal carries the
feature number and a reason; nothing is dropped silently. Repairs are counted and reported."""

import math
from dataclasses import dataclass, field
from datetime import date, datetime

import numpy as np
import shapely
from shapely import GeometryType

_CODE = {"Point": 1, "LineString": 2, "Polygon": 3}
BASE_OF = {
    GeometryType.POINT: "Point", GeometryType.MULTIPOINT: "Point",
    GeometryType.LINESTRING: "LineString", GeometryType.MULTILINESTRING: "LineString",
    GeometryType.LINEARRING: "LineString",
    GeometryType.POLYGON: "Polygon", GeometryType.MULTIPOLYGON: "Polygon",
}


# shapely type id -> base type code (0: none of ours, e.g. a GeometryCollection or missing)
_BASE_CODE = np.zeros(16, dtype=np.int8)
for _type, _name in BASE_OF.items():
    _BASE_CODE[int(_type)] = _CODE[_name]


@dataclass
class Reject:
    feature: int
    reason: str
    geometry: object  # shapely geometry or None
    properties: dict


@dataclass
class Outcome:
    keep: np.ndarray  # bool mask over the batch
    geoms: np.ndarray  # repaired, 2D geometries (valid where keep)
    attrs: dict[str, list]  # Python values coerced to the column types (valid where keep)
    rejects: list[Reject] = field(default_factory=list)
    repaired: list[int] = field(default_factory=list)  # feature numbers


def _base(geom) -> str | None:
    return BASE_OF.get(int(shapely.get_type_id(geom)))


def _coerce(value, column_type: str):
    """Python value for the column type, or raise ValueError with a reason."""
    if isinstance(value, np.generic):
        value = value.item()  # NaT becomes None
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if column_type == "text":
        return str(value)
    if isinstance(value, str) and value.strip() == "":
        return None
    if column_type == "bigint":
        if isinstance(value, float) and not value.is_integer():
            raise ValueError(f"{value!r} is not a whole number")
        return int(value) if not isinstance(value, str) else int(value.strip())
    if column_type == "double precision":
        return float(value)
    if column_type == "boolean":
        if isinstance(value, str):
            lowered = value.strip().lower()
            if lowered in {"true", "t", "1", "yes", "是"}:
                return True
            if lowered in {"false", "f", "0", "no", "否"}:
                return False
            raise ValueError(f"{value!r} is not true/false")
        return bool(value)
    if column_type == "date":
        if isinstance(value, datetime):
            return value.date()
        return value if isinstance(value, date) else date.fromisoformat(str(value).strip())
    if column_type == "timestamptz":
        value = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).strip())
        # Naive times are local: the platform's zone (Beijing time, official in Xinjiang too).
        return value if value.tzinfo else value.replace(tzinfo=_local_zone())
    raise ValueError(f"unsupported column type {column_type}")


def check_batch(
    geoms: np.ndarray,
    attrs: dict[str, np.ndarray],
    columns: list,  # layers.storage.Column of the target table, in order
    first_feature: int,
    target_base: str,
    region_boxes: list[tuple[float, float, float, float]],
) -> Outcome:
    n = len(geoms)
    keep = np.ones(n, dtype=bool)
    rejects: list[Reject] = []
    repaired: list[int] = []

    def refuse(i: int, reason: str):
        keep[i] = False
        rejects.append(Reject(first_feature + i, reason, geoms[i], {k: _plain(v[i]) for k, v in attrs.items()}))


    missing = shapely.is_missing(geoms)
    empty = ~missing & shapely.is_empty(geoms)
    for i in np.flatnonzero(missing):
        refuse(int(i), "missing geometry")
    for i in np.flatnonzero(empty):
        refuse(int(i), "empty geometry")

    valid = shapely.is_valid(geoms)
    for i in np.flatnonzero(keep & ~valid):
        i = int(i)
        reason = shapely.is_valid_reason(geoms[i])
        fixed = shapely.make_valid(geoms[i])
        if _base(fixed) == _base(geoms[i]) and not fixed.is_empty:
            geoms[i] = fixed
            repaired.append(first_feature + i)
        else:
            refuse(i, f"invalid geometry ({reason}); repair would change its type to {fixed.geom_type}")

    # Type and region checks run on whole arrays; only the refused features are visited.
    kinds = _BASE_CODE[np.clip(shapely.get_type_id(geoms), 0, len(_BASE_CODE) - 1)]
    for i in np.flatnonzero(keep & (kinds != _CODE[target_base])):
        i = int(i)
        refuse(i, f"wrong geometry type {geoms[i].geom_type} for a {target_base} layer")

    if region_boxes:
        bounds = shapely.bounds(geoms)
        inside = np.zeros(n, dtype=bool)
        for bx0, by0, bx1, by1 in region_boxes:
            inside |= (bounds[:, 0] >= bx0) & (bounds[:, 2] <= bx1) & (bounds[:, 1] >= by0) & (bounds[:, 3] <= by1)
        for i in np.flatnonzero(keep & ~inside):
            i = int(i)
            x0, y0, x1, y1 = bounds[i]
            refuse(i, f"outside the region (bounds {x0:.5f}, {y0:.5f}, {x1:.5f}, {y1:.5f}; wrong CRS or zone?)")

    coerced: dict[str, list] = {}
    for column in columns:
        values = attrs.get(column.name)
        if values is None:
            coerced[column.name] = [None] * n
            continue
        out, bad = coerce_column(values, column.type)
        for i, reason in bad.items():
            if keep[i]:
                refuse(i, f"attribute {column.name}: {reason}")
        coerced[column.name] = out

    return Outcome(keep=keep, geoms=geoms, attrs=coerced, rejects=rejects, repaired=repaired)


def coerce_column(values: np.ndarray, column_type: str) -> tuple[list, dict[int, str]]:
    """Values as Python objects of the column type (None for NULL), and {index: reason} for
    values that do not fit. Arrays whose dtype already fits take a vectorised path."""
    kind = values.dtype.kind
    if kind == "f" and column_type == "double precision":
        out = values.astype(object)
        out[np.isnan(values)] = None
        return out.tolist(), {}
    if kind in "iu" and column_type in {"bigint", "double precision"}:
        return values.tolist(), {}
    if kind == "f" and column_type == "bigint":  # Arrow integers with NULLs arrive as float + NaN
        nan = np.isnan(values)
        whole = nan | (np.mod(np.where(nan, 0, values), 1) == 0)
        if whole.all():
            out = values.astype(object)
            out[~nan] = values[~nan].astype(np.int64).tolist()
            out[nan] = None
            return out.tolist(), {}
    if kind == "b" and column_type == "boolean":
        return values.tolist(), {}
    if kind == "M" and column_type in {"date", "timestamptz"}:
        out = values.astype(object).tolist()  # datetime/date objects, None for NaT
        if column_type == "timestamptz":
            zone = _local_zone()
            out = [v if v is None or v.tzinfo else v.replace(tzinfo=zone) for v in out]
        else:
            out = [v.date() if isinstance(v, datetime) else v for v in out]
        return out, {}
    if kind == "O" and column_type == "text":
        return [None if v is None else v if isinstance(v, str) else str(v) for v in values], {}
    out, bad = [None] * len(values), {}
    for i, v in enumerate(values):
        try:
            out[i] = _coerce(v, column_type)
        except (ValueError, TypeError, OverflowError) as exc:
            bad[i] = str(exc) if "is not" in str(exc) else f"{_plain(v)!r} is not a valid {column_type} ({exc})"
    return out, bad


def _local_zone():
    from zoneinfo import ZoneInfo

    from django.conf import settings

    return ZoneInfo(settings.TIME_ZONE)


def _plain(v):
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, (date, datetime)):
        return v.isoformat()
    return v
