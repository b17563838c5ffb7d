"""Benchmark: `geoplatform ingest` against ogr2ogr on a CGCS2000 GK GeoPackage, in one run.

    .venv/bin/python bench/ingest.py [--points N] [--buildings M] [--repeat R]
    .venv/bin/python bench/ingest.py --rss-check 5000000     # peak RSS of our path only

The test file (generated once, fixed seed, in a child process, cached under .data/bench/) is
a GeoPackage in EPSG:4538 (CGCS2000 3-degree GK CM 87E, Korla) with two layers:
`points` (N points; name text (Chinese), code int, height float, kind text, surveyed date) and
`buildings` (M non-overlapping rectangles of 8-30 m; name text, floors int, structure text,
area float). Both paths reproject to the storage CRS EPSG:4490.

- ours: the CLI as a user runs it, `geoplatform ingest FILE --source-layer points --layer
  bench-pts --department bench --mode create` (and `buildings` into `bench-bld`): read,
  CRS decision, transform, validation, duplicate check, staged COPY, GiST index, swap with a
  history table, catalog and audit rows. Its time includes starting Django.
- ogr2ogr: `ogr2ogr -f PostgreSQL PG:… FILE points -nln data.bench_ogr_pts -nlt PROMOTE_TO_MULTI
  -t_srs EPSG:4490 -lco GEOMETRY_NAME=geom -lco FID=fid -lco SPATIAL_INDEX=GIST
  --config PG_USE_COPY YES -overwrite` (and buildings). Its time includes starting the process.

Each load is one child process, timed from outside; peak RSS comes from GNU time. The paths
alternate round by round; every layer or table is deleted after its load, outside the timing.
Before each load the bench waits (up to 10 min) while a pytest run is using the CPU.

A benchmark reports, it does not assert: the exit status is 0 unless a path fails, loads a
row count other than the file's, or the two paths' extents disagree. Each load of our path
leaves its ingest job and audit entries (the audit log is append-only) and keeps a
department `bench`.
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SEED = 20261201
SOURCE_EPSG = 4538  # CGCS2000 / 3-degree Gauss-Kruger CM 87E (short easting, no zone prefix)
BBOX = (420_000.0, 4_615_000.0, 440_000.0, 4_630_000.0)  # Korla, easting/northing in metres
LAYERS = {"points": "pts", "buildings": "bld"}  # source layer -> short name for slugs and tables
SLUG_PREFIX = "bench-"
OGR_PREFIX = "bench_ogr_"
TIME = Path("/usr/bin/time")  # GNU time: a child's own peak RSS
PYTEST_WAIT = 600  # seconds at most to wait for a running pytest, polled every 15 s


def data_dir() -> Path:
    return Path(os.environ.get("GEOPLATFORM_DATA_DIR", ROOT / ".data")) / "bench"


def dataset_path(points: int, buildings: int) -> Path:
    return data_dir() / f"ingest-p{points}-b{buildings}-seed{SEED}.gpkg"


def geoplatform_cli() -> str:
    beside = Path(sys.executable).parent / "geoplatform"
    return str(beside if beside.exists() else ROOT / ".venv" / "bin" / "geoplatform")


# ---------------------------------------------------------------------------- test data

def generate(path: Path, n_points: int, n_buildings: int) -> None:
    """Write the test GeoPackage (atomically: a temporary file renamed into place)."""
    import numpy as np
    import pyogrio.raw
    import shapely

    rng = np.random.default_rng(SEED)
    x0, y0, x1, y1 = BBOX
    crs = f"EPSG:{SOURCE_EPSG}"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.gpkg")
    tmp.unlink(missing_ok=True)

    n = n_points
    wkb = shapely.to_wkb(shapely.points(rng.uniform(x0, x1, n), rng.uniform(y0, y1, n)))
    names = np.array([f"测点{i}" for i in range(1, n + 1)], dtype=object)
    codes = rng.integers(100_000, 999_999, n, dtype=np.int64)
    heights = np.round(rng.uniform(900.0, 1100.0, n), 3)
    kinds = np.array(["控制点", "水准点", "界址点", "地形点", "检查点"], dtype=object)[rng.integers(0, 5, n)]
    surveyed = np.datetime64("2019-01-01") + rng.integers(0, 6 * 365, n).astype("timedelta64[D]")
    pyogrio.raw.write(
        tmp, wkb, [names, codes, heights, kinds, surveyed], ["name", "code", "height", "kind", "surveyed"],
        layer="points", driver="GPKG", geometry_type="Point", crs=crs, encoding="UTF-8",
    )
    del wkb, names, codes, heights, kinds, surveyed

    m = n_buildings
    if m:
        # One rectangle per grid cell (row-major, as survey files usually are ordered), so
        # rectangles do not overlap while the cells are at least 32 m wide.
        width, height = x1 - x0, y1 - y0
        cols = int(np.ceil(np.sqrt(m * width / height)))
        rows = int(np.ceil(m / cols))
        cw, ch = width / cols, height / rows
        cell = np.arange(m)
        w = rng.uniform(8.0, min(30.0, max(cw - 2.0, 8.0)), m)
        h = rng.uniform(8.0, min(30.0, max(ch - 2.0, 8.0)), m)
        left = x0 + (cell % cols) * cw + 1.0 + rng.uniform(0.0, 1.0, m) * np.maximum(cw - w - 2.0, 0.0)
        bottom = y0 + (cell // cols) * ch + 1.0 + rng.uniform(0.0, 1.0, m) * np.maximum(ch - h - 2.0, 0.0)
        wkb = shapely.to_wkb(shapely.box(left, bottom, left + w, bottom + h))
        names = np.array([f"建筑{i}" for i in range(1, m + 1)], dtype=object)
        floors = rng.choice(np.array([1, 2, 3, 4, 5, 6, 7, 11, 18, 26], dtype=np.int64), m,
                            p=[0.3, 0.2, 0.12, 0.08, 0.08, 0.08, 0.05, 0.04, 0.03, 0.02])
        structures = np.array(["砖混", "钢混", "钢", "砖木", "混合"], dtype=object)[rng.integers(0, 5, m)]
        area = np.round(w * h, 2)
        pyogrio.raw.write(
            tmp, wkb, [names, floors, structures, area], ["name", "floors", "structure", "area"],
            layer="buildings", driver="GPKG", geometry_type="Polygon", crs=crs, encoding="UTF-8", append=True,
        )
    tmp.replace(path)


# ---------------------------------------------------------------------------- children

def run_child(cmd: list[str], env: dict | None = None, busy: list | None = None) -> tuple[int, str, str, float, int | None]:
    """(exit code, stdout, stderr, seconds, peak RSS in KiB or None) of one child process.
    With `busy`, a thread looks for a running pytest every 2 s meanwhile and appends True if it sees one."""
    measure = TIME.exists()
    full = [str(TIME), "-f", "__maxrss_kib=%M", *cmd] if measure else cmd
    done = threading.Event()

    def watch():
        while not done.wait(2.0):
            if pytest_running():
                busy.append(True)
                return

    watcher = threading.Thread(target=watch, daemon=True) if busy is not None else None
    start = time.perf_counter()
    if watcher:
        watcher.start()
    proc = subprocess.run(full, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    seconds = time.perf_counter() - start
    done.set()
    if watcher:
        watcher.join()
    out, err, maxrss = proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace"), None
    if measure:
        lines = err.rstrip("\n").split("\n")
        if lines and lines[-1].startswith("__maxrss_kib="):
            maxrss = int(lines.pop()[len("__maxrss_kib="):])
            err = "\n".join(lines)
    return proc.returncode, out, err, seconds, maxrss


def pytest_running() -> bool:
    return subprocess.run(["pgrep", "-f", "pytest"], stdout=subprocess.DEVNULL).returncode == 0


def wait_for_quiet_cpu() -> None:
    """The machine has 2 cores and is shared: do not time a load while a test suite runs."""
    waited = 0
    while pytest_running() and waited < PYTEST_WAIT:
        if waited == 0:
            print("  (a pytest is running: waiting for it to finish …)", flush=True)
        time.sleep(15)
        waited += 15
    if waited >= PYTEST_WAIT and pytest_running():
        print(f"  warning: pytest still running after {PYTEST_WAIT} s; timing anyway", flush=True)


# ---------------------------------------------------------------------------- main

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=1_000_000, help="points in the test file (default 1000000)")
    parser.add_argument("--buildings", type=int, default=200_000, help="building polygons (default 200000)")
    parser.add_argument("--repeat", type=int, default=1, help="rounds, each loading both layers with both paths (default 1)")
    parser.add_argument("--rss-check", type=int, metavar="N",
                        help="instead: load a points-only file of N features with our path and report its peak RSS")
    parser.add_argument("--generate-only", metavar="PATH", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_check is not None:
        args.points, args.buildings = args.rss_check, 0
    if args.points < 1 or args.buildings < 0 or args.repeat < 1:
        parser.error("--points and --repeat must be at least 1, --buildings at least 0")

    if args.generate_only:
        generate(Path(args.generate_only), args.points, args.buildings)
        return 0

    path = dataset_path(args.points, args.buildings)
    if not path.exists():
        # In a child, so generating costs this process no memory and none of the timings.
        print(f"generating {args.points:,} points and {args.buildings:,} buildings (EPSG:{SOURCE_EPSG}) into {path} …",
              flush=True)
        code, _out, err, seconds, _ = run_child([sys.executable, __file__, "--points", str(args.points),
                                                 "--buildings", str(args.buildings), "--generate-only", str(path)])
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

    from ingest.models import IngestJob
    from layers import storage

    schema = storage.schema()
    srid = storage.storage_srid()
    db = connection.settings_dict
    cli = geoplatform_cli()
    expected = {"points": args.points, "buildings": args.buildings}
    sources = [s for s in LAYERS if expected[s] > 0]
    if args.rss_check is not None:
        sources = ["points"]

    def conninfo() -> str:
        def quote(v) -> str:
            return "'" + str(v).replace("\\", "\\\\").replace("'", "\\'") + "'"

        parts = {"host": db.get("HOST"), "port": db.get("PORT"), "dbname": db.get("NAME"), "user": db.get("USER")}
        return "PG:" + " ".join(f"{k}={quote(v)}" for k, v in parts.items() if v)

    env = dict(os.environ)
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = str(db["PASSWORD"])  # not on the command line, where ps would show it

    def ogr_cmd(source: str) -> list[str]:
        return [
            "ogr2ogr", "-f", "PostgreSQL", conninfo(), str(path), source,
            "-nln", f"{schema}.{OGR_PREFIX}{LAYERS[source]}", "-nlt", "PROMOTE_TO_MULTI", "-t_srs", f"EPSG:{srid}",
            "-lco", "GEOMETRY_NAME=geom", "-lco", "FID=fid", "-lco", "SPATIAL_INDEX=GIST",
            "--config", "PG_USE_COPY", "YES", "-overwrite",
        ]  # fmt: skip

    def ours_cmd(source: str) -> list[str]:
        return [cli, "ingest", str(path), "--source-layer", source, "--layer", f"{SLUG_PREFIX}{LAYERS[source]}",
                "--department", "bench", "--mode", "create"]

    def cursor():
        return connection.cursor().cursor

    def bench_tables() -> list[str]:
        cur = cursor()
        cur.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s AND (tablename LIKE 'layer\\_bench\\_%%' "
            "OR tablename LIKE %s) ORDER BY tablename", [schema, OGR_PREFIX.replace("_", "\\_") + "%"],
        )
        return [r[0] for r in cur.fetchall()]

    def drop(table: str) -> None:
        cursor().execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(schema, table)))

    def count_and_extent(table: str) -> tuple[int, tuple | None]:
        return storage.table_stats(table)

    leftover_notes: list[str] = []

    def delete_our_layers() -> None:
        """Delete the bench layers as an operator would; then make sure no table is left behind."""
        code, _out, err, _s, _m = run_child(
            [cli, "shell", "-c",
             "from layers.models import Layer; Layer.objects.filter(slug__in=['bench-pts', 'bench-bld']).delete()"], env)
        if code != 0:
            raise RuntimeError(f"deleting the bench layers failed ({code}): {err.strip()}")
        for table in bench_tables():
            if table.startswith(("layer_bench_pts", "layer_bench_bld")):
                # Deleting a Layer drops its table (post_delete signal); anything else is a leak.
                drop(table)
                note = f"deleting the layer left data.{table} behind; the bench dropped it"
                if note not in leftover_notes:
                    leftover_notes.append(note)
                    print(f"  note: {note}", flush=True)

    def ours(source: str) -> dict:
        slug = f"{SLUG_PREFIX}{LAYERS[source]}"
        wait_for_quiet_cpu()
        seen: list = []
        code, out, err, seconds, maxrss = run_child(ours_cmd(source), env, seen)
        busy = bool(seen) or pytest_running()
        try:
            match = re.search(r"^job (\d+):", out, re.M)
            job = (IngestJob.objects.filter(pk=int(match.group(1))).first() if match
                   else IngestJob.objects.filter(layer_slug=slug).order_by("-id").first())
            reasons = (job.report or {}).get("rejected_by_reason") if job else None
            if code != 0:
                raise RuntimeError(f"ingest exited {code}: {err.strip()[-2000:]}"
                                   + (f"\nrejected by reason: {reasons}" if reasons else ""))
            rows, box = count_and_extent(storage.table_for_slug(slug))
            if rows != expected[source]:
                raise RuntimeError(f"ours loaded {rows:,} rows of {source}, expected {expected[source]:,}; "
                                   f"rejected by reason: {reasons}")
        finally:
            delete_our_layers()
        return {"s": seconds, "rss": maxrss, "box": box, "busy": busy}

    def ogr(source: str) -> dict:
        table = f"{OGR_PREFIX}{LAYERS[source]}"
        wait_for_quiet_cpu()
        seen: list = []
        code, _out, err, seconds, maxrss = run_child(ogr_cmd(source), env, seen)
        busy = bool(seen) or pytest_running()
        try:
            if code != 0:
                raise RuntimeError(f"ogr2ogr exited {code}: {err.strip()[-2000:]}")
            rows, box = count_and_extent(table)
            if rows != expected[source]:
                raise RuntimeError(f"ogr2ogr loaded {rows:,} rows of {source}, expected {expected[source]:,}")
        finally:
            drop(table)
        return {"s": seconds, "rss": maxrss, "box": box, "busy": busy}

    # Leftovers of an interrupted run, then the department the layers belong to.
    delete_our_layers()
    for table in bench_tables():
        drop(table)
    code, _out, err, _s, _m = run_child([cli, "departments", "create", "bench", "基准测试", "--name-en", "Benchmarks"], env)
    if code != 0:
        print(err, file=sys.stderr)
        print("error: could not create the department `bench`", file=sys.stderr)
        return 1

    def mb(kib: int | None) -> str:
        return f"{kib / 1024:,.0f}" if kib is not None else "n/a"

    if args.rss_check is not None:
        n = args.points
        print(f"rss check: loading {n:,} points with `geoplatform ingest` …", flush=True)
        try:
            r = ours("points")
        except Exception as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print()
        print(f"ours, {n:,} points: {r['s']:.1f} s, {n / r['s']:,.0f} features/s, peak RSS {mb(r['rss'])} MB "
              f"(target < 1,024 MB: {'met' if r['rss'] is not None and r['rss'] < 1024 * 1024 else 'NOT met'})"
              + ("  [pytest was running]" if r["busy"] else ""))
        for note in leftover_notes:
            print(f"note: {note}")
        return 0

    paths = {"ours": ours, "ogr2ogr": ogr}
    results: dict[str, dict[str, list[dict]]] = {p: {s: [] for s in sources} for p in paths}
    print(f"loading {', '.join(f'{expected[s]:,} {s}' for s in sources)} from EPSG:{SOURCE_EPSG}, "
          f"{args.repeat} round(s), paths alternating …", flush=True)
    print(f"{'round':>5}  {'path':<8} {'layer':<10} {'seconds':>8} {'features/s':>11} {'peak RSS MB':>12}", flush=True)
    for i in range(args.repeat):
        # Alternate which path goes first, so neither always follows the other's checkpoint.
        order = list(paths) if i % 2 == 0 else list(reversed(paths))
        for name in order:
            for source in sources:
                try:
                    r = paths[name](source)
                except Exception as exc:
                    print(f"error: {name}, {source}, round {i + 1}: {exc}", file=sys.stderr)
                    print("FAILED: no timings reported", file=sys.stderr)
                    return 1
                results[name][source].append(r)
                print(f"{i + 1:>5}  {name:<8} {source:<10} {r['s']:>8.2f} {expected[source] / r['s']:>11,.0f} "
                      f"{mb(r['rss']):>12}" + ("  [pytest was running]" if r["busy"] else ""), flush=True)

    # The two paths must put the data in the same place (axis order, zone, datum).
    for source in sources:
        a, b = results["ours"][source][0]["box"], results["ogr2ogr"][source][0]["box"]
        if a is None or b is None or max(abs(p - q) for p, q in zip(a, b)) > 1e-6:
            print(f"FAILED: {source}: extents differ, ours {a} vs ogr2ogr {b}", file=sys.stderr)
            return 1

    def med(name: str, source: str) -> float:
        """Median over the loads no pytest overlapped; over all loads if every one was overlapped."""
        clean = [r["s"] for r in results[name][source] if not r["busy"]]
        if not clean:
            disturbed.add(f"{name} {source}")
        return statistics.median(clean or [r["s"] for r in results[name][source]])

    disturbed: set[str] = set()

    total = sum(expected[s] for s in sources)
    print()
    print(f"{'layer':<10} {'features':>10} {'ours s':>8} {'ours f/s':>10} {'ours RSS':>9} "
          f"{'ogr s':>8} {'ogr f/s':>10} {'ogr RSS':>8} {'ratio':>6}")
    for source in sources:
        o, g = med("ours", source), med("ogr2ogr", source)
        o_rss = max((r["rss"] or 0) for r in results["ours"][source]) or None
        g_rss = max((r["rss"] or 0) for r in results["ogr2ogr"][source]) or None
        print(f"{source:<10} {expected[source]:>10,} {o:>8.2f} {expected[source] / o:>10,.0f} {mb(o_rss):>9} "
              f"{g:>8.2f} {expected[source] / g:>10,.0f} {mb(g_rss):>8} {o / g:>6.2f}")
    o_tot = sum(med("ours", s) for s in sources)
    g_tot = sum(med("ogr2ogr", s) for s in sources)
    print(f"{'total':<10} {total:>10,} {o_tot:>8.2f} {total / o_tot:>10,.0f} {'':>9} "
          f"{g_tot:>8.2f} {total / g_tot:>10,.0f} {'':>8} {o_tot / g_tot:>6.2f}")
    print()
    print(f"time ratio ours/ogr2ogr (medians), total: {o_tot / g_tot:.2f}  (target ≤ 1.00: "
          f"{'met' if o_tot / g_tot <= 1.0 else 'NOT met'})")
    print("seconds: medians over the loads during which no pytest was seen running")
    if disturbed:
        print(f"warning: every load of {', '.join(sorted(disturbed))} overlapped a pytest run; those numbers are pessimistic")
    print("peak RSS in MB, per child process, from GNU time" if TIME.exists() else "peak RSS: n/a (no /usr/bin/time)")
    print(f"all {args.repeat * 2 * len(sources)} loads: the expected row counts; the two paths' extents agree")
    for note in leftover_notes:
        print(f"note: {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
