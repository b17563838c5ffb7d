"""Raster ingest: GeoTIFF (also with a world file), ESRI ASCII grid, JPEG2000/IMG, or a mosaic
(folder or zip of tiles of one product) → checks → one Cloud-Optimised GeoTIFF in the native CRS
→ registered as a new version of a raster layer; for DEMs also hillshade and colour relief.

Files are written first, then the catalog changes in one transaction; a refused or failed load
leaves the previous version (file and catalog) untouched and removes what it wrote.
"""

import subprocess
import tempfile
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import rasterio
from django.conf import settings
from django.contrib.gis.geos import Polygon
from django.db import transaction
from django.utils import timezone
from rasterio._err import CPLE_BaseError
from rasterio.errors import RasterioError
from rasterio.warp import transform_bounds

from ingest import crs as crs_rules
from ingest.models import IngestJob
from ingest.readers import safe_extract
from layers import audit, changes, versions
from layers.errors import Conflict, InvalidInput, NotFound
from layers.models import Access, Department, Layer, RasterVersion

from . import cog

SUFFIXES = {".tif", ".tiff", ".asc", ".jp2", ".img"}  # never .vrt: a VRT may point at any file
MODES = ("create", "replace")
RELIEF = Path(__file__).with_name("relief.txt")


@dataclass
class RasterOptions:
    layer: str
    kind: str = "dem"
    mode: str = "create"
    srs: str | None = None
    nodata: float | None = None
    access: str = Access.INTERNAL
    department: str | None = None
    title_zh: str = ""
    title_en: str = ""
    source: str = ""
    survey_date: date | None = None
    abstract: str = ""
    licence: str = ""
    attribution: str = ""
    derived: bool = True

    @classmethod
    def from_params(cls, params: dict) -> "RasterOptions":
        known = {k: v for k, v in params.items() if k in cls.__dataclass_fields__}
        if known.get("survey_date"):
            known["survey_date"] = date.fromisoformat(known["survey_date"])
        return cls(**known)

    def as_params(self) -> dict:
        d = asdict(self)
        d["survey_date"] = self.survey_date.isoformat() if self.survey_date else None
        return d | {"raster": True}


@dataclass
class Source:
    path: Path
    epsg: int | None
    crs_text: str  # what gdalbuildvrt -a_srs gets: "EPSG:n" or WKT
    count: int
    dtype: str
    res: tuple[float, float]
    bounds: tuple[float, float, float, float]
    nodata: float | None
    own_crs: bool = False  # the file states this CRS itself, as EPSG:epsg (not --srs, not a .prj)


@dataclass
class Report:
    layer: str
    kind: str
    sources: list[str] = field(default_factory=list)
    versions: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def create_job(path: Path, options: RasterOptions, user=None) -> IngestJob:
    if options.kind not in cog.KINDS:
        raise InvalidInput(f"--kind must be one of {', '.join(cog.KINDS)}")
    if options.mode not in MODES:
        raise InvalidInput("--mode must be create or replace for rasters")
    return IngestJob.objects.create(layer_slug=options.layer, mode=options.mode, source_name=path.name,
                                    params=options.as_params(), user=user, source=options.source,
                                    survey_date=options.survey_date)


def run(job: IngestJob, path: Path, options: RasterOptions) -> Report:
    IngestJob.objects.filter(pk=job.pk).update(status=IngestJob.Status.RUNNING, started_at=timezone.now())
    written: list[Path] = []
    try:
        with tempfile.TemporaryDirectory(prefix="raster-", dir=_work_dir()) as tmp:
            report = _run(job, path, options, Path(tmp), written)
    except InvalidInput as e:
        _cleanup(written)
        _finish(job, IngestJob.Status.REJECTED, str(e), {"error": str(e)})
        raise
    except BaseException as e:
        _cleanup(written)
        _finish(job, IngestJob.Status.FAILED, f"{type(e).__name__}: {e}", {"error": str(e)})
        raise
    return report


def _work_dir() -> Path:
    d = Path(settings.RASTER_DIR) / ".work"
    d.mkdir(parents=True, exist_ok=True)
    return d


def _cleanup(paths: list[Path]) -> None:
    for p in paths:
        p.unlink(missing_ok=True)


def _finish(job, status, message, report) -> None:
    IngestJob.objects.filter(pk=job.pk).update(status=status, finished_at=timezone.now(), message=message[:4000],
                                               report=report)


