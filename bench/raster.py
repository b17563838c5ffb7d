"""Benchmark: raster ingest (DEM → Cloud-Optimised GeoTIFF) against gdal_translate, and uncached tiles.

    .venv/bin/python bench/raster.py                    # what make bench runs: 20,000 × 20,000 cells, 1 round
    .venv/bin/python bench/raster.py --repeat 2 --no-server
    .venv/bin/python bench/raster.py --breakdown        # + write_cog alone and the anchor's options via rasterio
    .venv/bin/python bench/raster.py --size 2048 --tiles 50 --max-wait 60   # a quick check of the bench itself

The test DEM (generated once, fixed seed, in a child process, cached under .data/bench/raster/)
is a single-band float32 GeoTIFF of SIZE × SIZE cells of 1 m in EPSG:4538 (CGCS2000 3-degree GK
CM 87E, short eastings; Korla, north-west corner E 420 000, N 4 630 000), tiled 512 × 512, DEFLATE
with the floating-point predictor, nodata -9999: a smooth surface (a tilted plane plus six
sinusoidal relief components of 0.3-9 km wavelength, about 874-1,099 m) plus Gaussian noise
(σ 5 cm, the roughness of a survey DEM).

(a) COG creation, each path one child process timed from outside (GNU time gives peak RSS):
- ours: `geoplatform ingest-raster FILE --layer bench-dem --kind dem --department bench --no-derived`:
  checks, gdalbuildvrt, the COG driver through rasterio (ingest/raster/cog.py's DEM profile),
  rio-cogeo validation, catalog rows; Django start included. Falls back to
  `ingest.raster.cog.write_cog` + `validate` in a child Python when the command is missing.
- anchor: `gdal_translate -of COG -co COMPRESS=DEFLATE -co PREDICTOR=3 -co BLOCKSIZE=512
  -co OVERVIEWS=AUTO -co NUM_THREADS=ALL_CPUS FILE out.tif` (the system GDAL).
Both outputs are checked with rio_cogeo's cog_validate and compared (size, overviews, a
full-resolution window must be identical: both are lossless). Paths alternate round by round.
The bench layer (and its COG) is deleted after each round, so reruns work.

(b) Uncached 256 px tiles at the deepest (native-resolution) WebMercator zoom: for random tile
addresses fully inside the raster, open the COG, build a rasterio WarpedVRT onto the tile's
EPSG:3857 grid (bilinear) and read it, as a tile renderer does (rio-tiler style); p50/p95/max.
No two tiles share a 4 × 4 metatile and the dataset is reopened per tile, so no GDAL block and
no stored tile is reused (the OS page cache may still hold the file, which was just written). If
the platform's WMTS lists the layer (`geoplatform serve --port 8765 --no-jobs`, started and
stopped by the bench; the layer is made public for it, untimed), the same addresses are fetched
through it too (GET of the WMTS REST URL, one at a time). Then the renderer behind it alone, run
as MapProxy's mapserver source runs it (a CGI call with QUERY_STRING on the generated mapfile):
cold (`mapserv` itself, a process per call) and warm (the generated `mapserv-cgi` with a render
pool of 2 running), for a bare 256 px tile (what a raster layer's tile costs), 416 px (1 × 1 + 80 px:
an internal vector layer's request) and 1184 px (4 × 4 + 80 px: a public vector layer's metatile).

Machine load: before each timing the bench waits (up to 10 min) while a pytest or another
bench (any bench/*.py but this one) runs, and it reports how much CPU other processes used during each timing (from
/proc/stat minus the child's own CPU time), on this 2-core shared machine.
The summary's medians leave out disturbed loads (a pytest or bench seen, or other processes using
0.25 cores or more on average).
A benchmark reports, it does not assert: the exit status is 0 unless a path fails or an
output is not a valid COG or the outputs differ.
"""

import argparse
import os
import random
import re
import resource
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SEED = 20261125
EPSG = 4538
ORIGIN = (420_000.0, 4_630_000.0)  # north-west corner, easting/northing (m)
RES = 1.0
NODATA = -9999.0
SLUG = "bench-dem"
SLUGS = [SLUG, f"{SLUG}-hillshade", f"{SLUG}-relief"]
PORT = 8765
TIME = Path("/usr/bin/time")
QUIET_PATTERN = r"pytest|bench/[A-Za-z0-9_]+\.py"  # any other bench
QUIET_WAIT = 600
DISTURBED = 0.25  # cores used by other processes during a load that make it "disturbed"
ANCHOR_OPTS = ["-co", "COMPRESS=DEFLATE", "-co", "PREDICTOR=3", "-co", "BLOCKSIZE=512",
               "-co", "OVERVIEWS=AUTO", "-co", "NUM_THREADS=ALL_CPUS"]


