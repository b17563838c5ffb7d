"""Apply a reviewed change set, or revert one: all items in one transaction or none.

Both end in `write_states`, which writes the new versions and the current table set-based
(COPY into a temporary table, then a few statements), so 100,000 items take seconds.
"""

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from psycopg import sql

from layers import audit, changes, storage, versions
from layers.access import can
from layers.errors import Conflict, Forbidden, NotFound
from layers.models import Layer, Permission

from . import store
from .models import ChangeItem, ChangeSet, Op, PoiVersion


@dataclass
class State:
    poi_id: str
    version: int
    op: str
    deleted: bool
    attrs: dict  # store.ATTRIBUTES (adcode/county are filled from the boundaries when written)
    lon: float | None
    lat: float | None


class ApplyConflict(Conflict):
    """Nothing was applied: `conflicts` lists each row or POI and why."""

    def __init__(self, message: str, conflicts: list[dict]):
        super().__init__(message + "\n" + "\n".join(f"  {c['where']}: {c['reason']}" for c in conflicts))
        self.conflicts = conflicts


def require_reviewer(user, layer: Layer) -> None:
    if not can(user, layer, Permission.MANAGE):
        raise Forbidden(f"{user.get_username() or 'anonymous'} may not review change sets of layer {layer.slug} "
                        "(needs its owner department or a manage grant)")


def _changeset_for_update(changeset_id: int) -> ChangeSet:
    cs = ChangeSet.objects.select_for_update().filter(pk=changeset_id).first()
    if cs is None:
        raise NotFound(f"change set {changeset_id} does not exist")
    return cs


def apply(changeset_id: int, user, *, accept_offset: bool = False) -> ChangeSet:
    with transaction.atomic():
        cs = _changeset_for_update(changeset_id)
        layer = Layer.objects.select_for_update().get(slug=cs.layer_slug)  # one apply per layer at a time
        require_reviewer(user, layer)
        if cs.status != ChangeSet.Status.REVIEW:
            raise Conflict(f"change set {cs.pk} is {cs.status}, not in review")
        items = list(cs.items.all())
        pending = [i.row for i in items if i.decision == ChangeItem.Decision.PENDING]
        if pending:
            raise Conflict(f"change set {cs.pk}: {len(pending)} items are undecided (rows {_rows(pending)}); "
                           "approve, reject or merge them first")
        if cs.offset_flag and not (accept_offset or cs.offset_accepted):
            raise Conflict(f"change set {cs.pk}: {cs.offset_flag['message']} Resubmit with the right --crs, "
                           "or accept the offset explicitly (--accept-offset).")
        todo = [i for i in items if i.decision == ChangeItem.Decision.APPROVED
                or i.decision == ChangeItem.Decision.MERGED and i.merged_into and not i.merged_into.startswith("row:")]
        if not todo:
            cs.status = ChangeSet.Status.REJECTED
            cs.applied_by, cs.applied_at = user, timezone.now()
            cs.save()
            return cs

        targets = [i.merged_into if i.decision == ChangeItem.Decision.MERGED else i.poi_id for i in todo]
        cur = store.current(targets, lock=True)
        states, conflicts = [], []
        for item, poi_id in zip(todo, targets):
            now_row = cur.get(poi_id)
            where = f"row {item.row} ({item.op} {poi_id})"
            if item.op == Op.ADD and item.decision == ChangeItem.Decision.APPROVED:
                if now_row is not None:
                    conflicts.append({"row": item.row, "poi_id": poi_id, "where": where,
                                      "reason": "a POI with this id exists now"})
                    continue
                attrs = {"status": "active"} | item.data
                attrs["origin_crs"] = cs.origin_crs
                states.append(State(poi_id, 1, Op.ADD, False, _derive(attrs), item.lon, item.lat))
                continue
            if now_row is None:
                conflicts.append({"row": item.row, "poi_id": poi_id, "where": where,
                                  "reason": "the POI was deleted after the change set was submitted"})
                continue
            base = item.base_version if item.decision == ChangeItem.Decision.APPROVED else None
            if base is not None and now_row["version"] != base:
                conflicts.append({"row": item.row, "poi_id": poi_id, "where": where,
                                  "reason": f"changed by change set {now_row['changeset']} after this one was "
                                            f"submitted (version {base} → {now_row['version']})"})
                continue
            attrs = {k: now_row[k] for k in store.ATTRIBUTES}
            for k in ("collected_at", "verified_at"):
                attrs[k] = attrs[k].isoformat() if attrs[k] else None
            version = now_row["version"] + 1
            if item.op == Op.DELETE:
                states.append(State(poi_id, version, Op.DELETE, True, attrs, now_row["lon"], now_row["lat"]))
                continue
            attrs.update(item.data)
            lon, lat = now_row["lon"], now_row["lat"]
            if item.lon is not None and item.decision == ChangeItem.Decision.APPROVED:
                lon, lat = item.lon, item.lat  # a merge keeps the reviewed position of the existing POI
                attrs["origin_crs"] = cs.origin_crs
            states.append(State(poi_id, version, Op.UPDATE, False, _derive(attrs), lon, lat))
        if conflicts:
            raise ApplyConflict(f"change set {cs.pk}: nothing applied, {len(conflicts)} conflicts:", conflicts)

        write_states(cs, layer, states, user)
        cs.status = ChangeSet.Status.APPLIED
        cs.applied_by, cs.applied_at = user, timezone.now()
        cs.offset_accepted = cs.offset_accepted or bool(cs.offset_flag)
        cs.save()
        audit.record(user, "poi.apply", layer, via="poi", changeset=cs.pk, items=len(states))
    return cs