def _run(job, path: Path, options: RasterOptions, tmp: Path, written: list[Path]) -> Report:
    existing = Layer.objects.filter(slug=options.layer).first()
    if existing is not None and options.mode == "create":
        raise Conflict(f"layer {options.layer!r} already exists; use --mode replace")
    if existing is None and options.mode == "replace":
        raise InvalidInput(f"layer {options.layer!r} does not exist; load it first with --mode create")
    if existing is not None and existing.kind != Layer.Kind.RASTER:
        raise InvalidInput(f"layer {options.layer!r} is a vector layer")

    files = _inputs(path, tmp)
    sources = [_inspect(f, options) for f in files]
    _consistent(sources)
    report = Report(layer=options.layer, kind=options.kind, sources=[s.path.name for s in sources])

    if len(sources) == 1 and sources[0].own_crs and options.nodata is None:
        # Straight from the file: a VRT would add nothing but its per-pixel nodata test (≈ +30 %).
        source = sources[0].path
    else:  # a mosaic, or a CRS or nodata the file does not state itself
        source = tmp / "input.vrt"
        command = ["gdalbuildvrt", "-q", "-resolution", "highest", "-a_srs", sources[0].crs_text]
        if options.nodata is not None:
            command += ["-srcnodata", repr(options.nodata), "-vrtnodata", repr(options.nodata)]
        _tool(command + [str(source)] + [str(s.path) for s in sources], path)

    folder = Path(settings.RASTER_DIR) / options.layer
    main = folder / f"{job.pk}.tif"
    written.append(main)
    cog.write_cog(source, main, options.kind)
    cog.validate(main)
    made = [(options.layer, options.kind, main)]
    if options.kind == "dem" and options.derived:
        made += _derived(main, folder, job.pk, sources[0], tmp, written)
    IngestJob.objects.filter(pk=job.pk).update(progress_done=1, progress_total=1)
    extent = _register(job, options, made, sources, report, written)
    _finish(job, IngestJob.Status.SUCCEEDED, f"loaded {len(made)} raster product(s)",
            {"raster": True, "versions": report.versions, "sources": report.sources, "notes": report.notes})
    IngestJob.objects.filter(pk=job.pk).update(changed_extent=_polygon(extent),
                                               layers_touched=[slug for slug, _, _ in made])
    return report


def _tool(command: list[str], path: Path) -> None:
    proc = subprocess.run(command, capture_output=True, text=True)
    if proc.returncode != 0:
        raise InvalidInput(f"{path.name}: {command[0]} failed: {proc.stderr.strip()[:1000]}")


def _inputs(path: Path, tmp: Path) -> list[Path]:
    if not path.exists():
        raise InvalidInput(f"{path}: no such file or directory")
    if path.suffix.lower() == ".zip":
        path = safe_extract(path, tmp / "zip")
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
        if not files:
            raise InvalidInput(f"{path.name}: no raster files ({', '.join(sorted(SUFFIXES))})")
        return files
    if path.suffix.lower() not in SUFFIXES:
        raise InvalidInput(f"{path.name}: unsupported raster type {path.suffix or '(none)'}; "
                           f"use {', '.join(sorted(SUFFIXES))}, a folder or a zip of them")
    return [path]


def _inspect(path: Path, options: RasterOptions) -> Source:
    try:
        with rasterio.open(path) as src:
            # Reading the last block catches a file cut short in transfer without reading it all.
            src.read(1, window=((src.height - 1, src.height), (src.width - 1, src.width)))
            transform, crs, gcps = src.transform, src.crs, src.gcps[0]
            count, dtype, res, bounds, nodata = src.count, src.dtypes[0], src.res, tuple(src.bounds), src.nodata
    except (RasterioError, CPLE_BaseError) as e:
        raise InvalidInput(f"{path.name}: not a readable raster ({e})") from None
    if transform.is_identity:
        why = "georeferenced by ground control points only: rectify it first" if gcps else (
            "no georeferencing (no GeoTIFF tags, world file or grid header)")
        raise InvalidInput(f"{path.name}: {why}")
    if abs(transform.b) > 1e-12 or abs(transform.d) > 1e-12:
        raise InvalidInput(f"{path.name}: rotated grids are not supported; rectify it north-up first")
    wkt = crs.to_wkt() if crs else None
    own_epsg = crs.to_epsg() if crs and not options.srs else None
    prj = path.with_suffix(".prj")
    if options.srs:
        wkt = crs_rules.parse_user_srs(options.srs).to_wkt()
    elif wkt is None and prj.exists():
        wkt = prj.read_text(errors="replace")
    if not wkt:
        raise InvalidInput(f"{path.name}: no coordinate system (no GeoTIFF keys or .prj); give --srs, e.g. EPSG:4538")
    rec = crs_rules.recognise(wkt, path=path)
    if rec.datum not in ("CGCS2000", "WGS84"):
        raise InvalidInput(f"{path.name}: {crs_rules.DATUM_LABELS.get(rec.datum, rec.datum)} rasters need a datum "
                           "transformation; reproject them to CGCS2000 first (gdalwarp with the published parameters)")
    lonlat = transform_bounds(rec.crs.to_wkt(), "EPSG:4490", *bounds, densify_pts=21)
    crs_rules.check_region(lonlat, path=path)
    if options.nodata is not None and not _fits(options.nodata, dtype):
        raise InvalidInput(f"{path.name}: nodata {options.nodata:g} cannot occur in {dtype} data")
    if nodata is not None and not _fits(nodata, dtype):
        raise InvalidInput(f"{path.name}: the file's nodata {nodata:g} cannot occur in {dtype} data; give --nodata")
    return Source(path, rec.epsg, f"EPSG:{rec.epsg}" if rec.epsg else rec.crs.to_wkt(), count, dtype,
                  (abs(res[0]), abs(res[1])), bounds, nodata, own_crs=bool(rec.epsg) and own_epsg == rec.epsg)


