"""The ingest pipeline: read → decide CRS → transform → validate → stage (COPY) → swap.

Everything before the swap happens in staging tables; the swap for every layer a file
touches is one transaction, so a load lands whole or not at all, and the previous data stays
until then. A killed process leaves only a staging table and a `running` job, which
`recover_stale_jobs` marks failed and cleans up on the next start.
"""

import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import shapely
from django.conf import settings
from django.contrib.gis.geos import Polygon
from django.db import connection, transaction
from django.utils import timezone
from django.utils.text import slugify

from layers import audit, changes, storage, versions
from layers.errors import Conflict, InvalidInput, PlatformError
from layers.models import Access, Department, Layer
from layers.storage import Column

from . import crs as crs_rules
from . import sheets
from .models import IngestJob
from .readers import datasets_in, reader_for, safe_extract
from .readers.base import SourceLayer
from .report import Report
from .validate import check_batch

log = logging.getLogger(__name__)
LOCK_NAMESPACE = 4490  # pg advisory lock class for running ingest jobs
MULTI = {"Point": "MultiPoint", "LineString": "MultiLineString", "Polygon": "MultiPolygon"}
_MULTI_OF = {
    "MultiPoint": (shapely.GeometryType.POINT, shapely.multipoints),
    "MultiLineString": (shapely.GeometryType.LINESTRING, shapely.multilinestrings),
    "MultiPolygon": (shapely.GeometryType.POLYGON, shapely.multipolygons),
}


@dataclass
class Options:
    layer: str
    mode: str = IngestJob.Mode.CREATE
    srs: str | None = None
    encoding: str | None = None
    sheet: str | None = None
    access: str = Access.INTERNAL  # secure by default
    department: str | None = None
    source_layer: str | None = None
    towgs84: str | None = None
    max_invalid: int = 0
    dry_run: bool = False
    title_zh: str | None = None
    title_en: str = ""
    survey_date: date | None = None
    source: str = ""
    scale: int | None = None
    attribution: str = ""
    licence: str = ""
    abstract: str = ""
    keywords: list[str] = field(default_factory=list)

    def as_params(self) -> dict:
        return {k: (v.isoformat() if isinstance(v, date) else v) for k, v in self.__dict__.items()}

    @classmethod
    def from_params(cls, params: dict) -> "Options":
        params = dict(params)
        if params.get("survey_date"):
            params["survey_date"] = date.fromisoformat(params["survey_date"])
        return cls(**params)


class Cancelled(PlatformError):
    http_status = 409
    exit_code = 1
    code = "Cancelled"


@dataclass
class Target:
    """One platform layer the file writes: a source layer, its slug, staging state."""

    source: SourceLayer
    slug: str
    layer: Layer | None
    columns: list[Column]
    storage_type: str
    transformer: object = None
    crs_note: str = ""
    native_epsg: int | None = None
    projected: bool = False
    stage: str = ""
    staged: int = 0
    read: int = 0
    rejected: int = 0
    repaired: int = 0
    z_dropped: int = 0
    keys: list = field(default_factory=list)  # per batch: (feature numbers, row hashes) for duplicate detection


# ---------------------------------------------------------------------------- jobs

def create_job(path: Path, options: Options, user=None) -> IngestJob:
    return IngestJob.objects.create(
        layer_slug=options.layer, mode=options.mode, source_name=path.name, params=options.as_params(),
        sheet=options.sheet or "", survey_date=options.survey_date, source=options.source,
        user=user if user is not None and user.is_authenticated else None,
    )


def recover_stale_jobs() -> list[int]:
    """Jobs marked running whose process is gone (their advisory lock is free): mark them
    failed and drop their staging tables. Safe to call from any process, any machine."""
    recovered = []
    for job in IngestJob.objects.filter(status=IngestJob.Status.RUNNING):
        with connection.cursor() as cur:
            cur.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_NAMESPACE, job.pk])
            if not cur.fetchone()[0]:
                continue  # its worker is alive
            try:
                _drop_stages(job.pk)
                IngestJob.objects.filter(pk=job.pk, status=IngestJob.Status.RUNNING).update(
                    status=IngestJob.Status.FAILED, finished_at=timezone.now(),
                    message="the load was interrupted (process killed or crashed); nothing was changed",
                )
                recovered.append(job.pk)
            finally:
                cur.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_NAMESPACE, job.pk])
    return recovered