def _derive(attrs: dict) -> dict:
    attrs = {k: attrs.get(k) for k in store.ATTRIBUTES}
    attrs["category_group"] = store.category_group(attrs.get("category"))
    return attrs


def _rows(rows: list[int]) -> str:
    return ", ".join(map(str, rows[:20])) + (" …" if len(rows) > 20 else "")


def revert(changeset_id: int, user, *, skip_conflicts: bool = False) -> ChangeSet:
    """Restore the versions before `changeset_id` for every POI it touched, as a new change set.
    A POI changed again later is a conflict: nothing happens unless `skip_conflicts`."""
    with transaction.atomic():
        cs = _changeset_for_update(changeset_id)
        layer = Layer.objects.select_for_update().get(slug=cs.layer_slug)
        require_reviewer(user, layer)
        if cs.status != ChangeSet.Status.APPLIED:
            raise Conflict(f"change set {cs.pk} is {cs.status}; only applied change sets can be reverted")
        mine = {v.poi_id: v for v in PoiVersion.objects.filter(changeset=cs)}
        # Set-based: the latest version of each POI and the one before this change set's.
        latest = {v.poi_id: v for v in PoiVersion.objects.raw(
            """SELECT DISTINCT ON (p.poi_id) p.* FROM poi_poiversion p
               WHERE p.poi_id IN (SELECT poi_id FROM poi_poiversion WHERE changeset_id = %s)
               ORDER BY p.poi_id, p.version DESC""", [cs.pk])}
        previous = {v.poi_id: v for v in PoiVersion.objects.raw(
            """SELECT DISTINCT ON (p.poi_id) p.* FROM poi_poiversion p
               JOIN poi_poiversion m ON m.poi_id = p.poi_id AND m.changeset_id = %s AND p.version < m.version
               ORDER BY p.poi_id, p.version DESC""", [cs.pk])}
        conflicts, states = [], []
        for poi_id, v in sorted(mine.items()):
            last = latest[poi_id]
            # Later versions that ended in the same state (say, a reverted edit) do not conflict.
            if last.version != v.version and not _same_state(last, v):
                later = sorted(set(PoiVersion.objects.filter(poi_id=poi_id, version__gt=v.version)
                                   .values_list("changeset_id", flat=True)))
                conflicts.append({"poi_id": poi_id, "name": (v.data or {}).get("name"), "later_changesets": later,
                                  "where": f"POI {poi_id} ({(v.data or {}).get('name') or ''})",
                                  "reason": f"changed again by change set(s) {', '.join(map(str, later))}"})
                continue
            prev = previous.get(poi_id)
            if prev is None or prev.deleted:
                states.append(State(poi_id, last.version + 1, Op.DELETE, True, _derive(v.data), *_lonlat(v)))
            else:
                states.append(State(poi_id, last.version + 1, Op.ADD if last.deleted else Op.UPDATE, False,
                                    _derive(prev.data), *_lonlat(prev)))
        if conflicts and not skip_conflicts:
            raise ApplyConflict(f"change set {cs.pk}: nothing reverted, {len(conflicts)} POIs changed later "
                                "(revert those change sets first, or --skip-conflicts):", conflicts)
        now = timezone.now()
        back = ChangeSet.objects.create(
            kind=ChangeSet.Kind.REVERT, status=ChangeSet.Status.APPLIED, layer_slug=cs.layer_slug,
            source_name=f"revert of #{cs.pk}", origin_crs="CGCS2000", reverts=cs, submitted_by=user,
            applied_by=user, applied_at=now, report={"conflicts": conflicts, "reverted": len(states)},
        )
        write_states(back, layer, states, user)
        cs.status = ChangeSet.Status.REVERTED
        cs.report = cs.report | {"reverted_by": back.pk, "revert_conflicts": conflicts}
        cs.save()
        audit.record(user, "poi.revert", layer, via="poi", changeset=cs.pk, revert=back.pk,
                     reverted=len(states), conflicts=len(conflicts))
    return back


def _same_state(a: PoiVersion, b: PoiVersion) -> bool:
    skip = {"origin_crs"}
    return (a.deleted == b.deleted and _lonlat(a) == _lonlat(b)
            and {k: v for k, v in a.data.items() if k not in skip} == {k: v for k, v in b.data.items() if k not in skip})


def _lonlat(v: PoiVersion) -> tuple:
    return (v.geom.x, v.geom.y) if v.geom else (None, None)