def _fits(value: float, dtype: str) -> bool:
    if np.issubdtype(np.dtype(dtype), np.integer):
        info = np.iinfo(dtype)
        return float(value).is_integer() and info.min <= value <= info.max
    return np.isfinite(value) or np.isnan(value)


def _consistent(sources: list[Source]) -> None:
    first = sources[0]
    for s in sources[1:]:
        for what, a, b in (("coordinate system", first.crs_text, s.crs_text), ("band count", first.count, s.count),
                           ("data type", first.dtype, s.dtype)):
            if a != b:
                a_text = a if what != "coordinate system" or len(str(a)) < 40 else "its CRS"
                raise InvalidInput(f"mosaic: {s.path.name} has another {what} than {first.path.name} "
                                   f"({b if len(str(b)) < 40 else 'another CRS'} vs {a_text})")
        if not np.allclose(s.res, first.res, rtol=1e-6):
            raise InvalidInput(f"mosaic: {s.path.name} has cells of {s.res[0]:g} × {s.res[1]:g}, "
                               f"{first.path.name} of {first.res[0]:g} × {first.res[1]:g}")


def _derived(dem: Path, folder: Path, job_id: int, source: Source, tmp: Path, written: list[Path]) -> list:
    """Hillshade and colour relief for the basemap (gdaldem, GDAL's own tools)."""
    out = []
    geographic = source.epsg in (4490, 4326) or (source.epsg is None and "PROJCS" not in source.crs_text)
    scale = ["-s", "111120"] if geographic else []  # degrees horizontally, metres vertically
    for slug_suffix, kind, command in (
        ("hillshade", "hillshade", ["gdaldem", "hillshade", "-q", "-compute_edges", "-multidirectional", *scale]),
        ("relief", "relief", ["gdaldem", "color-relief", "-q", "-alpha", str(dem), str(RELIEF)]),
    ):
        raw = tmp / f"{kind}.tif"
        args = command + ([str(dem), str(raw)] if kind == "hillshade" else [str(raw)])
        _tool(args, dem)
        target = folder / f"{job_id}-{kind}.tif"
        written.append(target)
        cog.write_cog(raw, target, "drg")
        out.append((f"{folder.name}-{slug_suffix}", kind, target))
    return out