def _drop_stages(job_id: int) -> None:
    with connection.cursor() as cur:
        cur.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s AND tablename LIKE %s",
            [storage.schema(), f"%\\_\\_stage\\_{job_id}"],
        )
        for (name,) in cur.fetchall():
            storage.drop_table(name)


# ---------------------------------------------------------------------------- running

def run(job: IngestJob, path: Path, *, progress: Callable[[int, int | None], None] | None = None) -> Report:
    """Run one load to completion. Raises InvalidInput (input refused), Conflict, Cancelled,
    or anything else for internal errors; the job record says what happened either way."""
    options = Options.from_params(job.params)
    report = Report(job_id=job.pk, file=str(path.name), mode=options.mode, dry_run=options.dry_run)
    with connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_lock(%s, %s)", [LOCK_NAMESPACE, job.pk])
    IngestJob.objects.filter(pk=job.pk).update(status=IngestJob.Status.RUNNING, started_at=timezone.now())
    targets: list[Target] = []
    try:
        with tempfile.TemporaryDirectory(prefix="geoplatform-ingest-") as tmp:
            sources = _open_sources(path, options, Path(tmp))
            slugs = _target_slugs(options.layer, sources)
            targets = [_plan(source, slug, options, len(sources) > 1, path) for source, slug in zip(sources, slugs)]
            for t in targets:
                report.add_source(t.slug, t.source, t.crs_note)
            total = sum(t.source.count or 0 for t in targets) or None
            IngestJob.objects.filter(pk=job.pk).update(progress_total=total)
            done = 0
            for t in targets:
                for batch_done in _stage(t, job, options, report):
                    done += batch_done
                    IngestJob.objects.filter(pk=job.pk).update(progress_done=done)
                    if progress:
                        progress(done, total)
                    if IngestJob.objects.filter(pk=job.pk, cancel_requested=True).exists():
                        raise Cancelled(f"job {job.pk} cancelled")
                _reject_duplicates(t, report)
            rejected = sum(t.rejected for t in targets)
            if rejected > options.max_invalid:
                raise InvalidInput(report.rejection_message(options.max_invalid))
            if options.dry_run:
                report.finish(loaded=sum(t.staged for t in targets))
                _finish(job, IngestJob.Status.SUCCEEDED, report, f"dry run: would load {report.loaded}; nothing loaded")
                return report
            extent = _swap(targets, job, options, report)
            report.finish(loaded=sum(t.staged for t in targets), extent=extent)
            return report
    except BaseException as exc:
        status = {Cancelled: IngestJob.Status.CANCELLED, InvalidInput: IngestJob.Status.REJECTED,
                  Conflict: IngestJob.Status.REJECTED}.get(type(exc), IngestJob.Status.FAILED)
        report.error = str(exc)
        _finish(job, status, report, str(exc))
        exc.report = report  # the caller may write it out (rejects included)
        raise
    finally:
        for t in targets:
            if t.stage:
                storage.drop_table(t.stage)
        with connection.cursor() as cur:
            cur.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_NAMESPACE, job.pk])


def _finish(job: IngestJob, status, report: Report, message: str) -> None:
    IngestJob.objects.filter(pk=job.pk).update(
        status=status, finished_at=timezone.now(), message=message[:5000], report=report.as_dict()
    )


def _open_sources(path: Path, options: Options, tmp: Path) -> list[SourceLayer]:
    if not path.exists():
        raise InvalidInput(f"{path}: no such file or directory")
    if path.is_file() and path.suffix.lower() == ".zip":
        path = safe_extract(path, tmp / "unzipped")
    datasets = datasets_in(path) if path.is_dir() else [path]
    if not datasets:
        raise InvalidInput(f"{path.name}: no readable vector data inside")
    sources: list[SourceLayer] = []
    for dataset in datasets:
        sources += reader_for(dataset).open(dataset, encoding=options.encoding, source_layer=options.source_layer,
                                            workdir=tmp)
    return sources


