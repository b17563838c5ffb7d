"""Submit a POI change set (read → validate → convert coordinates → check duplicates and offset)
and review it item by item. Applying and reverting live in apply.py.

Items are addressed by their row number in the submitted file (header = row 1), which is what
collectors and reviewers see in their spreadsheet.
"""

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.db import transaction
from django.utils import timezone
from pyproj import Geod
from psycopg import sql
from psycopg.types.json import Jsonb

from layers import audit, storage
from layers.access import can
from layers.errors import Conflict, Forbidden, InvalidInput, NotFound
from layers.models import Permission

from . import categories, coords, rows, store
from .apply import require_reviewer
from .models import ChangeItem, ChangeSet, Op
from .names import DUPLICATE_THRESHOLD, key_similarity, normalise_many
from .validate import REASONS, Proposal, Refusal, check_row, in_region

_GEOD = Geod(ellps="GRS80")
OFFSET_MATCH_M = 1000  # same name within this distance: the same place, for the offset check
TRIGRAM_PREFILTER = 0.15  # pg_trgm similarity below which two names cannot be alike (see _checks)


class RejectedSubmission(InvalidInput):
    """More refused rows than allowed: nothing was stored. `refusals` lists every one."""

    def __init__(self, name: str, refusals: list[Refusal], max_invalid: int, total: int):
        lines = [f"{name}, row {r.row}: {r.as_dict()['message']}" for r in refusals]
        super().__init__(f"{name}: {len(refusals)} of {total} rows refused (at most {max_invalid} allowed); "
                         "nothing submitted\n" + "\n".join(lines))
        self.refusals = refusals
        self.max_invalid = max_invalid
        self.total = total


@dataclass
class Submission:
    changeset: ChangeSet
    refusals: list[Refusal]