def data_dir() -> Path:
    return Path(os.environ.get("GEOPLATFORM_DATA_DIR", ROOT / ".data")) / "bench" / "raster"


def dataset_path(size: int) -> Path:
    return data_dir() / f"dem-{size}-seed{SEED}.tif"


def cli() -> str:
    beside = Path(sys.executable).parent / "geoplatform"
    return str(beside if beside.exists() else ROOT / ".venv" / "bin" / "geoplatform")


def log(msg: str = "") -> None:
    print(msg, flush=True)


# ---------------------------------------------------------------------------- test data

def generate(path: Path, size: int) -> None:
    """Write the test DEM block row by block row (atomically: a temporary file renamed into place)."""
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin
    from rasterio.windows import Window

    rng = np.random.default_rng(SEED)
    # (amplitude m, wavelength m, direction deg); phases random
    comps = [(40.0, 9000.0, 20.0), (25.0, 5200.0, 115.0), (12.0, 2300.0, 65.0), (6.0, 1100.0, 160.0),
             (2.5, 600.0, 35.0), (1.0, 300.0, 95.0)]
    phases = rng.uniform(0, 2 * np.pi, len(comps))
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tif")
    profile = {"driver": "GTiff", "width": size, "height": size, "count": 1, "dtype": "float32",
               "crs": f"EPSG:{EPSG}", "transform": from_origin(*ORIGIN, RES, RES), "nodata": NODATA,
               "tiled": True, "blockxsize": 512, "blockysize": 512, "compress": "deflate", "predictor": 3,
               "bigtiff": "if_safer", "num_threads": "all_cpus"}
    x = (np.arange(size) + 0.5) * RES  # metres east of the west edge
    block = 512
    with rasterio.open(tmp, "w", **profile) as ds:
        for r0 in range(0, size, block):
            h = min(block, size - r0)
            y = (r0 + np.arange(h) + 0.5) * RES  # metres south of the north edge
            z = 1000.0 + 0.002 * x[None, :] - 0.003 * y[:, None]
            for (amp, lam, deg), phi in zip(comps, phases):
                kx, ky = 2 * np.pi * np.cos(np.radians(deg)) / lam, 2 * np.pi * np.sin(np.radians(deg)) / lam
                # sin(kx x + ky y + phi), separated into outer products (cheap)
                z += amp * (np.outer(np.cos(ky * y + phi), np.sin(kx * x)) + np.outer(np.sin(ky * y + phi), np.cos(kx * x)))
            z = z.astype(np.float32)
            z += rng.standard_normal(z.shape, np.float32) * np.float32(0.05)
            ds.write(z, 1, window=Window(0, r0, size, h))
    tmp.replace(path)


# ---------------------------------------------------------------------------- processes and load

def busy_jiffies() -> tuple[int, int]:
    """(busy, total) clock ticks of all CPUs so far, from /proc/stat."""
    with open("/proc/stat") as f:
        parts = [int(v) for v in f.readline().split()[1:]]
    idle = parts[3] + (parts[4] if len(parts) > 4 else 0)
    total = sum(parts[:8])
    return total - idle, total


def others_running() -> bool:
    """A pytest or another bench (not this one) is running."""
    r = subprocess.run(["pgrep", "-af", QUIET_PATTERN], capture_output=True, text=True)
    mine = {os.getpid(), os.getppid()}
    for line in r.stdout.splitlines():
        pid, _, cmd = line.partition(" ")
        if int(pid) not in mine and "bench/raster.py" not in cmd:
            return True
    return False


def wait_for_quiet_cpu() -> None:
    waited = 0
    while others_running() and waited < QUIET_WAIT:
        if waited == 0:
            log("  (a pytest or another bench is running: waiting for it to finish …)")
        time.sleep(15)
        waited += 15
    if waited >= QUIET_WAIT and others_running():
        log(f"  warning: still running after {QUIET_WAIT} s; timing anyway")


