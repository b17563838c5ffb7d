"""geoplatform ingest-raster PATH --layer SLUG [--kind dom|dem|drg] [--srs CRS] [--nodata V] [--access …]

PATH: a GeoTIFF (or TIFF + .tfw/.prj), ESRI ASCII grid, JPEG2000, IMG, or a folder/zip of tiles
of one product (a mosaic). Exit status: 0 loaded, 2 input refused (file and reason named), 1 error.
`geoplatform ingest rollback JOB` undoes a raster load as it does a vector one.
"""

from datetime import date
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from ingest.raster import cog, pipeline
from layers.errors import PlatformError
from layers.management.lookups import user_named
from layers.models import Access


class Command(BaseCommand):
    help = ("Load an orthophoto (dom), elevation model (dem) or scanned map (drg) as a Cloud-Optimised GeoTIFF "
            "raster layer; DEMs also get hillshade and colour-relief layers. Exit 0 loaded, 2 refused, 1 error.")

    def add_arguments(self, parser):
        parser.add_argument("path", type=Path)
        parser.add_argument("--layer", required=True)
        parser.add_argument("--kind", choices=cog.KINDS, default="dem")
        parser.add_argument("--mode", choices=pipeline.MODES, default="create",
                            help="create a layer, or replace its current version (the old one is kept)")
        parser.add_argument("--srs", help="CRS when the file has none or a wrong one, e.g. EPSG:4538")
        parser.add_argument("--nodata", type=float, help="the value of cells without data")
        parser.add_argument("--access", choices=Access.values, default=Access.INTERNAL)
        parser.add_argument("--department", help="owner department code of a new layer")
        parser.add_argument("--title", default="")
        parser.add_argument("--title-en", default="")
        parser.add_argument("--source", default="")
        parser.add_argument("--survey-date", type=date.fromisoformat)
        parser.add_argument("--no-derived", action="store_true", help="DEM without hillshade and colour relief")
        parser.add_argument("--by", help="user recorded as having made the load")

    def execute(self, *args, **options):
        try:
            return super().execute(*args, **options)
        except PlatformError as exc:
            raise CommandError(str(exc), returncode=exc.exit_code) from exc

    def handle(self, *args, path, **o):
        options = pipeline.RasterOptions(
            layer=o["layer"], kind=o["kind"], mode=o["mode"], srs=o["srs"], nodata=o["nodata"], access=o["access"],
            department=o["department"], title_zh=o["title"], title_en=o["title_en"], source=o["source"],
            survey_date=o["survey_date"], derived=not o["no_derived"],
        )
        job = pipeline.create_job(path, options, user_named(o["by"], optional=True))
        report = pipeline.run(job, path, options)
        for v in report.versions:
            self.stdout.write(f"{v['layer']}: {v['kind']} {v['width']}×{v['height']} cells of {v['res'][0]:g} "
                              f"(EPSG:{v['epsg']}), {v['size_bytes'] / 2**20:.1f} MB COG")
        self.stdout.write(f"job {job.pk}: loaded {len(report.versions)} raster layer(s) from "
                          f"{len(report.sources)} file(s)")
