"""Benchmark: load a point GeoPackage into PostGIS, our path against ogr2ogr, in one run.

    .venv/bin/python bench/load_vector.py [--points N] [--repeat R]

Our path is `ingest.load.load_new_layer` (pyogrio read, shapely checks, psycopg binary COPY,
GiST index, catalog row, one transaction). The anchor is `ogr2ogr -f PostgreSQL` with the same
target CRS (EPSG:4490), multi-geometry promotion and a GiST index. Each timing is one complete
load; the table is dropped afterwards, outside the timing. The two paths alternate, round by
round, so drift on a busy machine hits both.

The input (N random points around Korla, EPSG:4326, fixed seed) is generated once, in a child
process, and cached under .data/bench/. Source data is WGS 84 (EPSG:4326), as GPS and web data
usually are, so both paths really do reproject to the storage CRS EPSG:4490.

A benchmark reports, it does not assert: the exit status is 0 unless a path fails or loads a
row count other than N. Each run leaves one `layer.create` audit entry (via "bench") per load
of our path, because the audit log is append-only; it also keeps a department `bench`.
"""

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SEED = 20261101
BBOX = (86.0, 41.6, 86.3, 41.8)  # around Korla, lon/lat
SOURCE_CRS = "EPSG:4326"
OGR_TABLE = "bench_ogr"
SLUG_PREFIX = "bench-load-"


def data_dir() -> Path:
    return Path(os.environ.get("GEOPLATFORM_DATA_DIR", ROOT / ".data")) / "bench"


def dataset_path(n: int) -> Path:
    return data_dir() / f"points-{n}-seed{SEED}.gpkg"


def generate(path: Path, n: int) -> None:
    """N points with name (Chinese text), code (int) and height (float); written atomically."""
    import numpy as np
    import pyogrio.raw
    import shapely

    rng = np.random.default_rng(SEED)
    xs = rng.uniform(BBOX[0], BBOX[2], n)
    ys = rng.uniform(BBOX[1], BBOX[3], n)
    wkb = shapely.to_wkb(shapely.points(xs, ys))
    codes = rng.integers(100_000, 999_999, n, dtype=np.int64)
    names = np.array([f"点{i}" for i in range(n)], dtype=object)
    heights = np.round(rng.uniform(900.0, 1100.0, n), 2)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.gpkg")
    tmp.unlink(missing_ok=True)
    pyogrio.raw.write(
        tmp,
        wkb,
        [names, codes, heights],
        ["name", "code", "height"],
        layer="points",
        driver="GPKG",
        geometry_type="Point",
        crs=SOURCE_CRS,
        encoding="UTF-8",
    )
    tmp.replace(path)


TIME = Path("/usr/bin/time")  # GNU time: a child's own peak RSS (wait4 on a child forked from Python
# would also count the Python process it was forked from)