def run_child(cmd: list[str], env: dict | None = None) -> dict:
    """Run and time one child; returns code, out, err, seconds, peak RSS (KiB), its CPU seconds,
    the other processes' average CPU use (cores) meanwhile, and whether a pytest/bench was seen."""
    measure = TIME.exists()
    full = [str(TIME), "-f", "__maxrss_kib=%M", *cmd] if measure else cmd
    seen, done = [], threading.Event()

    def watch():
        while not done.wait(2.0):
            if others_running():
                seen.append(True)
                return

    watcher = threading.Thread(target=watch, daemon=True)
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    b0, _ = busy_jiffies()
    start = time.perf_counter()
    watcher.start()
    proc = subprocess.run(full, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    seconds = time.perf_counter() - start
    b1, _ = busy_jiffies()
    done.set()
    watcher.join()
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    hz = os.sysconf("SC_CLK_TCK")
    others = max(0.0, ((b1 - b0) / hz - cpu) / seconds) if seconds > 0 else 0.0
    out, err, maxrss = proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace"), None
    if measure:
        lines = err.rstrip("\n").split("\n")
        if lines and lines[-1].startswith("__maxrss_kib="):
            maxrss = int(lines.pop()[len("__maxrss_kib="):])
            err = "\n".join(lines)
    return {"code": proc.returncode, "out": out, "err": err, "s": seconds, "rss": maxrss, "cpu": cpu,
            "others": others, "busy": bool(seen)}


# ---------------------------------------------------------------------------- COG checks

def describe(path: Path) -> dict:
    import rasterio
    from rio_cogeo.cogeo import cog_validate

    valid, errors, warnings = cog_validate(str(path), quiet=True)
    with rasterio.open(path) as ds:
        info = {"size": path.stat().st_size, "valid": valid, "errors": errors, "warnings": warnings,
                "overviews": ds.overviews(1), "block": ds.block_shapes[0], "shape": (ds.height, ds.width),
                "compress": str(ds.compression.value if ds.compression else None),
                "predictor": ds.tags(ns="IMAGE_STRUCTURE").get("PREDICTOR")}
    return info


def same_pixels(a: Path, b: Path) -> bool:
    import numpy as np
    import rasterio
    from rasterio.windows import Window

    with rasterio.open(a) as da, rasterio.open(b) as db:
        if (da.width, da.height, da.transform, da.crs) != (db.width, db.height, db.transform, db.crs):
            return False
        h, w = da.height, da.width
        for r, c in ((0, 0), (h // 2, w // 2), (max(h - 700, 0), max(w - 700, 0))):
            win = Window(c, r, min(700, w - c), min(700, h - r))
            if not np.array_equal(da.read(1, window=win), db.read(1, window=win), equal_nan=True):
                return False
    return True


# ---------------------------------------------------------------------------- tiles

def tile_addresses(path: Path, n: int) -> tuple[int, list]:
    """The native-resolution WebMercator zoom and n random tiles lying wholly inside the raster,
    no two in the same 4 × 4 metatile."""
    import morecantile
    import rasterio
    from rasterio.warp import calculate_default_transform, transform_bounds
    from shapely.geometry import box

    tms = morecantile.tms.get("WebMercatorQuad")
    with rasterio.open(path) as src:
        transform, _, _ = calculate_default_transform(src.crs, "EPSG:3857", src.width, src.height, *src.bounds)
        zoom = tms.zoom_for_res(transform.a)
        lonlat = transform_bounds(src.crs, "EPSG:4326", *src.bounds, densify_pts=21)
        inside = box(*src.bounds)
        crs = src.crs
    candidates = list(tms.tiles(*lonlat, zooms=[zoom]))
    rng = random.Random(SEED)
    rng.shuffle(candidates)
    picked, metatiles = [], set()
    for t in candidates:
        if (t.x // 4, t.y // 4) in metatiles:
            continue  # one tile per 4 × 4 metatile: a public layer's server renders and stores whole metatiles
        xy = tms.xy_bounds(t)
        tb = transform_bounds("EPSG:3857", crs, xy.left, xy.bottom, xy.right, xy.top, densify_pts=8)
        if inside.contains(box(*tb)):
            picked.append(t)
            metatiles.add((t.x // 4, t.y // 4))
            if len(picked) == n:
                break
    return zoom, picked


def read_tiles(path: Path, tiles: list, warmup: int = 3) -> list[float]:
    """Milliseconds per tile: open, WarpedVRT onto the tile's 256 × 256 EPSG:3857 grid, read."""
    import morecantile
    import rasterio
    from rasterio.enums import Resampling
    from rasterio.transform import from_bounds
    from rasterio.vrt import WarpedVRT

    tms = morecantile.tms.get("WebMercatorQuad")
    times = []
    for i, t in enumerate(tiles):
        xy = tms.xy_bounds(t)
        start = time.perf_counter()
        with rasterio.open(path) as src:
            with WarpedVRT(src, crs="EPSG:3857", transform=from_bounds(*xy, 256, 256), width=256, height=256,
                           resampling=Resampling.bilinear, nodata=src.nodata) as vrt:
                data = vrt.read(1)
        ms = (time.perf_counter() - start) * 1000
        if data.shape != (256, 256) or (data == NODATA).all():
            raise RuntimeError(f"tile {t} of {path.name}: no data read")
        if i >= warmup:
            times.append(ms)
    return times


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q / 100 * len(s) + 0.5) - 1))]


# ---------------------------------------------------------------------------- server

class Server:
    """`geoplatform serve --port PORT --no-jobs` in its own process group, stopped by its pid."""

    def __init__(self, port: int, log_path: Path):
        self.port, self.log_path, self.proc = port, log_path, None

    def start(self, timeout: float = 90) -> bool:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", self.port)) == 0:
                raise RuntimeError(f"port {self.port} is already in use")
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen([cli(), "serve", "--port", str(self.port), "--no-jobs", "--workers", "2"],
                                     stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/", timeout=5):
                    return True
            except urllib.error.HTTPError:
                return True
            except OSError:
                time.sleep(0.5)
        return False

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # the group this bench started, by its pid
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self.proc:
            self.log.close()


def wmts_template(port: int, slug: str) -> tuple[str | None, str]:
    """The REST ResourceURL template of `slug` in the WebMercator matrix set (with {TileMatrix}
    already mapped for the zoom levels as {z:NN}), or None and why."""
    url = f"http://127.0.0.1:{port}/tiles/wmts/1.0.0/WMTSCapabilities.xml"
    try:
        with urllib.request.urlopen(url, timeout=60) as r:
            xml = r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return None, f"capabilities: HTTP {e.code}"
    except OSError as e:
        return None, f"capabilities: {e}"
    import xml.etree.ElementTree as ET

    ns = {"w": "http://www.opengis.net/wmts/1.0", "ows": "http://www.opengis.net/ows/1.1"}
    root = ET.fromstring(xml)
    names = []
    for layer in root.iterfind(".//w:Contents/w:Layer", ns):
        ident = layer.findtext("ows:Identifier", namespaces=ns)
        names.append(ident)
        if ident != slug:
            continue
        sets = [s.findtext("w:TileMatrixSet", namespaces=ns) for s in layer.iterfind("w:TileMatrixSetLink", ns)]
        mercator = next((s for s in sets if s and "MERCATOR" in s.upper() or s == "w"), None)
        matrices = []
        for tms in root.iterfind(".//w:Contents/w:TileMatrixSet", ns):
            if tms.findtext("ows:Identifier", namespaces=ns) == mercator:
                matrices = [m.findtext("ows:Identifier", namespaces=ns) for m in tms.iterfind("w:TileMatrix", ns)]
        for res in layer.iterfind("w:ResourceURL", ns):
            if res.get("resourceType") == "tile" and mercator and matrices:
                return res.get("template").replace("{TileMatrixSet}", mercator) + "#" + ",".join(matrices), ""
        return None, f"{slug} is listed but has no WebMercator tile template (matrix sets {sets})"
    return None, f"{slug} is not in the WMTS capabilities ({len(names)} layers listed: raster layers not served yet)"


def fetch_tiles(template: str, tiles: list) -> tuple[list[float], int]:
    template, _, matrices = template.partition("#")
    ids = matrices.split(",")  # the matrix set's levels in order, from zoom 0
    times, bad = [], 0
    for t in tiles:
        url = (template.replace("{TileMatrix}", ids[t.z] if t.z < len(ids) else str(t.z))
               .replace("{TileCol}", str(t.x)).replace("{TileRow}", str(t.y)))
        start = time.perf_counter()
        try:
            with urllib.request.urlopen(url, timeout=60) as r:
                body = r.read()
                ok = r.status == 200 and len(body) > 0
        except OSError:
            ok = False
        times.append((time.perf_counter() - start) * 1000)
        bad += 0 if ok else 1
    return times, bad


# ---------------------------------------------------------------------------- main

def main() -> int:
    global QUIET_WAIT
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=20_000, help="cells per side of the test DEM (default 20000)")
    parser.add_argument("--repeat", type=int, default=1, help="rounds of both COG paths (default 1)")
    parser.add_argument("--tiles", type=int, default=100, help="tile addresses for (b) (default 100, at least 50)")
    parser.add_argument("--no-server", action="store_true", help="skip the tile measurement through the server")
    parser.add_argument("--max-wait", type=int, default=QUIET_WAIT,
                        help=f"seconds to wait for a pytest or another bench before each timing (default {QUIET_WAIT})")
    parser.add_argument("--breakdown", action="store_true",
                        help="also time ingest.raster.cog.write_cog alone and gdal_translate's options through "
                             "rasterio's GDAL (where our time goes)")
    parser.add_argument("--keep", action="store_true", help="keep the COGs written (the layer is still deleted)")
    parser.add_argument("--generate-only", metavar="PATH", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.size < 1024 or args.repeat < 1 or args.tiles < 1:
        parser.error("--size must be at least 1024, --repeat and --tiles at least 1")
    if args.generate_only:
        generate(Path(args.generate_only), args.size)
        return 0
    QUIET_WAIT = args.max_wait

    path = dataset_path(args.size)
    if not path.exists():
        log(f"generating a {args.size:,} × {args.size:,} float32 DEM (EPSG:{EPSG}) into {path} …")
        r = run_child([sys.executable, __file__, "--size", str(args.size), "--generate-only", str(path)])
        if r["code"] != 0:
            print(r["err"], file=sys.stderr)
            print("error: could not generate the test DEM", file=sys.stderr)
            return 1
        log(f"  done in {r['s']:.1f} s")
    log(f"input: {path} ({path.stat().st_size / 2**20:,.0f} MB, {args.size:,} × {args.size:,} float32, "
        f"{args.size * args.size * 4 / 2**20:,.0f} MB uncompressed)")

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "geoplatform.settings")
    import django

    django.setup()
    from django.conf import settings

    from layers.models import RasterVersion

    work = data_dir()
    command_file = ROOT / "ingest" / "management" / "commands" / "ingest_raster.py"
    have_cli = command_file.exists() and "--no-derived" in command_file.read_text()
    gp = cli()
    anchor_out = work / "anchor-cog.tif"
    fallback_out = work / "ours-cog.tif"

    def delete_layers() -> list[str]:
        """Delete the bench layers as an operator would; returns files their deletion left behind."""
        files = [v.absolute_path for v in RasterVersion.objects.filter(layer__slug__in=SLUGS)]
        code = ("from layers.models import Layer; "
                f"print(Layer.objects.filter(slug__in={SLUGS!r}).delete())")
        r = subprocess.run([gp, "shell", "-c", code], capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"deleting the bench layers failed: {r.stderr.strip()[-1000:]}")
        left = [str(f) for f in files if Path(f).exists()]
        for f in left:
            Path(f).unlink(missing_ok=True)
        return left

    def ours_cmd() -> list[str]:
        if have_cli:
            return [gp, "ingest-raster", str(path), "--layer", SLUG, "--kind", "dem", "--department", "bench",
                    "--no-derived"]
        code = ("import os, sys, django; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'geoplatform.settings'); "
                f"sys.path.insert(0, {str(ROOT)!r}); django.setup(); from pathlib import Path; "
                "from ingest.raster.cog import write_cog, validate; "
                f"validate(write_cog(Path({str(path)!r}), Path({str(fallback_out)!r}), 'dem'))")
        return [sys.executable, "-c", code]

    def anchor_cmd() -> list[str]:
        return ["gdal_translate", "-of", "COG", *ANCHOR_OPTS, str(path), str(anchor_out)]

    # --breakdown: where our time goes. Both in a plain child Python with rasterio's GDAL, from the file.
    extra_out = {"write_cog": work / "write_cog.tif", "gdal_translate@rio": work / "anchor-rio.tif"}
    anchor_kw = ", ".join(f"{k}={v!r}" for k, v in (o.split("=") for o in ANCHOR_OPTS[1::2]))
    extra_cmd = {
        "write_cog": [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(ROOT)!r}); from pathlib import Path; "
                      f"from ingest.raster.cog import write_cog; write_cog(Path({str(path)!r}), "
                      f"Path({str(extra_out['write_cog'])!r}), 'dem')"],
        "gdal_translate@rio": [sys.executable, "-c", "import rasterio, rasterio.shutil; rasterio.shutil.copy("
                               f"{str(path)!r}, {str(extra_out['gdal_translate@rio'])!r}, driver='COG', {anchor_kw})"],
    }

    leftovers = delete_layers()
    if leftovers:
        log(f"note: removed files of an earlier run's bench layer: {leftovers}")
    if have_cli:
        r = subprocess.run([gp, "departments", "create", "bench", "基准测试", "--name-en", "Benchmarks"],
                           capture_output=True, text=True)
        if r.returncode != 0 and "exist" not in (r.stderr + r.stdout):
            print(r.stderr, file=sys.stderr)
            print("error: could not create the department `bench`", file=sys.stderr)
            return 1
    log(f"ours: {' '.join(ours_cmd()) if have_cli else 'ingest.raster.cog.write_cog + validate in a child Python '}"
        + ("" if have_cli else "(the ingest-raster command is not there yet)"))
    log(f"anchor: {' '.join(anchor_cmd())}")
    gdal_cli = subprocess.run(["gdal_translate", "--version"], capture_output=True, text=True).stdout.strip()
    import rasterio
    import rio_cogeo

    log(f"GDAL: ours rasterio {rasterio.__version__} / GDAL {rasterio.__gdal_version__}, "
        f"rio-cogeo {rio_cogeo.__version__}; anchor {gdal_cli}")

    names = ["ours", "gdal_translate"] + (list(extra_cmd) if args.breakdown and have_cli else [])
    results = {name: [] for name in names}
    ours_cog = None
    tile_report = {}
    server_report = None
    failed = False
    for rnd in range(args.repeat):
        order = names if rnd % 2 == 0 else names[::-1]  # alternate which path goes first
        for name in order:
            wait_for_quiet_cpu()
            if name == "ours":
                r = run_child(ours_cmd())
                if r["code"] != 0:
                    print(f"error: ours exited {r['code']}: {r['err'].strip()[-2000:]}", file=sys.stderr)
                    delete_layers()
                    return 1
                if have_cli:
                    v = RasterVersion.objects.filter(layer__slug=SLUG, retired_at=None).first()
                    if v is None:
                        print("error: ingest-raster succeeded but left no current version", file=sys.stderr)
                        return 1
                    out = Path(v.absolute_path)
                    m = re.search(r"^job (\d+):", r["out"], re.M)
                    r["job"] = int(m.group(1)) if m else v.job
                else:
                    out = fallback_out
            else:
                out = anchor_out if name == "gdal_translate" else extra_out[name]
                out.unlink(missing_ok=True)
                r = run_child(anchor_cmd() if name == "gdal_translate" else extra_cmd[name])
                if r["code"] != 0:
                    print(f"error: {name} exited {r['code']}: {r['err'].strip()[-2000:]}", file=sys.stderr)
                    return 1
            r["info"] = describe(out)
            r["path"] = out
            results[name].append(r)
            log(f"round {rnd + 1}  {name:<18} {r['s']:7.1f} s  CPU {r['cpu']:6.1f} s  peak RSS "
                f"{(r['rss'] or 0) / 1024:6.0f} MB  {r['info']['size'] / 2**20:7.1f} MB  "
                f"COG valid: {r['info']['valid']}  others used {r['others']:.2f} cores"
                + ("  [pytest/bench seen]" if r["busy"] else ""))
            if not r["info"]["valid"]:
                log(f"  errors: {r['info']['errors']}")
                failed = True

        ours_last, anchor_last = results["ours"][-1], results["gdal_translate"][-1]
        identical = same_pixels(ours_last["path"], anchor_last["path"])
        ours_last["identical"] = identical
        if not identical:
            log("  the two COGs differ at full resolution (size, georeferencing or values)")
            failed = True

        if rnd == args.repeat - 1:
            # (b) tiles, while our COG (and the layer) still exist.
            ours_cog = ours_last["path"]
            zoom, tiles = tile_addresses(ours_cog, args.tiles + 3)
            log(f"tiles: zoom {zoom} (native resolution), {len(tiles) - 3} random addresses + 3 warm-up, "
                "open + WarpedVRT(EPSG:3857, bilinear) + read 256 × 256 per tile")
            for name, r in (("ours", ours_last), ("gdal_translate", anchor_last)):
                wait_for_quiet_cpu()
                b0, t0 = busy_jiffies(), time.perf_counter()
                cpu0 = time.process_time()
                ms = read_tiles(r["path"], tiles)
                wall = time.perf_counter() - t0
                others = max(0.0, ((busy_jiffies()[0] - b0[0]) / os.sysconf("SC_CLK_TCK")
                                   - (time.process_time() - cpu0)) / wall)
                tile_report[name] = {"n": len(ms), "p50": statistics.median(ms), "p95": pct(ms, 95),
                                     "max": max(ms), "mean": statistics.fmean(ms), "others": others}
                t = tile_report[name]
                log(f"  {name:<15} p50 {t['p50']:6.1f} ms  p95 {t['p95']:6.1f} ms  max {t['max']:6.1f} ms  "
                    f"(n={t['n']}, others used {others:.2f} cores)")
            if have_cli and not args.no_server:
                server_report = through_server(gp, tiles[3:], work)
                log(f"  server (WMTS, layer public) {server_report.get('note') or ''}"
                    + (f"p50 {server_report['p50']:.1f} ms  p95 {server_report['p95']:.1f} ms  max "
                       f"{server_report['max']:.1f} ms, {server_report['bad']} failed" if "p50" in server_report else ""))
                for label, m in server_report.get("mapserv", {}).items():
                    log(f"  mapserv alone, {label}: " + (f"p50 {m['p50']:.1f} ms  p95 {m['p95']:.1f} ms (n={m['n']})"
                                                         if isinstance(m, dict) else m))
        if have_cli:
            left = delete_layers()
            if left:
                log(f"  note: deleting the layer left {left} behind; the bench removed it")
            try:
                (Path(settings.RASTER_DIR) / SLUG).rmdir()  # the layer's folder, if deleting left it empty
            except OSError:
                pass
        if not args.keep:
            for f in [anchor_out, fallback_out, *extra_out.values()]:
                f.unlink(missing_ok=True)

    disturbed: set[str] = set()

    def med(name, key="s"):
        """Median over the undisturbed loads (no pytest/bench seen, other processes below
        DISTURBED cores); over all loads, with a warning, if every one was disturbed."""
        clean = [r[key] for r in results[name] if not r["busy"] and r["others"] < DISTURBED]
        if not clean:
            disturbed.add(name)
        return statistics.median(clean or [r[key] for r in results[name]])

    o, g = med("ours"), med("gdal_translate")
    log("")
    log(f"{'path':<18} {'seconds':>8} {'CPU s':>7} {'RSS MB':>7} {'COG MB':>8} {'valid':>6} {'compression':<16} overviews")
    for name in names:
        info = results[name][-1]["info"]
        log(f"{name:<18} {med(name):>8.1f} {med(name, 'cpu'):>7.1f} "
            f"{max((r['rss'] or 0) for r in results[name]) / 1024:>7.0f} {info['size'] / 2**20:>8.1f} "
            f"{str(info['valid']):>6} {info['compress'] + ' pred. ' + str(info['predictor']):<16} {info['overviews']}")
    log("")
    log(f"time ratio ours/gdal_translate (medians of undisturbed loads): {o / g:.2f}  (target ≤ 1.20: {'met' if o / g <= 1.2 else 'NOT met'})")
    log(f"full-resolution pixels identical: {results['ours'][-1].get('identical')}")
    if tile_report:
        t = tile_report["ours"]
        log(f"uncached tile p95 (our COG): {t['p95']:.1f} ms  (target < 100 ms: {'met' if t['p95'] < 100 else 'NOT met'})")
    if server_report and "p95" in server_report:
        log(f"through the server: p95 {server_report['p95']:.1f} ms")
    log(f"machine: {os.cpu_count()} CPUs, load average now {', '.join(f'{v:.2f}' for v in os.getloadavg())}")
    n_bad = sum(r["busy"] or r["others"] >= DISTURBED for rs in results.values() for r in rs)
    if n_bad:
        log(f"{n_bad} load(s) were disturbed (a pytest or bench seen, or other processes using ≥ {DISTURBED} "
            "cores) and left out of the medians")
    if disturbed:
        log(f"warning: every load of {', '.join(sorted(disturbed))} was disturbed; its median is pessimistic")
    return 1 if failed else 0