def submit(path: Path, user, *, crs: str = "CGCS2000", encoding: str | None = None, max_invalid: int = 0,
           note: str = "", source_name: str | None = None, today: dt.date | None = None) -> Submission:
    name = source_name or path.name
    try:
        system = coords.normalise_system(crs)
    except ValueError as e:
        raise InvalidInput(str(e)) from None
    layer = store.ensure_layer()
    if not can(user, layer, Permission.EDIT):
        raise Forbidden(f"{user.get_username() or 'anonymous'} may not submit changes to layer {layer.slug} "
                        "(needs an edit grant)")
    raw = rows.read(path, encoding)
    raw.name = name
    if not raw.rows:
        raise InvalidInput(f"{name}: no rows")
    today = today or timezone.localdate()

    proposals: list[Proposal] = []
    refusals: dict[int, Refusal] = {}
    seen_rows, seen_ids = {}, {}
    for r in raw.rows:
        key = tuple(sorted(r.values.items()))
        if key in seen_rows:
            refusals[r.row] = Refusal(r.row, ["duplicate_row"], [f"duplicate_row: same as row {seen_rows[key]}"])
            continue
        seen_rows[key] = r.row
        result = check_row(r, today)
        if isinstance(result, Refusal):
            refusals[r.row] = result
            continue
        if result.id_given:
            if result.poi_id in seen_ids:
                refusals[r.row] = Refusal(r.row, ["duplicate_id"],
                                          [f"duplicate_id: POI {result.poi_id} is also on row {seen_ids[result.poi_id]}"])
                continue
            seen_ids[result.poi_id] = r.row
        proposals.append(result)

    def refuse(p: Proposal, reason: str, detail: str):
        refusals.setdefault(p.row, Refusal(p.row, [], []))
        refusals[p.row].reasons.append(reason)
        refusals[p.row].messages.append(f"{reason}: {detail}")

    located = [p for p in proposals if p.lon is not None]
    if located:
        lon, lat = coords.to_cgcs2000(np.array([p.lon for p in located]), np.array([p.lat for p in located]), system)
        for p, x, y in zip(located, lon.tolist(), lat.tolist()):
            p.orig = (p.lon, p.lat)
            p.lon, p.lat = x, y
            if not in_region(x, y):
                hint = " (lon and lat swapped?)" if in_region(p.orig[1], p.orig[0]) else ""
                refuse(p, "outside_region", f"({p.orig[0]}, {p.orig[1]}) in {system} lies outside the platform's "
                                            f"region{hint}")

    existing = store.current([p.poi_id for p in proposals if p.id_given])
    for p in proposals:
        now = existing.get(p.poi_id)
        if p.op in (Op.UPDATE, Op.DELETE) and now is None:
            refuse(p, "unknown_id", f"{p.poi_id}: {REASONS['unknown_id']}")
        elif p.op == Op.ADD and now is not None:
            refuse(p, "id_exists", f"{p.poi_id}: {REASONS['id_exists']}")
        elif p.op == Op.UPDATE and "rating" in p.data and "category" not in p.data:
            category = categories.find(now["category"] or "")
            rating = categories.parse_rating(p.data["rating"], category) if category else None
            if rating is None:
                refuse(p, "bad_rating", f"{p.data['rating']!r} for {now['category']}: {REASONS['bad_rating']}")
            else:
                p.data["rating"] = rating
        if now is not None:
            p.base_version = now["version"]
    proposals = [p for p in proposals if p.row not in refusals]
    refused = sorted(refusals.values(), key=lambda r: r.row)
    if len(refused) > max_invalid:
        raise RejectedSubmission(name, refused, max_invalid, len(raw.rows))

    with transaction.atomic():
        cs = ChangeSet.objects.create(
            layer_slug=layer.slug, source_name=name, origin_crs=system, note=note, submitted_by=user,
            report={"rows": len(raw.rows), "items": len(proposals), "refused": [r.as_dict() for r in refused],
                    "ignored_columns": raw.ignored_columns},
        )
        _write_items(cs, proposals)
        flags, offset = _checks(cs, proposals, existing)
        if offset:
            cs.offset_flag = offset
            cs.save(update_fields=["offset_flag"])
        cs.report["duplicates_flagged"] = flags
        cs.save(update_fields=["report"])
        audit.record(user, "poi.submit", layer, via="poi", changeset=cs.pk, items=len(proposals),
                     refused=len(refused), file=name)
    return Submission(cs, refused)


def _write_items(cs: ChangeSet, proposals: list[Proposal]) -> None:
    cur = storage._raw_cursor()
    columns = ["changeset_id", "row", "op", "poi_id", "base_version", "data", "lon", "lat", "orig_lon", "orig_lat",
               "duplicates", "decision", "comment", "merged_into"]
    with cur.copy(sql.SQL("COPY poi_changeitem ({}) FROM STDIN").format(
            sql.SQL(", ").join(map(sql.Identifier, columns)))) as copy:
        for p in proposals:
            orig = p.orig or (None, None)
            copy.write_row([cs.pk, p.row, str(p.op), p.poi_id, p.base_version, Jsonb(p.data),
                            p.lon, p.lat, orig[0], orig[1], Jsonb([]), ChangeItem.Decision.PENDING, "", ""])