def _target_slugs(base: str, sources: list[SourceLayer]) -> list[str]:
    """One source: the layer itself. Several (a DXF sheet, a zip, a GeoPackage): base-<name>,
    numbered where a name has no Latin letters (Chinese file names) or repeats."""
    if len(sources) == 1:
        return [base]
    slugs, used = [], set()
    for i, source in enumerate(sources, 1):
        slug = f"{base}-{slugify(source.name) or i}"
        if slug in used:
            slug = f"{slug}-{i}"
        used.add(slug)
        slugs.append(slug[:60])
    return slugs


def _plan(source: SourceLayer, slug: str, options: Options, fan_out: bool, path: Path) -> Target:
    if slug == settings.GEOPLATFORM["POI"]["LAYER"]:
        raise InvalidInput(f"layer {slug!r} holds the points of interest, kept through reviewed change sets: "
                           "use `geoplatform poi submit`")
    layer = Layer.objects.filter(slug=slug).first()
    if layer is None and options.mode != IngestJob.Mode.CREATE and not fan_out:
        raise InvalidInput(f"layer {slug!r} does not exist; load it first with --mode create")
    if layer is not None and options.mode == IngestJob.Mode.CREATE:
        raise Conflict(f"layer {slug!r} already exists; use --mode append, replace or replace-sheet")
    if options.mode == IngestJob.Mode.REPLACE_SHEET and not options.sheet:
        raise InvalidInput("--mode replace-sheet needs --sheet ID")

    columns = _columns_for(source, layer, path)
    if layer is not None:
        storage_type = layer.geometry_type
    else:
        storage_type = MULTI[source.geometry_type or _majority_type(source, path)]
    recognised, note = _decide_crs(source, options.srs, path)
    transformer = crs_rules.transformer_to_storage(recognised, towgs84=options.towgs84, path=path)
    return Target(source=source, slug=slug, layer=layer, columns=columns, storage_type=storage_type,
                  transformer=transformer, crs_note=note, native_epsg=recognised.epsg,
                  projected=recognised.crs.is_projected)


def _majority_type(source: SourceLayer, path: Path) -> str:
    """A source with mixed geometry types (GeoJSON, KML) is stored as its most common type;
    features of other types are rejected with a reason, never dropped."""
    from .validate import BASE_OF

    first = next(iter(source.batches()), None)
    geoms = first.geoms[~shapely.is_missing(first.geoms)] if first is not None else []
    kinds = [BASE_OF.get(int(t)) for t in shapely.get_type_id(geoms)] if len(geoms) else []
    kinds = [k for k in kinds if k]
    if not kinds:
        raise InvalidInput(f"{path.name} [{source.name}]: no point, line or polygon features")
    return max(set(kinds), key=kinds.count)


def _decide_crs(source: SourceLayer, user_srs: str | None, path: Path):
    """--srs, else what the file declares, else what the coordinates prove; never a guess."""
    where = f"{path.name} [{source.name}]"
    if user_srs:
        rec = crs_rules.recognise(crs_rules.parse_user_srs(user_srs), path=path)
        note = f"{rec.name} (EPSG:{rec.epsg}) given with --srs"
        if source.crs is not None:
            note += f"; the file declares {source.crs.name}"
        return rec, note
    if source.crs is not None:
        rec = crs_rules.recognise(source.crs, path=path)
        return rec, f"{rec.name}" + (f" (EPSG:{rec.epsg})" if rec.epsg else "") + " declared by the file" + (
            f"; {rec.note}" if rec.note else "")
    first = next(iter(source.batches()), None)
    geoms = first.geoms[~shapely.is_missing(first.geoms)] if first is not None else []
    bounds = tuple(shapely.total_bounds(geoms)) if len(geoms) else None
    rec = crs_rules.guess_from_coordinates(bounds) if bounds and all(np.isfinite(bounds)) else None
    if rec is None:
        shown = ", ".join(f"{v:.3f}" for v in bounds) if bounds else "none"
        raise InvalidInput(
            f"{where}: no coordinate system (no .prj or CRS metadata), and the coordinates (bounds {shown}) "
            f"do not identify one; give --srs, e.g. EPSG:4538 (CGCS2000 GK CM 87E, Korla) or EPSG:4545 (CM 108E, Wuhai)"
        )
    return rec, rec.note