def through_server(gp: str, tiles: list, work: Path) -> dict:
    """Fetch the tiles through the platform's WMTS, if it serves the layer. The layer is made
    public first (untimed) so that an anonymous client may fetch it."""
    r = subprocess.run([gp, "layers", "set-access", SLUG, "public"], capture_output=True, text=True)
    if r.returncode != 0:
        return {"note": f"could not make {SLUG} public: {r.stderr.strip()[-300:]}"}
    server = Server(PORT, work / "serve.log")
    try:
        if not server.start():
            return {"note": f"the server did not start (see {server.log_path})"}
        template, why = wmts_template(PORT, SLUG)
        if template is None:
            return {"note": why}
        wait_for_quiet_cpu()
        ms, bad = fetch_tiles(template, tiles)
        out = {"p50": statistics.median(ms), "p95": pct(ms, 95), "max": max(ms), "bad": bad, "n": len(ms),
               "template": template, "note": "", "mapserv": {}}
    finally:
        server.stop()
    # The renderer alone: MapProxy's mapserver source runs one mapserv process per GetMap. Public
    # layers: a 4 × 4 metatile + 80 px buffer per uncached request; others: 1 × 1 + 80 px.
    from tiles.mapproxy import mapfile, renderpool
    from tiles.mapproxy.paths import paths

    pool = renderpool.RenderPool(paths(), mapfile.MAPSERV, 2) if renderpool.available() else None
    ways = [("cold", mapfile.MAPSERV)] + ([("warm (render pool)", str(paths().mapserv_cgi))] if pool else [])
    try:
        for way, binary in ways:
            if binary != mapfile.MAPSERV and not pool.start():
                out["mapserv"]["warm"] = "no render pool: another serves this tiles directory (or DATA_DIR is too long a path)"
                break
            for label, meta in (("256 px, no buffer (a raster layer's tile)", 0),
                                ("416 px (1×1 + 80 px: an internal vector layer's)", 1),
                                ("1184 px (4×4 + 80 px: a public vector layer's metatile)", 4)):
                wait_for_quiet_cpu()
                try:
                    if binary != mapfile.MAPSERV:
                        mapserv_times(tiles[:4], meta, binary)  # each process's first call: libraries, PROJ, connection
                    ms = mapserv_times(tiles[:30], meta, binary)
                except RuntimeError as e:
                    out["mapserv"][f"{way}, {label}"] = str(e)
                    break
                out["mapserv"][f"{way}, {label}"] = {"p50": statistics.median(ms), "p95": pct(ms, 95), "n": len(ms)}
    finally:
        if pool:
            pool.stop()
    return out