def _register(job, options: RasterOptions, made: list, sources: list[Source], report: Report,
              written: list[Path]):
    """All products' catalog rows in one transaction: new version current, previous retired."""
    now = timezone.now()
    extent_all = None
    with transaction.atomic():
        transaction.on_commit(written.clear)  # committed: the files belong to the catalog now
        department = _department(options) or Layer.objects.get(slug=options.layer).owner
        for slug, kind, path in made:
            with rasterio.Env(GDAL_PAM_ENABLED="NO"), rasterio.open(path) as ds:  # no .aux.xml sidecars
                meta = {"width": ds.width, "height": ds.height, "res_x": abs(ds.res[0]), "res_y": abs(ds.res[1]),
                        "bands": ds.count, "dtype": ds.dtypes[0], "nodata": ds.nodata,
                        "statistics": [_stats(s) for s in ds.stats(approx=True)]}
                bounds = transform_bounds(ds.crs, "EPSG:4490", *ds.bounds, densify_pts=21)
            layer = Layer.objects.select_for_update().filter(slug=slug).first()
            previous_extent = layer.extent.extent if layer and layer.extent else None
            if layer is None:
                layer = Layer.objects.create(
                    slug=slug, kind=Layer.Kind.RASTER, geometry_type=Layer.GeometryType.NONE, table_name=None,
                    title_zh=_title(options, kind), title_en=_title_en(options, kind), native_srid=sources[0].epsg,
                    storage_srid=sources[0].epsg or 4490, access=options.access, owner=department,
                    source=options.source, survey_date=options.survey_date, abstract=options.abstract,
                    licence=options.licence, attribution=options.attribution,
                )
                audit.record(job.user, "layer.create", layer, via="ingest", job=job.pk, file=job.source_name)
            RasterVersion.objects.filter(layer=layer, retired_at=None).update(retired_at=now)
            version = RasterVersion.objects.create(
                layer=layer, job=job.pk, kind=kind, path=str(path.relative_to(settings.RASTER_DIR)),
                native_srid=sources[0].epsg, crs_wkt="" if sources[0].epsg else sources[0].crs_text,
                size_bytes=path.stat().st_size, sources=[s.path.name for s in sources], **meta,
            )
            layer.extent = _polygon(bounds)
            layer.feature_count = 0
            if options.survey_date:
                layer.survey_date = options.survey_date
            layer.save()
            changed = versions.bbox_union(previous_extent, tuple(bounds))
            changes.announce(layer, changed, job.pk)
            audit.record(job.user, "layer.load", layer, via="ingest", job=job.pk, mode=options.mode, kind=kind)
            report.versions.append({"layer": slug, "kind": kind, "version": version.pk, "file": version.path,
                                    "width": version.width, "height": version.height, "res": [version.res_x,
                                    version.res_y], "epsg": version.native_srid, "size_bytes": version.size_bytes,
                                    "statistics": version.statistics})
            extent_all = versions.bbox_union(extent_all, changed)
    return extent_all


def _stats(s) -> dict:
    return {"min": s.min, "max": s.max, "mean": s.mean, "std": s.std}


def _department(options: RasterOptions) -> Department | None:
    if not options.department:
        if Layer.objects.filter(slug=options.layer).exists():
            return None  # only new layers need an owner
        raise InvalidInput("a new layer needs an owner: --department CODE")
    try:
        return Department.objects.get(code=options.department)
    except Department.DoesNotExist:
        raise InvalidInput(f"unknown department {options.department!r}") from None


_KIND_ZH = {"dom": "正射影像", "dem": "数字高程模型", "drg": "数字栅格地图", "hillshade": "山体阴影", "relief": "分层设色"}
_KIND_EN = {"dom": "orthophoto", "dem": "elevation model", "drg": "scanned map", "hillshade": "hillshade",
            "relief": "colour relief"}


def _title(options: RasterOptions, kind: str) -> str:
    base = options.title_zh or options.layer
    return base if kind == options.kind else f"{base}（{_KIND_ZH[kind]}）"


def _title_en(options: RasterOptions, kind: str) -> str:
    base = options.title_en or options.layer
    return base if kind == options.kind else f"{base} ({_KIND_EN[kind]})"


def _polygon(box):
    if not box:
        return None
    poly = Polygon.from_bbox(tuple(box))
    poly.srid = 4490
    return poly


def rollback(job: IngestJob, user=None) -> IngestJob:
    """Undo a raster load: its versions go, the versions it retired come back; a load that created
    the layers removes them. Refused while a later load of the same layers is current."""
    with transaction.atomic():
        mine = list(RasterVersion.objects.select_for_update().filter(job=job.pk).select_related("layer"))
        if not mine:
            raise NotFound(f"job {job.pk} has no raster versions (already rolled back?)")
        for v in mine:
            if v.retired_at is not None:
                raise Conflict(f"layer {v.layer.slug} was loaded again after job {job.pk}; roll that back first")
        for v in mine:
            layer = v.layer
            before = (RasterVersion.objects.filter(layer=layer, id__lt=v.pk).exclude(job=job.pk)
                      .order_by("-id").first())
            v.delete()  # its file goes on commit (layers.signals)
            if before is None:
                audit.record(user, "layer.delete", layer, via="ingest", job=job.pk, reason="rollback")
                layer.delete()
                continue
            before.retired_at = None
            before.save(update_fields=["retired_at"])
            with rasterio.open(before.absolute_path) as ds:
                layer.extent = _polygon(transform_bounds(ds.crs, "EPSG:4490", *ds.bounds, densify_pts=21))
            layer.save()
            changes.announce(layer, None, job.pk)
            audit.record(user, "layer.rollback", layer, via="ingest", job=job.pk)
        IngestJob.objects.filter(pk=job.pk).update(status=IngestJob.Status.ROLLED_BACK)
    job.refresh_from_db()
    return job