def run_child(cmd: list[str], env: dict | None = None) -> tuple[int, str, float, int | None]:
    """(exit code, stderr, seconds, peak RSS in KiB or None) of one child process."""
    measure = TIME.exists()
    full = [str(TIME), "-f", "__maxrss_kib=%M", *cmd] if measure else cmd
    start = time.perf_counter()
    proc = subprocess.run(full, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    seconds = time.perf_counter() - start
    err, maxrss = proc.stderr.decode(errors="replace"), None
    if measure:
        lines = err.rstrip("\n").split("\n")
        if lines and lines[-1].startswith("__maxrss_kib="):
            maxrss = int(lines.pop()[len("__maxrss_kib="):])
            err = "\n".join(lines)
    return proc.returncode, err, seconds, maxrss


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=200_000, help="features in the test file (default 200000)")
    parser.add_argument("--repeat", type=int, default=3, help="loads per path (default 3)")
    parser.add_argument("--generate-only", metavar="PATH", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.points < 1 or args.repeat < 1:
        parser.error("--points and --repeat must be at least 1")

    if args.generate_only:
        generate(Path(args.generate_only), args.points)
        return 0

    path = dataset_path(args.points)
    if not path.exists():
        # In a child, so that generating does not count toward this process's peak RSS.
        print(f"generating {args.points:,} points into {path} …", flush=True)
        code, err, seconds, _ = run_child([sys.executable, __file__, "--points", str(args.points), "--generate-only", str(path)])
        if code != 0:
            print(err, file=sys.stderr)
            print("error: could not generate the test file", file=sys.stderr)
            return 1
        print(f"  done in {seconds:.1f} s", flush=True)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "geoplatform.settings")
    import django

    django.setup()

    from django.db import connection
    from psycopg import sql

    from ingest.load import LayerSpec, load_new_layer
    from layers import storage
    from layers.models import Department, Layer

    n = args.points
    db = connection.settings_dict
    schema = storage.schema()
    srid = storage.storage_srid()

    def conninfo() -> str:
        def quote(v) -> str:
            return "'" + str(v).replace("\\", "\\\\").replace("'", "\\'") + "'"

        parts = {"host": db.get("HOST"), "port": db.get("PORT"), "dbname": db.get("NAME"), "user": db.get("USER")}
        return "PG:" + " ".join(f"{k}={quote(v)}" for k, v in parts.items() if v)

    ogr_env = dict(os.environ)
    if db.get("PASSWORD"):
        ogr_env["PGPASSWORD"] = str(db["PASSWORD"])  # not on the command line, where ps would show it
    ogr_cmd = [
        "ogr2ogr", "-f", "PostgreSQL", conninfo(), str(path),
        "-nln", f"{schema}.{OGR_TABLE}", "-nlt", "PROMOTE_TO_MULTI", "-t_srs", f"EPSG:{srid}",
        "-lco", "GEOMETRY_NAME=geom", "-lco", "FID=fid", "-lco", "SPATIAL_INDEX=GIST", "-overwrite",
    ]  # fmt: skip

    def raw_cursor():
        return connection.cursor().cursor

    def drop_ogr_table():
        raw_cursor().execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(schema, OGR_TABLE)))

    def count_ogr_rows() -> int:
        cur = raw_cursor()
        cur.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(schema, OGR_TABLE)))
        return cur.fetchone()[0]

    # Leftovers of an interrupted run; deleting a Layer drops its table (post_delete signal).
    for stale in Layer.objects.filter(slug__startswith=SLUG_PREFIX):
        stale.delete()
    raw_cursor().execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
    drop_ogr_table()
    Department.objects.get_or_create(code="bench", defaults={"name": "基准测试", "name_en": "Benchmarks"})

    def ours(i: int) -> float:
        spec = LayerSpec(slug=f"{SLUG_PREFIX}{os.getpid()}-{i}", title_zh="基准测试点", department="bench")
        start = time.perf_counter()
        layer = load_new_layer(path, spec, via="bench")
        seconds = time.perf_counter() - start
        try:
            if layer.feature_count != n:
                raise RuntimeError(f"our path loaded {layer.feature_count:,} rows, expected {n:,}")
        finally:
            layer.delete()
        return seconds

    def ogr(_i: int) -> float:
        code, err, seconds, maxrss = run_child(ogr_cmd, ogr_env)
        try:
            if code != 0:
                raise RuntimeError(f"ogr2ogr exited {code}: {err.strip()}")
            rows = count_ogr_rows()
            if rows != n:
                raise RuntimeError(f"ogr2ogr loaded {rows:,} rows, expected {n:,}")
        finally:
            drop_ogr_table()
        if maxrss is not None:
            ogr_rss.append(maxrss)
        return seconds

    ogr_rss: list[int] = []
    paths = {"ours (load_new_layer)": ours, "ogr2ogr": ogr}
    times: dict[str, list[float]] = {name: [] for name in paths}
    failed = False
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"loading {n:,} points, {args.repeat} rounds, paths alternating …", flush=True)
    for i in range(args.repeat):
        # Alternate which path goes first, so neither always follows the other's checkpoint.
        order = list(paths.items()) if i % 2 == 0 else list(reversed(paths.items()))
        for name, fn in order:
            try:
                times[name].append(fn(i))
            except Exception:
                failed = True
                print(f"error: {name}, round {i + 1}:", file=sys.stderr)
                traceback.print_exc()
        if failed:
            break
    rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    if failed or any(len(t) != args.repeat for t in times.values()):
        print("FAILED: see the errors above; no timings reported", file=sys.stderr)
        return 1

    ours_t, ogr_t = times["ours (load_new_layer)"], times["ogr2ogr"]
    print()
    print(f"{'path':<24} {'best s':>8} {'median s':>9} {'features/s (median)':>20}")
    for name, t in times.items():
        med = statistics.median(t)
        print(f"{name:<24} {min(t):>8.2f} {med:>9.2f} {n / med:>20,.0f}")
    print()
    print(f"time ratio ours/ogr2ogr: median {statistics.median(ours_t) / statistics.median(ogr_t):.2f}, "
          f"best {min(ours_t) / min(ogr_t):.2f}  (< 1 means faster than ogr2ogr)")  # fmt: skip
    print(f"peak RSS, whole bench process (Django + our path): {rss_peak / 1024:.0f} MB "
          f"(before the first load: {rss_before / 1024:.0f} MB)")  # fmt: skip
    if ogr_rss:
        print(f"peak RSS, ogr2ogr process (GNU time): {max(ogr_rss) / 1024:.0f} MB")
    print(f"all {args.repeat * 2} loads: {n:,} rows each, as expected")
    return 0


if __name__ == "__main__":
    sys.exit(main())