def _columns_for(source: SourceLayer, layer: Layer | None, path: Path) -> list[Column]:
    renamed = []
    for c in source.fields:
        if c.name.lower() in {"fid", "geom", "_sheet", "_job"}:
            raise InvalidInput(f"{path.name}: field {c.name!r} clashes with a system column; rename it")
        renamed.append(c)
    if layer is None:
        return renamed
    existing = storage.columns_of(layer.table_name)
    extra = {c.name for c in renamed} - {c.name for c in existing}
    if extra:
        raise InvalidInput(f"{path.name}: fields {', '.join(sorted(extra))} are not in layer {layer.slug!r}")
    return existing


def _to_multi(geoms: np.ndarray, target: str) -> np.ndarray:
    # One storage type per table: single parts are promoted, as ogr2ogr's -nlt PROMOTE_TO_MULTI does.
    single, build = _MULTI_OF[target]
    mask = shapely.get_type_id(geoms) == single
    if mask.any():
        geoms = geoms.copy()
        geoms[mask] = build(geoms[mask], indices=np.arange(mask.sum()))
    return geoms


def _stage(t: Target, job: IngestJob, options: Options, report: Report):
    srid = storage.storage_srid()
    t.stage = versions.create_staging_table(storage.table_for_slug(t.slug), job.pk, t.storage_type, t.columns, srid)
    region = [tuple(b) for b in settings.GEOPLATFORM["REGION_BOUNDS"]]
    base = t.storage_type.removeprefix("Multi")
    sheet = options.sheet or None
    for batch in t.source.batches():
        n = len(batch.geoms)
        t.read += n
        # Storage is 2D: heights that matter live in attributes (the DXF reader's `elevation`).
        t.z_dropped += int(shapely.has_z(batch.geoms).sum())
        geoms = shapely.transform(batch.geoms, t.transformer.transform, interleaved=False)
        outcome = check_batch(geoms, batch.attrs, t.columns, batch.first_feature, base, region)
        t.rejected += len(outcome.rejects)
        t.repaired += len(outcome.repaired)
        report.add_rejects(t.slug, t.source, outcome.rejects)
        report.add_repaired(t.slug, outcome.repaired)
        # No early exit past --max-invalid: the surveyor gets every problem in one report.
        keep = np.flatnonzero(outcome.keep)
        if len(keep):
            good = shapely.set_srid(_to_multi(outcome.geoms[keep], t.storage_type), srid)
            ewkb = shapely.to_wkb(good, include_srid=True)
            everything = len(keep) == n
            values = [outcome.attrs[c.name] if everything else [outcome.attrs[c.name][i] for i in keep] for c in t.columns]
            fids = (batch.first_feature + keep).tolist()
            # fid = the feature's number in its source, so reports and the staged row agree.
            rows = ((g, *v, sheet, job.pk, f) for f, g, *v in zip(fids, ewkb, *values))
            t.staged += storage.copy_rows(t.stage, t.columns, rows, provenance=True, with_fid=True)
            # Row identity for duplicate detection: geometry bytes + attribute values.
            plain = shapely.to_wkb(outcome.geoms[keep])
            hashes = np.fromiter((hash((plain[j], *(v[j] for v in values))) for j in range(len(keep))),
                                 dtype=np.int64, count=len(keep))
            t.keys.append((np.asarray(fids, dtype=np.int64), hashes))
        yield n


