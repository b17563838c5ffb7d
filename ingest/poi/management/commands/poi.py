"""geoplatform poi submit|show|list|approve|reject|merge|apply|revert|history|export|currency

Exit status: 0 done, 2 refused (bad input, conflict, not allowed: the message says which row or
POI and why), 1 internal error.
"""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from ingest.poi import apply, changesets, currency, history
from ingest.poi.models import ChangeItem, ChangeSet
from layers.errors import PlatformError
from layers.management.lookups import user_named


def _rows(values: list[str]) -> list[int]:
    try:
        return [int(v) for v in values]
    except ValueError:
        raise CommandError("items are row numbers of the submitted file (header = row 1)", returncode=2) from None


class Command(BaseCommand):
    help = ("Points of interest: submit change sets (CSV, XLSX, GeoJSON), review, apply, revert, history, "
            "export, currency report. Items are the rows of the submitted file.")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        s = sub.add_parser("submit", help="submit a file of adds/updates/deletions; prints the change-set id")
        s.add_argument("file", type=Path)
        s.add_argument("--by", required=True, help="the collector (a user with an edit grant on the POI layer)")
        s.add_argument("--crs", default="CGCS2000", help="coordinates as given: WGS84 (GPS), CGCS2000, GCJ02 "
                       "(Amap/Tencent) or BD09 (Baidu); default CGCS2000")
        s.add_argument("--encoding", help="CSV encoding when not UTF-8 or GBK")
        s.add_argument("--max-invalid", type=int, default=0,
                       help="rows that may be refused (they are listed); more and nothing is submitted")
        s.add_argument("--note", default="")
        s.add_argument("--json", action="store_true")
        ls = sub.add_parser("list", help="change sets, newest first")
        ls.add_argument("--status", choices=ChangeSet.Status.values)
        ls.add_argument("--limit", type=int, default=50)
        sh = sub.add_parser("show", help="a change set: items, decisions, refused rows, flags")
        sh.add_argument("changeset", type=int)
        sh.add_argument("--json", action="store_true")
        for name, help_ in (("approve", "approve items (--all skips items flagged as possible duplicates)"),
                            ("reject", "reject items")):
            a = sub.add_parser(name, help=help_)
            a.add_argument("changeset", type=int)
            g = a.add_mutually_exclusive_group(required=True)
            g.add_argument("--all", action="store_true")
            g.add_argument("--items", nargs="+", metavar="ROW")
            a.add_argument("--by", required=True, help="the reviewer (owner department)")
            a.add_argument("--comment", default="")
        m = sub.add_parser("merge", help="merge a new item into an existing POI (ID) or another item (row:N)")
        m.add_argument("changeset", type=int)
        m.add_argument("--item", type=int, required=True, metavar="ROW")
        m.add_argument("--into", required=True, metavar="POI_ID|row:N")
        m.add_argument("--by", required=True)
        m.add_argument("--comment", default="")
        ap = sub.add_parser("apply", help="apply the approved items, all or nothing")
        ap.add_argument("changeset", type=int)
        ap.add_argument("--by", help="the reviewer (default: the one who decided last)")
        ap.add_argument("--accept-offset", action="store_true", help="apply although the batch looks offset")
        rv = sub.add_parser("revert", help="undo an applied change set (as a new change set)")
        rv.add_argument("changeset", type=int)
        rv.add_argument("--by", help="the reviewer (default: who applied it)")
        rv.add_argument("--skip-conflicts", action="store_true",
                        help="revert what can be; leave POIs changed later as they are (listed)")
        hi = sub.add_parser("history", help="every version of one POI")
        hi.add_argument("poi_id")
        hi.add_argument("--json", action="store_true")
        ex = sub.add_parser("export", help="the POIs now or as of a date")
        ex.add_argument("--format", choices=history.EXPORT_FORMATS, default="geojson")
        ex.add_argument("--as-of", help="YYYY-MM-DD (end of that day) or an ISO date-time")
        ex.add_argument("--output", "-o", type=Path, help="file (default: standard output)")
        cu = sub.add_parser("currency", help="verification age per county and category, and stale POIs")
        cu.add_argument("--stale-days", type=int)
        cu.add_argument("--csv", type=Path, help="write the table here and the stale list beside it (.stale.csv)")
        cu.add_argument("--json", action="store_true")

    def execute(self, *args, **options):
        try:
            return super().execute(*args, **options)
        except PlatformError as exc:
            raise CommandError(str(exc), returncode=exc.exit_code) from exc

    def handle(self, *args, action, **o):
        getattr(self, "do_" + action)(**o)

    def do_submit(self, file, by, crs, encoding, max_invalid, note, json, **_):
        if not file.is_file():
            raise CommandError(f"{file}: no such file", returncode=2)
        result = changesets.submit(file, user_named(by), crs=crs, encoding=encoding, max_invalid=max_invalid,
                                   note=note)
        cs = result.changeset
        if json:
            self.stdout.write(_json({"changeset": cs.pk} | cs.report | {"offset": cs.offset_flag}))
            return
        self.stdout.write(str(cs.pk))
        for r in result.refusals:
            self.stderr.write(f"{file.name}, row {r.row}: {r.as_dict()['message']}")
        flagged = cs.report.get("duplicates_flagged", 0)
        self.stderr.write(f"change set {cs.pk}: {cs.report['items']} items, {len(result.refusals)} rows refused, "
                          f"{flagged} possible duplicates flagged")
        if cs.offset_flag:
            self.stderr.write("WARNING: " + cs.offset_flag["message"])

    def do_list(self, status, limit, **_):
        qs = ChangeSet.objects.select_related("submitted_by")
        if status:
            qs = qs.filter(status=status)
        for cs in qs[:limit]:
            self.stdout.write(f"{cs.pk:>6}  {cs.status:<9} {cs.kind:<10} {cs.submitted_at:%Y-%m-%d %H:%M}  "
                              f"{cs.submitted_by.get_username():<12} {cs.source_name}")

    def do_show(self, changeset, json, **_):
        cs = ChangeSet.objects.filter(pk=changeset).select_related("submitted_by").first()
        if cs is None:
            raise CommandError(f"change set {changeset} does not exist", returncode=2)
        items = list(cs.items.all())
        if json:
            self.stdout.write(_json({
                "id": cs.pk, "kind": cs.kind, "status": cs.status, "file": cs.source_name, "crs": cs.origin_crs,
                "submitted_by": cs.submitted_by.get_username(), "submitted_at": cs.submitted_at.isoformat(),
                "report": cs.report, "offset": cs.offset_flag,
                "items": [{"row": i.row, "op": i.op, "poi_id": i.poi_id, "decision": i.decision,
                           "merged_into": i.merged_into, "data": i.data, "lon": i.lon, "lat": i.lat,
                           "duplicates": i.duplicates} for i in items],
            }))
            return
        self.stdout.write(f"change set {cs.pk} ({cs.kind}, {cs.status}) {cs.source_name} in {cs.origin_crs}, "
                          f"submitted by {cs.submitted_by.get_username()} at {cs.submitted_at:%Y-%m-%d %H:%M}")
        if cs.offset_flag:
            self.stdout.write("WARNING: " + cs.offset_flag["message"])
        counts = {d: sum(i.decision == d for i in items) for d in ChangeItem.Decision.values}
        self.stdout.write("items: " + ", ".join(f"{n} {d}" for d, n in counts.items() if n))
        for i in items:
            dup = ""
            if i.duplicates:
                dup = "  possible duplicate of " + "; ".join(
                    (f"POI {c['poi_id']}" if "poi_id" in c else f"row {c['row']}") + f" {c['name']} "
                    f"({c['distance_m']} m, {c['similarity']})" for c in i.duplicates)
            into = f" → {i.merged_into}" if i.merged_into else ""
            self.stdout.write(f"  row {i.row:>5} {i.op:<6} {i.poi_id:<16} {i.decision:<8}{into} "
                              f"{i.data.get('name', '')} {i.data.get('category', '')}{dup}")
        for r in cs.report.get("refused", []):
            self.stdout.write(f"  row {r['row']:>5} REFUSED {r['message']}")

    def do_approve(self, changeset, all, items, by, comment, **_):
        out = changesets.approve(changeset, user_named(by), rows_=_rows(items or []), everything=all, comment=comment)
        self.stdout.write(f"approved {out['approved']} items")
        if out["left_for_review"]:
            self.stdout.write(f"flagged as possible duplicates, decide each (approve --items, merge, reject): rows "
                              f"{', '.join(map(str, out['left_for_review']))}")

    def do_reject(self, changeset, all, items, by, comment, **_):
        out = changesets.reject(changeset, user_named(by), rows_=_rows(items or []), everything=all, comment=comment)
        self.stdout.write(f"rejected {out['rejected']} items")

    def do_merge(self, changeset, item, into, by, comment, **_):
        changesets.merge(changeset, user_named(by), row=item, into=into, comment=comment)
        self.stdout.write(f"row {item} merged into {into}")

    def do_apply(self, changeset, by, accept_offset, **_):
        user = user_named(by) if by else _last_decider(changeset)
        cs = apply.apply(changeset, user, accept_offset=accept_offset)
        self.stdout.write(f"change set {cs.pk}: {cs.status} ({cs.versions.count()} POI versions written)")

    def do_revert(self, changeset, by, skip_conflicts, **_):
        cs = ChangeSet.objects.filter(pk=changeset).first()
        user = user_named(by) if by else (cs.applied_by if cs and cs.applied_by else None)
        if user is None:
            raise CommandError("--by USER is required", returncode=2)
        back = apply.revert(changeset, user, skip_conflicts=skip_conflicts)
        self.stdout.write(f"change set {changeset} reverted by change set {back.pk} "
                          f"({back.report['reverted']} POIs restored)")
        for c in back.report["conflicts"]:
            self.stdout.write(f"  not reverted: {c['where']}: {c['reason']}")

    def do_history(self, poi_id, json, **_):
        versions = history.versions_of(poi_id)
        if not versions:
            raise CommandError(f"no POI {poi_id!r}", returncode=2)
        if json:
            self.stdout.write(_json(versions))
            return
        for v in versions:
            self.stdout.write(f"v{v['version']} {v['op']:<6} change set {v['changeset']} by {v['author']} "
                              f"from {v['valid_from']}" + (" (deleted)" if v["deleted"] else ""))
            for k, (before, after) in v["changes"].items():
                self.stdout.write(f"    {k}: {before!r} → {after!r}")

    def do_export(self, format, as_of, output, **_):
        moment = history.parse_moment(as_of) if as_of else None
        chunks = history.export(format, moment)
        if output:
            with output.open("wb") as out:
                for chunk in chunks:
                    out.write(chunk)
        else:
            for chunk in chunks:
                self.stdout.write(chunk.decode(), ending="")

    def do_currency(self, stale_days, csv, json, **_):
        rep = currency.report(stale_days)
        if csv:
            csv.write_text(currency.groups_csv(rep), encoding="utf-8")
            csv.with_suffix(".stale.csv").write_text(currency.stale_csv(rep), encoding="utf-8")
        if json:
            self.stdout.write(_json(rep))
            return
        self.stdout.write(f"{rep['total']} active POIs; stale (unverified > {rep['stale_days']} days): "
                          f"{len(rep['stale'])}")
        for g in rep["groups"]:
            buckets = " ".join(f"{b}={g[b]}" for b, _ in currency.BUCKETS) + f" never={g[currency.NEVER]}"
            self.stdout.write(f"  {g['adcode']:<7} {g['county']:<10} {g['category']:<16} {g['total']:>5}  {buckets}")


def _json(obj) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=2, default=str)


def _last_decider(changeset: int):
    item = ChangeItem.objects.filter(changeset_id=changeset).exclude(decided_by=None).order_by("-decided_at").first()
    if item is None:
        raise CommandError("--by USER is required", returncode=2)
    return item.decided_by