_ATTR_TYPES = {c.name: c.type for c in store.COLUMNS}


def write_states(cs: ChangeSet, layer: Layer, states: list[State], user) -> tuple | None:
    """New versions for `states` and the current table to match; the caller holds the transaction.
    Returns the changed extent (old and new positions), which is announced for tile caches."""
    if not states:
        return None
    from .names import normalise  # noqa: PLC0415 (optional heavy import kept off module load)

    cur = storage._raw_cursor()
    attr_cols = store.ATTRIBUTES
    cur.execute(sql.SQL("CREATE TEMP TABLE _poi_write (poi_id text PRIMARY KEY, version int, op text, deleted bool, "
                        "{}, name_key text, lon float8, lat float8) ON COMMIT DROP").format(
        sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(_ATTR_TYPES[c])) for c in attr_cols)))
    columns = ["poi_id", "version", "op", "deleted", *attr_cols, "name_key", "lon", "lat"]
    with cur.copy(sql.SQL("COPY _poi_write ({}) FROM STDIN").format(
            sql.SQL(", ").join(map(sql.Identifier, columns)))) as copy:
        for s in states:
            copy.write_row([s.poi_id, s.version, str(s.op), s.deleted, *[s.attrs.get(c) for c in attr_cols],
                            normalise(s.attrs.get("name") or ""), s.lon, s.lat])
    point = sql.SQL("ST_SetSRID(ST_MakePoint(w.lon, w.lat), 4490)")
    # The county-level unit (6-digit code not ending in 00) containing each point.
    for slug in settings.GEOPLATFORM["ADMIN_LAYERS"]:
        admin = Layer.objects.filter(slug=slug).exclude(table_name=None).first()
        if admin is None:
            continue
        cur.execute(sql.SQL(
            """UPDATE _poi_write w SET adcode = a.adcode, county = a.name
               FROM {t} a WHERE w.adcode IS NULL AND NOT w.deleted AND w.lon IS NOT NULL
                 AND length(a.adcode) = 6 AND a.adcode !~ '00$' AND ST_Intersects(a.geom, {p})"""
        ).format(t=storage.qualified(admin.table_name), p=point))
    cur.execute("SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
                "(SELECT ST_Extent(ST_MakePoint(lon, lat)) e FROM _poi_write WHERE lon IS NOT NULL) s")
    new_box = cur.fetchone()
    cur.execute(sql.SQL("SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent(t.geom) e "
                        "FROM {t} t JOIN _poi_write w USING (poi_id)) s").format(t=store.qualified()))
    old_box = cur.fetchone()

    now = timezone.now()
    cur.execute("UPDATE poi_poiversion SET valid_to = %s WHERE valid_to IS NULL AND poi_id IN (SELECT poi_id FROM _poi_write)",
                [now])
    cur.execute(sql.SQL(
        """INSERT INTO poi_poiversion (poi_id, version, changeset_id, op, deleted, data, geom, valid_from, author_id)
           SELECT w.poi_id, w.version, %s, w.op, w.deleted,
                  to_jsonb(w) - 'poi_id' - 'version' - 'op' - 'deleted' - 'name_key' - 'lon' - 'lat',
                  CASE WHEN w.lon IS NULL THEN NULL ELSE {p} END, %s, %s FROM _poi_write w"""
    ).format(p=point), [cs.pk, now, user.pk])
    cur.execute(sql.SQL("DELETE FROM {t} WHERE poi_id IN (SELECT poi_id FROM _poi_write WHERE deleted)").format(
        t=store.qualified()))
    target = [*attr_cols, "name_key", "version", "changeset", "updated_at", "geom"]
    cur.execute(sql.SQL(
        """INSERT INTO {t} (poi_id, {cols})
           SELECT w.poi_id, {vals}, w.name_key, w.version, %s, %s, ST_Multi({p}) FROM _poi_write w WHERE NOT w.deleted
           ON CONFLICT (poi_id) DO UPDATE SET {sets}"""
    ).format(
        t=store.qualified(), cols=sql.SQL(", ").join(map(sql.Identifier, target)),
        vals=sql.SQL(", ").join(sql.SQL("w.{}").format(sql.Identifier(c)) for c in attr_cols), p=point,
        sets=sql.SQL(", ").join(sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(c)) for c in target),
    ), [cs.pk, now])
    cur.execute("DROP TABLE _poi_write")

    count, _ = (None, None)
    cur.execute(sql.SQL("SELECT count(*) FROM {}").format(store.qualified()))
    count = cur.fetchone()[0]
    changed = versions.bbox_union(_box(old_box), _box(new_box))
    layer.feature_count = count
    if changed:
        from django.contrib.gis.geos import Polygon  # noqa: PLC0415

        full = versions.bbox_union(layer.extent.extent if layer.extent else None, changed)
        layer.extent = Polygon.from_bbox(full)
        layer.extent.srid = 4490
    layer.save()
    changes.announce(layer, changed)
    return changed


def _box(row) -> tuple | None:
    return tuple(row) if row and row[0] is not None else None