def _checks(cs: ChangeSet, proposals: list[Proposal], existing: dict) -> tuple[int, dict | None]:
    """Flag likely duplicates (against current POIs and earlier rows) and a systematic offset."""
    cfg = store.config()
    metres = float(cfg["DUPLICATE_DISTANCE_M"])
    located = [p for p in proposals if p.lon is not None and p.op != Op.DELETE]
    if not located:
        return 0, None
    keys = normalise_many([p.data.get("name") or (existing.get(p.poi_id) or {}).get("name") or "" for p in located])
    cur = storage._raw_cursor()
    cur.execute("CREATE TEMP TABLE _poi_batch (row int PRIMARY KEY, op text, poi_id text, name_key text, "
                "geom geometry(Point, 4490)) ON COMMIT DROP")
    with cur.copy("COPY _poi_batch (row, op, poi_id, name_key, geom) FROM STDIN") as copy:
        for p, key in zip(located, keys):
            copy.write_row([p.row, str(p.op), p.poi_id, key, f"SRID=4490;POINT({p.lon!r} {p.lat!r})"])
    cur.execute("CREATE INDEX ON _poi_batch USING gist (geom, name_key gist_trgm_ops)")
    cur.execute("ANALYZE _poi_batch")
    # `%` (pg_trgm) reads its threshold from the session; LOCAL ends with this transaction.
    cur.execute("SELECT set_config('pg_trgm.similarity_threshold', %s, true), set_config('jit', 'off', true)",
                [str(TRIGRAM_PREFILTER)])
    # One GiST index on (geom, name_key trigrams) answers both conditions while scanning: points
    # in a box of ± the distance (converted at each point's latitude) whose names share enough
    # trigrams (a necessary condition for the similarity below: even 天山 vs 天山风景名胜区 shares
    # 0.2), so only likely pairs are read from the table; the sphere distance then decides.
    near = sql.SQL(
        """{a}.geom && ST_Expand({b}.geom, %(m)s / (111320 * cos(radians(ST_Y({b}.geom)))), %(m)s / 110574.0)
           AND {a}.name_key %% {b}.name_key
           AND ST_DWithin({b}.geom::geography, {a}.geom::geography, %(m)s, false)""")
    params = {"m": metres}
    found: dict[int, list] = {}
    cur.execute(sql.SQL(
        """SELECT b.row, p.poi_id, p.name, p.name_key, ST_Distance(b.geom::geography, p.geom::geography, false)
           FROM _poi_batch b JOIN {t} p ON {near} WHERE b.op = 'add'"""
    ).format(t=store.qualified(), near=near.format(a=sql.Identifier("p"), b=sql.Identifier("b"))), params)
    key_of = {p.row: k for p, k in zip(located, keys)}
    for row, poi_id, pname, pkey, dist in cur.fetchall():
        score = key_similarity(key_of[row], pkey or "")
        if score >= DUPLICATE_THRESHOLD:
            found.setdefault(row, []).append({"poi_id": poi_id, "name": pname, "distance_m": round(dist, 1),
                                              "similarity": round(score, 2)})
    cur.execute(sql.SQL(
        """SELECT b2.row, b1.row, ST_Distance(b1.geom::geography, b2.geom::geography, false)
           FROM _poi_batch b1 JOIN _poi_batch b2 ON b1.row < b2.row AND {near}
           WHERE b1.op = 'add' AND b2.op = 'add'"""
    ).format(near=near.format(a=sql.Identifier("b2"), b=sql.Identifier("b1"))), params)
    name_of = {p.row: p.data.get("name") for p in located}
    for row, other, dist in cur.fetchall():
        score = key_similarity(key_of[row], key_of[other])
        if score >= DUPLICATE_THRESHOLD:
            found.setdefault(row, []).append({"row": other, "name": name_of[other], "distance_m": round(dist, 1),
                                              "similarity": round(score, 2)})
    if found:
        cur.execute("CREATE TEMP TABLE _poi_dups (row int, duplicates jsonb) ON COMMIT DROP")
        with cur.copy("COPY _poi_dups (row, duplicates) FROM STDIN") as copy:
            for row, cands in found.items():
                copy.write_row([row, Jsonb(sorted(cands, key=lambda c: c["distance_m"]))])
        cur.execute("UPDATE poi_changeitem i SET duplicates = d.duplicates FROM _poi_dups d "
                    "WHERE i.changeset_id = %s AND i.row = d.row", [cs.pk])
        cur.execute("DROP TABLE _poi_dups")

    offset = _offset_check(cs, located, existing, cur)
    cur.execute("DROP TABLE _poi_batch")
    return len(found), offset