def _reject_duplicates(t: Target, report: Report) -> None:
    """Second and later copies of a feature (same geometry and attributes) are refused,
    confirmed exactly in SQL so a hash collision can never reject a distinct feature."""
    if not t.keys:
        return
    fids = np.concatenate([k[0] for k in t.keys])
    hashes = np.concatenate([k[1] for k in t.keys])
    t.keys = []
    order = np.lexsort((fids, hashes))
    h, f = hashes[order], fids[order]
    same = np.flatnonzero(h[1:] == h[:-1]) + 1
    if not len(same):
        return
    # first fid of each hash group
    group_start = np.maximum.accumulate(np.where(np.r_[True, h[1:] != h[:-1]], np.arange(len(h)), 0))
    pairs = [(int(f[i]), int(f[group_start[i]])) for i in same]
    confirmed = versions.confirm_duplicates(t.stage, t.columns, pairs)
    if confirmed:
        gone = versions.delete_staged(t.stage, [dup for dup, _first in confirmed])
        t.staged -= len(gone)
        t.rejected += len(gone)
        first_of = dict(confirmed)
        report.add_duplicate_rejects(t.slug, t.source, [(fid, first_of[fid], geom, props) for fid, geom, props in gone])


def _swap(targets: list[Target], job: IngestJob, options: Options, report: Report) -> tuple | None:
    """Every target in one transaction: create or replace, history kept, catalog updated."""
    extent = None
    department = None
    frame_geometry = _delivered_frame(targets) if options.mode == IngestJob.Mode.REPLACE_SHEET else None
    with transaction.atomic():
        for t in targets:
            table = storage.table_for_slug(t.slug)
            storage.create_spatial_index(t.stage)
            if t.layer is None:
                department = department or _department(options)
                versions.promote_staging(t.stage, table)
                t.stage = ""
                report.created.append(t.slug)
                retired, retired_box = 0, None
                layer = Layer.objects.create(
                    slug=t.slug, title_zh=_title(options, t, targets), title_en=options.title_en,
                    kind=Layer.Kind.VECTOR, geometry_type=t.storage_type, table_name=table,
                    native_srid=t.native_epsg, storage_srid=storage.storage_srid(), access=options.access,
                    owner=department, source=options.source, scale_denominator=options.scale,
                    survey_date=options.survey_date, attribution=options.attribution, licence=options.licence,
                    abstract=options.abstract, keywords=options.keywords,
                )
                audit.record(job.user, "layer.create", layer, via="ingest", job=job.pk, file=job.source_name)
            else:
                layer = Layer.objects.select_for_update().get(pk=t.layer.pk)
                versions.lock(table)
                retired, retired_box = _retire(table, job, options, t, frame_geometry, report)
                versions.insert_staged(t.stage, table, t.columns)
            count, box = storage.table_stats(table)
            new_box = versions.bbox_of_job(table, job.pk)
            changed = versions.bbox_union(retired_box, new_box)
            layer.feature_count = count
            layer.extent = _polygon(box)
            if options.survey_date:
                layer.survey_date = options.survey_date
            if t.native_epsg and not layer.native_srid:
                layer.native_srid = t.native_epsg
            layer.save()
            changes.announce(layer, changed, job.pk)
            audit.record(job.user, "layer.load", layer, via="ingest", job=job.pk, mode=options.mode,
                         loaded=t.staged, retired=retired, sheet=options.sheet or "")
            report.add_result(t.slug, loaded=t.staged, retired=retired, changed=changed, z_dropped=t.z_dropped)
            extent = versions.bbox_union(extent, changed)
        IngestJob.objects.filter(pk=job.pk).update(
            status=IngestJob.Status.SUCCEEDED, finished_at=timezone.now(), changed_extent=_polygon(extent),
            layers_touched=[t.slug for t in targets], message=f"loaded {sum(t.staged for t in targets)} features",
            report=report.as_dict() | {"loaded": sum(t.staged for t in targets)},
        )
    return extent


def _retire(table: str, job: IngestJob, options: Options, t: Target, frame_geometry, report: Report):
    if options.mode == IngestJob.Mode.APPEND:
        return 0, None
    if options.mode == IngestJob.Mode.REPLACE:
        return versions.retire(table, job.pk, everything=True)
    frame, how = sheets.frame_wkb(options.sheet, frame_geometry, options.scale, t.transformer, t.projected)
    report.sheet_frame = how
    return versions.retire(table, job.pk, sheet=options.sheet, sheet_extent_wkb=frame)


