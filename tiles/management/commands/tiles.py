"""geoplatform tiles seed --layer SLUG --zoom 0-14 [--bbox lon0,lat0,lon1,lat1] [--force] [--raster]
geoplatform tiles seed --layer basemap --zoom 0-16 [--bbox …] [--grid …]   (the combined raster basemap)"""

import sys

from django.core.management.base import BaseCommand, CommandError

from layers.management.lookups import layer_with_slug
from tiles import cache, vector
from tiles.grid import MAX_ZOOM, tile_range


def _zooms_and_bbox(o) -> tuple[range, tuple | None]:
    try:
        z0, _, z1 = o["zoom"].partition("-")
        zooms = range(int(z0), int(z1 or z0) + 1)
        bbox = tuple(float(v) for v in o["bbox"].split(",")) if o["bbox"] else None
    except ValueError:
        raise CommandError("--zoom is N or N-M, --bbox is lon0,lat0,lon1,lat1", returncode=2) from None
    return zooms, bbox


class Command(BaseCommand):
    help = "Vector tile cache: `tiles seed` renders a layer's tiles ahead of requests; `tiles clear` empties its cache."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        seed = sub.add_parser("seed", help="render and cache tiles")
        seed.add_argument("--layer", required=True)
        seed.add_argument("--zoom", default="0-14", help="a level or a range, e.g. 0-14")
        seed.add_argument("--bbox", help="lon0,lat0,lon1,lat1 (default: the layer's extent)")
        seed.add_argument("--force", action="store_true", help="render again even if cached")
        seed.add_argument("--raster", action="store_true",
                          help="seed MapProxy's raster tiles (public layers) instead of the vector tiles")
        seed.add_argument("--grid", action="append", help="raster grid(s): GLOBAL_WEBMERCATOR, cgcs2000_c (default both)")
        clear = sub.add_parser("clear", help="remove a layer's cached tiles")
        clear.add_argument("--layer", required=True)

    def handle(self, *args, action, **o):
        from tiles.mapproxy.config import BASEMAP

        if action == "seed" and (o["raster"] or o["layer"] == BASEMAP):
            return self.seed_raster(o)
        layer = layer_with_slug(o["layer"])
        if action == "clear":
            self.stdout.write(f"removed {cache.invalidate(layer.slug, None)} tiles of {layer.slug}")
            return
        zooms, bbox = _zooms_and_bbox(o)
        bbox = bbox or (layer.extent.extent if layer.extent else None)
        if bbox is None or len(bbox) != 4 or zooms.start < 0 or zooms.stop - 1 > MAX_ZOOM:
            raise CommandError("nothing to seed: give --bbox (and zooms 0–22)", returncode=2)
        ranges = [(z, tile_range(bbox, z)) for z in zooms]
        total = sum((x1 - x0 + 1) * (y1 - y0 + 1) for _z, (x0, y0, x1, y1) in ranges)
        from tqdm import tqdm

        rendered = 0
        with tqdm(total=total, unit=" tiles", file=sys.stderr, disable=not sys.stderr.isatty()) as bar:
            for z, (x0, y0, x1, y1) in ranges:
                for x in range(x0, x1 + 1):
                    for y in range(y0, y1 + 1):
                        if o["force"] or cache.get(layer, z, x, y) is None:
                            cache.put(layer, z, x, y, vector.render(layer, z, x, y))
                            rendered += 1
                        bar.update(1)
        self.stdout.write(f"{layer.slug}: {total} tiles in zooms {zooms.start}-{zooms.stop - 1}, {rendered} rendered")

    def seed_raster(self, o):
        """MapProxy's cache of a public layer or of the basemap (tiles.mapproxy.seed)."""
        from layers.errors import PlatformError
        from tiles.mapproxy.seed import seed_layer

        zooms, bbox = _zooms_and_bbox(o)
        if bbox is not None and len(bbox) != 4:
            raise CommandError("--bbox is lon0,lat0,lon1,lat1", returncode=2)
        try:
            where = seed_layer(o["layer"], zooms, bbox, o["grid"])
        except PlatformError as exc:
            raise CommandError(str(exc), returncode=exc.exit_code) from exc
        self.stdout.write(f"{o['layer']}: raster tiles of zooms {zooms.start}-{zooms.stop - 1} seeded into {where}")