def _offset_check(cs: ChangeSet, located: list[Proposal], existing: dict, cur) -> dict | None:
    """Points copied from Amap/Tencent (GCJ-02) or Baidu (BD-09) but declared as WGS84 sit 100–700 m
    off in one direction. Pairs: updates with their POI's current position, and same-name POIs
    within 1 km. Flag when the median shift is in that band and the directions agree."""
    pairs = {}
    for p in located:
        now = existing.get(p.poi_id)
        if p.op == Op.UPDATE and now is not None and now["lon"] is not None:
            pairs[p.row] = (now["lon"], now["lat"])
    cur.execute(sql.SQL(
        # Joined on the name (a hash join over the table beats 1 km boxes in dense towns).
        """SELECT DISTINCT ON (b.row) b.row, ST_X(ST_GeometryN(p.geom, 1)), ST_Y(ST_GeometryN(p.geom, 1))
           FROM _poi_batch b JOIN {t} p ON p.name_key = b.name_key AND b.name_key <> ''
                AND ST_DWithin(b.geom::geography, p.geom::geography, %(m)s, false)
           WHERE b.op = 'add' ORDER BY b.row, ST_Distance(b.geom, p.geom)"""
    ).format(t=store.qualified()), {"m": OFFSET_MATCH_M})
    for row, x, y in cur.fetchall():
        pairs.setdefault(row, (x, y))
    if len(pairs) < store.config()["OFFSET_MIN_MATCHES"]:
        return None
    by_row = {p.row: p for p in located}
    rows_ = sorted(pairs)
    ex = np.array([pairs[r] for r in rows_])
    new = np.array([(by_row[r].lon, by_row[r].lat) for r in rows_])
    az, _, dist = _GEOD.inv(ex[:, 0], ex[:, 1], new[:, 0], new[:, 1])
    median = float(np.median(dist))
    rad = np.radians(az)
    consistency = float(np.hypot(np.sin(rad).mean(), np.cos(rad).mean()))  # 1 = all the same direction
    if not (80 <= median <= 800 and consistency >= 0.8):
        return None
    bearing = float(np.degrees(np.arctan2(np.sin(rad).mean(), np.cos(rad).mean())) % 360)
    orig = np.array([by_row[r].orig or (by_row[r].lon, by_row[r].lat) for r in rows_])
    residuals = {}
    for system in coords.SYSTEMS:
        if system == "CGCS2000":
            continue
        lon, lat = coords.to_cgcs2000(orig[:, 0], orig[:, 1], system)
        residuals[system] = round(float(np.median(coords.offset_metres(ex[:, 0], ex[:, 1], lon, lat))), 1)
    best = min(residuals, key=residuals.get)
    suggest = best if best != cs.origin_crs and residuals[best] < 0.3 * median else None
    message = (f"{len(pairs)} points matched to existing POIs are shifted by a median of {median:.0f} m towards "
               f"{bearing:.0f}° (direction agreement {consistency:.2f}): the batch looks offset.")
    if suggest:
        message += f" Read as {suggest}, the median shift would be {residuals[suggest]:.0f} m."
    return {"matches": len(pairs), "median_m": round(median, 1), "bearing_deg": round(bearing, 1),
            "consistency": round(consistency, 2), "declared_crs": cs.origin_crs, "suggested_crs": suggest,
            "median_residual_m": residuals, "message": message}


# --- review -----------------------------------------------------------------------------------

def _for_review(changeset_id: int, user) -> ChangeSet:
    cs = ChangeSet.objects.select_for_update().filter(pk=changeset_id).first()
    if cs is None:
        raise NotFound(f"change set {changeset_id} does not exist")
    require_reviewer(user, store.ensure_layer())
    if cs.status != ChangeSet.Status.REVIEW:
        raise Conflict(f"change set {cs.pk} is {cs.status}, not in review")
    if cs.submitted_by_id == user.pk and not user.is_superuser and not store.config().get("ALLOW_SELF_REVIEW"):
        raise Forbidden(f"change set {cs.pk} was submitted by {user.get_username()}; another reviewer must decide")
    return cs