def _delivered_frame(targets: list[Target]):
    """The TK sheet frame delivered with the data (a DXF sheet), already in storage coordinates."""
    for t in targets:
        if t.source.name == "sheet-frame" and t.stage:
            ewkb = versions.union_of(t.stage)
            return shapely.from_wkb(ewkb) if ewkb else None
    return None


def _department(options: Options) -> Department:
    if not options.department:
        raise InvalidInput("a new layer needs an owner: --department CODE")
    try:
        return Department.objects.get(code=options.department)
    except Department.DoesNotExist:
        raise InvalidInput(f"unknown department {options.department!r}") from None


def _title(options: Options, t: Target, targets: list[Target]) -> str:
    if len(targets) == 1:
        return options.title_zh or t.source.extra.get("title_zh") or t.slug
    part = t.source.extra.get("title_zh") or t.source.name
    return f"{options.title_zh} · {part}" if options.title_zh else part


def _polygon(box):
    if box is None:
        return None
    poly = Polygon.from_bbox(box)
    poly.srid = storage.storage_srid()
    return poly


# ---------------------------------------------------------------------------- history

def rollback(job_id: int, user=None) -> IngestJob:
    """Restore every layer a load touched to its state before the load."""
    try:
        job = IngestJob.objects.get(pk=job_id)
    except IngestJob.DoesNotExist:
        raise InvalidInput(f"no ingest job {job_id}") from None
    if job.status != IngestJob.Status.SUCCEEDED or job.params.get("dry_run"):
        raise Conflict(f"job {job_id} is {job.status}; only a successful load can be rolled back")
    if job.params.get("raster"):
        from .raster import pipeline as raster_pipeline  # noqa: PLC0415 (rasterio only when needed)

        return raster_pipeline.rollback(job, user)
    with transaction.atomic():
        extent = None
        for slug in job.layers_touched:
            layer = Layer.objects.select_for_update().filter(slug=slug).first()
            if layer is None:
                continue
            table = layer.table_name
            versions.lock(table)
            versions.ensure_no_later_jobs(table, job_id)
            if slug in job.report.get("created", []):
                # The load created this layer: before it, there was none.
                audit.record(user, "layer.delete", layer, via="ingest", rollback_of=job_id)
                changes.announce(layer, layer.extent.extent if layer.extent else None, job_id)
                layer.delete()  # drops its tables
                continue
            removed, restored, box = versions.undo(table, job_id)
            count, bbox = storage.table_stats(table)
            layer.feature_count, layer.extent = count, _polygon(bbox)
            layer.save()
            changes.announce(layer, box, job_id)
            audit.record(user, "layer.rollback", layer, via="ingest", job=job_id, removed=removed, restored=restored)
            extent = versions.bbox_union(extent, box)
        IngestJob.objects.filter(pk=job_id).update(status=IngestJob.Status.ROLLED_BACK)
    job.refresh_from_db()
    return job


def history(slug: str) -> list[IngestJob]:
    from django.db.models import Q

    return list(IngestJob.objects.filter(Q(layers_touched__contains=[slug]) | Q(layer_slug=slug)).order_by("-id"))


def sheet_currency(slug: str) -> list[dict]:
    """Per map sheet of a layer: its features now, and the load that last wrote it (survey
    date, source, when): what data currency (现势性) reports are made of."""
    layer = Layer.objects.filter(slug=slug).first()
    if layer is None:
        raise InvalidInput(f"no layer {slug!r}")
    counts = versions.count_by_sheet(layer.table_name)
    jobs = {j.pk: j for j in IngestJob.objects.filter(pk__in=[job for _sheet, job, _n in counts])}
    out = []
    for sheet, job_id, n in counts:
        job = jobs.get(job_id)
        out.append({
            "sheet": sheet, "features": n, "job": job_id,
            "survey_date": job.survey_date.isoformat() if job and job.survey_date else None,
            "source": job.source if job else "", "loaded_at": job.finished_at.isoformat() if job and job.finished_at else None,
        })
    return out
