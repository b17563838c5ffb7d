"""geoplatform ingest PATH --layer SLUG … | ingest history --layer SLUG | ingest sheets --layer SLUG | ingest rollback JOB

Exit status: 0 loaded, 2 input rejected (the message names file, feature and reason), 1 internal error.
"""

import json
import sys
from datetime import date
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from ingest import pipeline
from ingest.models import IngestJob
from layers.errors import PlatformError
from layers.management.lookups import user_named
from layers.models import Access

MODES = [m.value for m in IngestJob.Mode]


class Command(BaseCommand):
    help = (
        "Load vector data into a layer: `ingest PATH --layer SLUG [options]`; "
        "`ingest history --layer SLUG` lists its loads; `ingest sheets --layer SLUG` reports each map sheet's "
        "currency; `ingest rollback JOB` undoes one. "
        "Exit status 0 loaded, 2 input rejected, 1 internal error."
    )

    def add_arguments(self, parser):
        parser.add_argument("args", nargs="+", metavar="PATH | history | sheets | rollback JOB")
        parser.add_argument("--layer", help="target layer slug (a DXF sheet fans out into SLUG-<target> layers)")
        parser.add_argument("--mode", choices=MODES, default="create")
        parser.add_argument("--srs", help="source CRS when the file has none or a wrong one (EPSG:4538, …)")
        parser.add_argument("--towgs84", help="datum shift for Xi'an 1980 / Beijing 1954: dx,dy,dz[,rx,ry,rz,s] or a configured name")
        parser.add_argument("--encoding", help="attribute encoding (overrides .cpg and detection), e.g. GBK, UTF-8")
        parser.add_argument("--sheet", help="map sheet number, e.g. 4622.00-429.25")
        parser.add_argument("--source-layer", help="only this layer of a multi-layer file (GeoPackage, FileGDB)")
        parser.add_argument("--access", choices=Access.values, default=Access.INTERNAL,
                            help="access level of a new layer (default internal)")
        parser.add_argument("--department", help="owner department code of a new layer")
        parser.add_argument("--title", help="Chinese title of a new layer")
        parser.add_argument("--title-en", default="")
        parser.add_argument("--scale", type=int, help="scale denominator, e.g. 500")
        parser.add_argument("--survey-date", type=date.fromisoformat, help="YYYY-MM-DD")
        parser.add_argument("--source", default="", help="who delivered the data (recorded per load)")
        parser.add_argument("--max-invalid", type=int, default=0, help="features that may be rejected before the load is refused")
        parser.add_argument("--dry-run", action="store_true", help="check everything, load nothing")
        parser.add_argument("--report", type=Path, help="write the JSON report here (and rejects as .rejects.gpkg)")
        parser.add_argument("--by", help="user recorded as having made the load")
        parser.add_argument("--json", action="store_true", help="history / sheets as JSON")

    def execute(self, *args, **options):
        try:
            return super().execute(*args, **options)
        except PlatformError as exc:
            raise CommandError(str(exc), returncode=exc.exit_code) from exc

    def handle(self, *args, **o):
        pipeline.recover_stale_jobs()
        if args[0] == "history" and len(args) == 1:
            return self.history(o)
        if args[0] == "sheets" and len(args) == 1:
            return self.sheets(o)
        if args[0] == "rollback" and len(args) == 2:
            return self.rollback(args[1], o)
        if len(args) != 1:
            raise CommandError("give one PATH (or `history --layer SLUG`, or `rollback JOB`)", returncode=2)
        if not o["layer"]:
            raise CommandError("--layer SLUG is required", returncode=2)
        return self.load(Path(args[0]), o)

    def load(self, path: Path, o):
        options = pipeline.Options(
            layer=o["layer"], mode=o["mode"], srs=o["srs"], encoding=o["encoding"], sheet=o["sheet"],
            access=o["access"], department=o["department"], source_layer=o["source_layer"],
            towgs84=o["towgs84"], max_invalid=o["max_invalid"], dry_run=o["dry_run"], title_zh=o["title"],
            title_en=o["title_en"], survey_date=o["survey_date"], source=o["source"], scale=o["scale"],
        )
        user = user_named(o["by"], optional=True)
        job = pipeline.create_job(path, options, user)
        bar = _progress_bar(self.stderr._out if hasattr(self.stderr, "_out") else sys.stderr)
        try:
            report = pipeline.run(job, path, progress=bar.update if bar else None)
        except Exception as exc:
            if o["report"] and getattr(exc, "report", None):
                for written in exc.report.write(o["report"]):
                    self.stderr.write(f"report: {written}")
            raise
        finally:
            if bar:
                bar.close()
        if o["report"]:
            for written in report.write(o["report"]):
                self.stderr.write(f"report: {written}")
        summary = report.as_dict()
        for source in summary["sources"]:
            self.stdout.write(f"{source['path']} [{source['source']}] → {source['layer']}: {source['crs']}"
                              + (f"; {source['encoding_note']}" if source.get("encoding_note") else ""))
        if summary["repaired"]:
            self.stdout.write("repaired: " + ", ".join(f"{k}: {len(v)}" for k, v in summary["repaired"].items()))
        if summary["rejected"]:
            self.stdout.write(f"rejected {summary['rejected']} feature(s) (within --max-invalid): "
                              + ", ".join(f"{k} {v}" for k, v in summary["rejected_by_reason"].items()))
        verb = "dry run, would load" if o["dry_run"] else "loaded"
        self.stdout.write(f"job {job.pk}: {verb} {summary['loaded']} feature(s)"
                          + "".join(f"; {r['layer']}: +{r['loaded']} −{r['replaced']}" for r in summary["results"]))

    def history(self, o):
        if not o["layer"]:
            raise CommandError("history needs --layer SLUG", returncode=2)
        jobs = pipeline.history(o["layer"])
        rows = [{
            "job": j.pk, "status": j.status, "mode": j.mode, "file": j.source_name, "sheet": j.sheet,
            "survey_date": j.survey_date.isoformat() if j.survey_date else None, "source": j.source,
            "user": j.user.username if j.user else None, "finished": j.finished_at.isoformat() if j.finished_at else None,
            "loaded": j.report.get("loaded"), "rejected": j.report.get("rejected"),
        } for j in jobs]
        if o["json"]:
            self.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2))
            return
        for r in rows:
            self.stdout.write(f"{r['job']:>6}  {r['finished'] or '':25.19} {r['status']:11} {r['mode']:13} "
                              f"{r['sheet'] or '-':16} +{r['loaded'] or 0:<8} {r['user'] or '-':10} {r['file']}")

    def sheets(self, o):
        if not o["layer"]:
            raise CommandError("sheets needs --layer SLUG", returncode=2)
        rows = pipeline.sheet_currency(o["layer"])
        if o["json"]:
            self.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2))
            return
        for r in rows:
            self.stdout.write(f"{r['sheet'] or '(no sheet)':18} {r['features']:>8}  surveyed {r['survey_date'] or '?':10}  "
                              f"job {r['job']}  {r['source']}")

    def rollback(self, job_id: str, o):
        if not job_id.isdigit():
            raise CommandError(f"not a job number: {job_id!r}", returncode=2)
        job = pipeline.rollback(int(job_id), user=user_named(o["by"], optional=True))
        self.stdout.write(f"job {job.pk} rolled back: {', '.join(job.layers_touched)} restored to before it")


def _progress_bar(stream):
    if not stream.isatty():
        return None
    from tqdm import tqdm

    bar = tqdm(total=None, unit=" features", unit_scale=True, file=stream, leave=False)

    class Bar:
        def update(self, done, total):
            if total and bar.total != total:
                bar.total = total
            bar.n = done
            bar.refresh()

        def close(self):
            bar.close()

    return Bar()