def _select(cs: ChangeSet, rows_: list[int] | None, everything: bool):
    items = cs.items.all()
    if everything:
        return items
    if not rows_:
        raise InvalidInput("name the items (rows) to decide, or all of them")
    chosen = items.filter(row__in=rows_)
    missing = sorted(set(rows_) - set(chosen.values_list("row", flat=True)))
    if missing:
        raise InvalidInput(f"change set {cs.pk} has no items on rows {', '.join(map(str, missing))}")
    return chosen


def approve(changeset_id: int, user, *, rows_: list[int] | None = None, everything: bool = False,
            comment: str = "") -> dict:
    """Approve items. `everything` approves the pending items that are not flagged as possible
    duplicates; those need a decision each (approve by row to keep, or merge)."""
    with transaction.atomic():
        cs = _for_review(changeset_id, user)
        items = _select(cs, rows_, everything)
        skipped = []
        if everything:
            items = items.filter(decision=ChangeItem.Decision.PENDING)
            skipped = list(items.exclude(duplicates=[]).values_list("row", flat=True))
            items = items.filter(duplicates=[])
        n = items.update(decision=ChangeItem.Decision.APPROVED, decided_by=user, decided_at=timezone.now(),
                         comment=comment, merged_into="")
        audit.record(user, "poi.approve", store.get_layer(), via="poi", changeset=cs.pk, items=n)
    return {"approved": n, "left_for_review": skipped}


def reject(changeset_id: int, user, *, rows_: list[int] | None = None, everything: bool = False,
           comment: str = "") -> dict:
    with transaction.atomic():
        cs = _for_review(changeset_id, user)
        items = _select(cs, rows_, everything)
        if everything:
            items = items.filter(decision=ChangeItem.Decision.PENDING)
        n = items.update(decision=ChangeItem.Decision.REJECTED, decided_by=user, decided_at=timezone.now(),
                         comment=comment, merged_into="")
        if not cs.items.exclude(decision=ChangeItem.Decision.REJECTED).exists():
            cs.status = ChangeSet.Status.REJECTED
            cs.save(update_fields=["status"])
        audit.record(user, "poi.reject", store.get_layer(), via="poi", changeset=cs.pk, items=n)
    return {"rejected": n}


def merge(changeset_id: int, user, *, row: int, into: str, comment: str = "") -> ChangeItem:
    """Fold a new item into an existing POI (`into` = its id: applied as an update that keeps the
    POI's position) or into another new item of the batch (`into` = "row:N": fills its empty fields)."""
    with transaction.atomic():
        cs = _for_review(changeset_id, user)
        item = _select(cs, [row], False).get()
        if item.op != Op.ADD:
            raise InvalidInput(f"row {row} is a {item.op}; only new POIs can be merged")
        if into.startswith("row:"):
            try:
                target = cs.items.select_for_update().get(row=int(into[4:]))
            except (ValueError, ChangeItem.DoesNotExist):
                raise InvalidInput(f"change set {cs.pk} has no item {into}") from None
            if target.op != Op.ADD or target.pk == item.pk or target.decision in (ChangeItem.Decision.REJECTED,
                                                                                   ChangeItem.Decision.MERGED):
                raise InvalidInput(f"row {row} can only be merged into another new, not rejected or merged item")
            target.data = item.data | target.data
            target.save(update_fields=["data"])
        else:
            if not store.current([into]):
                raise InvalidInput(f"no current POI has id {into}")
        item.decision = ChangeItem.Decision.MERGED
        item.merged_into = into
        item.decided_by, item.decided_at, item.comment = user, timezone.now(), comment
        item.save()
        audit.record(user, "poi.merge", store.get_layer(), via="poi", changeset=cs.pk, row=row, into=into)
    return item