def mapserv_times(tiles: list, meta: int, binary: str) -> list[float]:
    """Milliseconds per GetMap of the bench layer run as MapProxy runs it (`binary` as a CGI:
    mapserv itself, or the generated mapserv-cgi that hands it to the render pool), on the
    mapfile the server generated. meta 0: the bare 256 px tile."""
    import morecantile

    from tiles.mapproxy import config as mp_config
    from tiles.mapproxy.paths import paths

    p = paths()
    tms = morecantile.tms.get("WebMercatorQuad")
    buffer = mp_config.META_BUFFER if meta else 0
    n = max(meta, 1)
    times = []
    for t in tiles:
        x0, y0 = t.x // n * n, t.y // n * n
        ul = tms.xy_bounds(morecantile.Tile(x0, y0, t.z))
        lr = tms.xy_bounds(morecantile.Tile(x0 + n - 1, y0 + n - 1, t.z))
        res = (ul.right - ul.left) / 256
        bbox = (ul.left - buffer * res, lr.bottom - buffer * res, lr.right + buffer * res, ul.top + buffer * res)
        size = 256 * n + 2 * buffer
        query = (f"map={p.mapfile}&SERVICE=WMS&VERSION=1.1.1&REQUEST=GetMap&LAYERS={SLUG}&SRS=EPSG:3857&STYLES="
                 f"&BBOX={','.join(f'{v:.3f}' for v in bbox)}&WIDTH={size}&HEIGHT={size}&FORMAT=image/png"
                 "&TRANSPARENT=TRUE")
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "MAPSERVER_CONFIG_FILE": str(p.mapserver_conf),
               "REQUEST_METHOD": "GET", "QUERY_STRING": query}
        start = time.perf_counter()
        r = subprocess.run([binary], env=env, cwd=str(p.work_dir), capture_output=True)
        times.append((time.perf_counter() - start) * 1000)
        if r.returncode != 0 or b"\x89PNG" not in r.stdout[:200]:
            raise RuntimeError(f"mapserv gave no PNG: {r.stdout[:300]!r} {r.stderr[:300]!r}")
    return times


if __name__ == "__main__":
    sys.exit(main())
