"""Benchmark: tiles. Uncached vector tiles (ours against TiPG) and cached tiles (ours against nginx), in one run.

    .venv/bin/python bench/tiles.py [--duration S] [--clients N] [--workers N]
    .venv/bin/python bench/tiles.py --only mvt --layers points          # uncached MVT, points only
    .venv/bin/python bench/tiles.py --only cached --duration 10          # cached raster + vector, ours vs nginx
    .venv/bin/python bench/tiles.py --only cached --front none           # ours as gunicorn alone (no static front)
    .venv/bin/python bench/tiles.py --only mvt --ours-tree /tmp/copy     # ours from another checkout (a candidate fix)

Data: the public bench layers of bench/features.py (1,000,000 points `bench-f-points` and 200,000
buildings `bench-f-buildings` over Korla, tables data.layer_bench_f_points / …_buildings); they are
loaded with `geoplatform ingest` if missing, and kept.

The tile list (the same for every server): zooms 8–16, every Web Mercator tile that meets the
points' extent, at most 40 per zoom (a seeded random choice where there are more): 1 + 1 + 4 + 4 +
12 + 35 + 40 + 40 + 40 = 177 addresses.

1. **mvt**: `/vt/{layer}/{z}/{x}/{y}.pbf` of `geoplatform serve --workers W --no-jobs` against TiPG
   (`uvicorn tipg.main:app --workers W`, its venv .data/bench/venvs/tipg, default settings) serving
   `/collections/data.{table}/tiles/WebMercatorQuad/{z}/{x}/{y}` from the same table; both over TCP
   with the same role (bench/features.py's make_servers). Our server gets a private, empty tiles
   directory (`GEOPLATFORM_TILES_DIR`, the setting every deployment has), and its vector tile cache
   (`<dir>/vt/`) is deleted before every pass, so each of our answers is rendered by PostGIS.
   Before timing, every address is fetched from both and decoded (mapbox_vector_tile): an answer
   that is not an MVT, or an empty tile where the other server has ≥ 10 features, counts as wrong
   (except our empty polygon/line tiles at overview zooms, where sub-pixel features are left out
   by design: noted); feature counts and sizes are compared per zoom. Then: a warm-up pass, and
   timed passes (each address once, in a seeded random order, N client threads with keep-alive)
   until --duration seconds of passes have run; tiles/s = tiles / time inside the passes; p50/p95
   over every request, and p50 per zoom.
2. **cached**: raster tiles (MapProxy WMTS PNG, `/tiles/wmts/bench-f-buildings/GLOBAL_WEBMERCATOR/…`)
   and vector tiles (`/vt/bench-f-points/…`) from the caches, through `geoplatform serve` as `make
   demo` runs it (its default workers, the local socket, `--front nginx` when the command has that
   option; `--front none` with this bench's `--front none`), against nginx (Debian's
   /usr/sbin/nginx, a temporary config, `worker_processes auto`) serving the same cache files as
   static files. The caches live in .data/bench/tiles/served/ and are kept; every address is
   requested once through our server first (this fills them), and nginx's bytes are checked
   against ours. Load: wrk (Debian's `wrk`), 2 threads × N connections, the list in a loop from a
   random start per thread, 2 s warm-up then --duration seconds.

Before each timing the bench waits while a test suite runs, or another benchmark that uses CPU
(`pgrep -f "pytest|bench/[a-z_]+\.py"`; one that only waits, like this one, does not count), at most
--max-wait s; a timing that one overlapped is repeated (--retries). The bench prints the
load average and the busiest other processes before each scenario, and per timing the CPU used by
the server's processes ("app"), the client, and the rest of the machine. Servers stop at exit.

A benchmark reports, it does not assert: exit 0 unless a server fails to start, errs, or answers
wrongly.
"""

import argparse
import atexit
import http.client
import importlib.util
import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from datetime import datetime, timezone
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
# This file is bench/tiles.py: keep bench/ off the path, or `import tiles` (the Django app) finds it.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCH]
sys.path.insert(0, str(ROOT))


def _load(name: str, file: str):
    spec = importlib.util.spec_from_file_location(name, BENCH / file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


F = _load("bench_features", "features.py")  # servers, CPU accounting, quiet-CPU wait, bench layers
log = F.log

# Quiet CPU: no timing while a test suite or another benchmark script runs (other people's too).
QUIET = r"pytest|bench/[a-z_]+\.py"


def _ancestors_and_descendants() -> set[int]:
    mine, pid = set(F.tree_of(os.getpid())), os.getpid()
    while pid > 1:
        mine.add(pid)
        try:
            with open(f"/proc/{pid}/stat") as fh:
                pid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    return mine


def busy() -> bool:
    """A test suite runs, or another benchmark is working (one that only waits for a quiet CPU,
    as this one does, does not count: two benchmarks would otherwise wait for each other)."""
    out = subprocess.run(["pgrep", "-f", QUIET], stdout=subprocess.PIPE, text=True).stdout.split()
    others = {int(p) for p in out} - _ancestors_and_descendants()
    benches = set()
    for pid in others:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as fh:
                cmd = fh.read().decode(errors="replace")
        except OSError:
            continue
        if "pytest" in cmd:
            return True
        benches |= set(F.tree_of(pid))
    if not benches:
        return False
    before = F.cpu_by_pid(benches)
    time.sleep(0.5)
    return F.cpu_delta(before, F.cpu_by_pid(benches)) > 0.05  # more than 10 % of a core


F.busy, F.QUIET_PATTERN = busy, QUIET  # features.wait_for_quiet_cpu() and our timings use these

SEED = 20261205
ZOOMS = range(8, 17)
PER_ZOOM = 40
SCENARIOS = ["mvt", "cached"]
LAYER_CHOICES = ["points", "buildings"]
MIN_FEATURES_FOR_EMPTY = 10  # an empty tile where the other server has this many features is wrong
WRK = shutil.which("wrk") or "/usr/bin/wrk"
NGINX = "/usr/sbin/nginx"
MVT_TYPES = {"application/vnd.mapbox-vector-tile", "application/x-protobuf"}


def tiles_root() -> Path:
    return F.data_dir() / "tiles"


# ---------------------------------------------------------------------------- the tile list

def tile_list(bbox, seed: int = SEED) -> list[tuple[int, int, int]]:
    from tiles.grid import tile_range

    rng = random.Random(seed)
    out = []
    for z in ZOOMS:
        x0, y0, x1, y1 = tile_range(bbox, z)
        every = [(z, x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]
        out += every if len(every) <= PER_ZOOM else sorted(rng.sample(every, PER_ZOOM))
    return out


def shuffled(items, seed: int) -> list:
    items = list(items)
    random.Random(seed).shuffle(items)
    return items


def ours_vt(slug: str, t) -> str:
    return f"/vt/{slug}/{t[0]}/{t[1]}/{t[2]}.pbf"


def tipg_vt(table: str, t) -> str:
    return f"/collections/data.{table}/tiles/WebMercatorQuad/{t[0]}/{t[1]}/{t[2]}"


def ours_wmts(slug: str, t) -> str:
    return f"/tiles/wmts/{slug}/GLOBAL_WEBMERCATOR/{t[0]:02d}/{t[1]}/{t[2]}.png"


# ---------------------------------------------------------------------------- machine state

def machine_state() -> str:
    """Load average and the busiest processes over the last second, for the record."""
    def snapshot():
        out = {}
        for pid in os.listdir("/proc"):
            if pid.isdigit():
                try:
                    with open(f"/proc/{pid}/stat") as fh:
                        head, rest = fh.read().rsplit(")", 1)
                    fields = rest.split()
                    out[int(pid)] = (head.split("(", 1)[1], int(fields[11]) + int(fields[12]))
                except (OSError, IndexError, ValueError):
                    pass
        return out

    a = snapshot()
    time.sleep(1.0)
    b = snapshot()
    tick = os.sysconf("SC_CLK_TCK")
    busy = sorted(((b[p][1] - a[p][1]) / tick, b[p][0], p) for p in b if p in a and p != os.getpid())
    top = [f"{name}[{pid}] {100 * cpu:.0f} %" for cpu, name, pid in reversed(busy[-5:]) if cpu > 0.02]
    with open("/proc/loadavg") as fh:
        load = " ".join(fh.read().split()[:3])
    return f"load average {load}; busiest other processes over 1 s: {', '.join(top) or 'none above 2 %'}"


# ---------------------------------------------------------------------------- HTTP

def fetch(port: int, path: str, timeout: float = 300) -> tuple[int, bytes, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Accept-Encoding": "identity"})
        resp = conn.getresponse()
        return resp.status, resp.read(), {k.lower(): v for k, v in resp.getheaders()}
    finally:
        conn.close()


def in_parallel(fn, items, threads: int = 4) -> list:
    """fn(item) for every item on a few threads, results in order."""
    results = [None] * len(items)
    lock, pos = threading.Lock(), [0]

    def run():
        while True:
            with lock:
                i = pos[0]
                pos[0] += 1
            if i >= len(items):
                return
            results[i] = fn(items[i])

    workers = [threading.Thread(target=run, daemon=True) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return results


def one_pass(port: int, paths: list[str], clients: int) -> dict:
    """Every path once, shared by `clients` threads with a keep-alive connection each."""
    lock, pos = threading.Lock(), [0]
    lat: list[list[float]] = [[] for _ in range(clients)]
    at: list[list[int]] = [[] for _ in range(clients)]  # which path each latency belongs to
    errors: list[Counter] = [Counter() for _ in range(clients)]
    sizes = [0] * clients

    def run(k: int):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        while True:
            with lock:
                i = pos[0]
                pos[0] += 1
            if i >= len(paths):
                break
            t0 = time.perf_counter()
            try:
                conn.request("GET", paths[i], headers={"Accept-Encoding": "identity"})
                resp = conn.getresponse()
                body = resp.read()
                if resp.will_close:
                    conn.close()
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                errors[k][type(exc).__name__] += 1
                continue
            dt = time.perf_counter() - t0
            if resp.status not in (200, 204):
                errors[k][f"HTTP {resp.status}"] += 1
                continue
            lat[k].append(dt)
            at[k].append(i)
            sizes[k] += len(body)
        conn.close()

    threads = [threading.Thread(target=run, args=(k,), daemon=True) for k in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {"elapsed": time.perf_counter() - t0, "latencies": [d for lt in lat for d in lt],
            "paths": [paths[i] for ix in at for i in ix],
            "errors": sum(errors, Counter()), "bytes": sum(sizes)}


# ---------------------------------------------------------------------------- 1. uncached MVT

def decode_count(body: bytes) -> int:
    import mapbox_vector_tile

    if not body:
        return 0
    data = mapbox_vector_tile.decode(body)
    return sum(len(layer["features"]) for layer in data.values())


def probe_mvt(servers: dict, paths: dict, tiles: list, design_empty_max_zoom: int = -1) -> dict:
    """Every address from every server, decoded; per zoom the feature counts; wrong answers listed.
    An empty tile of ours at z <= design_empty_max_zoom is by design (polygons and lines smaller than
    a pixel of the overview zoom are left out), noted but not wrong."""
    counts: dict = {}
    sizes: dict = {}
    problems, by_design = [], []
    for name, server in servers.items():
        def get_one(path, port=server.port):
            try:
                status, body, headers = fetch(port, path)
            except OSError as exc:
                return ("error", str(exc))
            if status not in (200, 204):
                return ("error", f"HTTP {status} {body[:200]!r}")
            if body and headers.get("content-type", "").split(";")[0] not in MVT_TYPES:
                return ("error", f"content-type {headers.get('content-type')}")
            try:
                return ("ok", (decode_count(body), len(body)))
            except Exception as exc:  # noqa: BLE001 - any decoding failure is a wrong answer
                return ("error", f"not an MVT ({exc})")

        answers = in_parallel(get_one, paths[name], threads=4)
        counts[name], sizes[name] = [], []
        for t, (kind, value) in zip(tiles, answers):
            if kind == "error":
                problems.append(f"{name} {t}: {value}")
                counts[name].append(None)
                sizes[name].append(0)
            else:
                counts[name].append(value[0])
                sizes[name].append(value[1])
    names = list(servers)
    per_zoom = defaultdict(lambda: defaultdict(lambda: [0, 0, 0]))  # z -> server -> [non-empty tiles, features, bytes]
    for i, t in enumerate(tiles):
        for name in names:
            n = counts[name][i]
            per_zoom[t[0]][name][2] += sizes[name][i]
            if n:
                per_zoom[t[0]][name][0] += 1
                per_zoom[t[0]][name][1] += n
        got = [counts[n][i] for n in names]
        if None not in got and min(got) == 0 and max(got) >= MIN_FEATURES_FOR_EMPTY:
            line = f"{t}: " + ", ".join(f"{n} {c} features" for n, c in zip(names, got))
            design = t[0] <= design_empty_max_zoom and counts["ours"][i] == 0
            (by_design if design else problems).append(line)
    return {"per_zoom": per_zoom, "problems": problems, "by_design": by_design, "counts": counts}


def zoom_of(path: str) -> int:
    """z of an address ending in /z/x/y[.ext]."""
    return int(path.rsplit("/", 3)[-3])


def clear_vt_cache(tiles_dir: Path) -> None:
    shutil.rmtree(tiles_dir / "vt", ignore_errors=True)


def timed_passes(server, paths: list[str], args, before_pass=lambda: None) -> dict:
    """Passes over the list until args.duration seconds of passes; repeated (--retries) when a
    pytest or another benchmark ran meanwhile, keeping the first undisturbed run."""
    runs = []
    for attempt in range(1 + args.retries):
        F.wait_for_quiet_cpu()
        before_pass()
        one_pass(server.port, shuffled(paths, SEED + 1), args.clients)  # warm-up pass
        with F.Watch() as watch:
            app_cpu = 0.0
            me0, m0 = resource.getrusage(resource.RUSAGE_SELF), F.machine_cpu()
            elapsed, latencies, errors, size, passes = 0.0, [], Counter(), 0, 0
            by_zoom = defaultdict(list)
            while elapsed < args.duration or passes < 2:
                before_pass()  # not timed: emptying our cache
                app0 = F.cpu_by_pid(server.pids())
                r = one_pass(server.port, shuffled(paths, SEED + 2 + passes), args.clients)
                app_cpu += F.cpu_delta(app0, F.cpu_by_pid(server.pids()))
                elapsed += r["elapsed"]
                latencies += r["latencies"]
                for path, d in zip(r["paths"], r["latencies"]):
                    by_zoom[zoom_of(path)].append(d)
                errors += r["errors"]
                size += r["bytes"]
                passes += 1
            me1, m1 = resource.getrusage(resource.RUSAGE_SELF), F.machine_cpu()
        latencies.sort()
        client_cpu = (me1.ru_utime + me1.ru_stime) - (me0.ru_utime + me0.ru_stime)
        res = {"n": len(latencies), "passes": passes, "elapsed": elapsed, "rps": len(latencies) / elapsed,
               "p50": F.percentile(latencies, 50), "p95": F.percentile(latencies, 95),
               "errors": sum(errors.values()), "error_kinds": dict(errors), "mb_s": size / elapsed / 1e6,
               "app_cpu": app_cpu, "client_cpu": client_cpu,
               "machine": (m1[0] - m0[0]) / max(m1[1] - m0[1], 1),
               "other_cpu": (m1[0] - m0[0]) / os.sysconf("SC_CLK_TCK") - app_cpu - client_cpu,
               "busy": watch.seen,
               "zoom_p50": {z: F.percentile(sorted(v), 50) for z, v in sorted(by_zoom.items())}}
        runs.append(res)
        if not res["busy"]:
            return res
        log(f"  ({server.name}: a pytest or another benchmark ran during the timing: {res['rps']:.1f} tiles/s "
            f"discarded{', again' if attempt < args.retries else ''})")
    return max(runs, key=lambda x: x["rps"])


def mvt_scenario(args, dsn: dict, tables: dict, bbox, tiles: list, out_dir: Path) -> tuple[dict, list[str]]:
    """Uncached MVT: ours (private, emptied cache) against TiPG, per bench layer."""
    from layers.models import Layer
    from tiles.vector import overview_zoom

    results, failures = {}, []
    tiles_dir = tiles_root() / f"mvt-{os.getpid()}"
    shutil.rmtree(tiles_dir, ignore_errors=True)
    tiles_dir.mkdir(parents=True)
    servers = F.make_servers(["ours", "tipg"], args.workers, dsn, tables, bbox, out_dir, args.ours_tree)
    servers["ours"].env["GEOPLATFORM_TILES_DIR"] = str(tiles_dir)
    try:
        for name, server in servers.items():
            log(f"starting {name} on port {server.port} …")
            server.start()
        versions = {"tipg": F.pip_version(F.venv_dir("tipg"), "tipg")}
        for i, source in enumerate(args.layers):
            slug, table = tables[source]
            paths = {"ours": [ours_vt(slug, t) for t in tiles], "tipg": [tipg_vt(table, t) for t in tiles]}
            log(f"\n[mvt {source}] {len(tiles)} addresses, z{ZOOMS.start}–{ZOOMS.stop - 1}; checking both servers' answers …")
            t0 = time.perf_counter()
            layer = Layer.objects.get(slug=slug)
            # Ours leaves polygons and lines smaller than a pixel out of its overviews (z ≤ 10, and
            # above where the layer is too dense for its tiles).
            design_zoom = -1 if layer.geometry_type == "MultiPoint" else \
                max((z for z in ZOOMS if overview_zoom(layer, z) is not None), default=-1)
            probe = probe_mvt(servers, paths, tiles, design_zoom)  # also builds our overview table on first use
            log(f"  checked in {time.perf_counter() - t0:.1f} s")
            head = "non-empty, features, KiB/tile"
            log(f"  {'zoom':>4} {'tiles':>5}  {'ours: ' + head:>36}  {'TiPG: ' + head:>36}")
            for z in ZOOMS:
                nz = sum(1 for t in tiles if t[0] == z)
                o, p = probe["per_zoom"][z]["ours"], probe["per_zoom"][z]["tipg"]
                log(f"  {z:>4} {nz:>5}  {o[0]:>10} {o[1]:>12,} {o[2] / nz / 1024:>12.1f}  "
                    f"{p[0]:>10} {p[1]:>12,} {p[2] / nz / 1024:>12.1f}")
            if probe["by_design"]:
                log(f"  empty in ours by design (sub-pixel {layer.geometry_type} left out of overviews, z ≤ {design_zoom}): "
                    f"{len(probe['by_design'])} tiles, e.g. {probe['by_design'][0]}")
            if probe["problems"]:
                for line in probe["problems"][:20]:
                    log(f"  WRONG: {line}")
                failures.append(f"mvt {source}: {len(probe['problems'])} wrong answers (first: {probe['problems'][0]})")
                if any(p.startswith("ours") for p in probe["problems"]):
                    continue
            log(f"  machine: {machine_state()}")
            order = ["ours", "tipg"] if i % 2 == 0 else ["tipg", "ours"]
            for name in order:
                if not F.layers_still_there():
                    raise RuntimeError("the bench layers disappeared during the run (bench/ingest.py deletes `bench-*`)")
                before = (lambda: clear_vt_cache(tiles_dir)) if name == "ours" else (lambda: None)
                r = timed_passes(servers[name], paths[name], args, before)
                results[(source, name)] = r
                per = max(r["n"], 1)
                log(f"  {name:<5} {r['rps']:7.1f} tiles/s  p50 {1000 * r['p50']:6.1f} ms  p95 {1000 * r['p95']:6.1f} ms  "
                    f"{r['passes']} passes, {r['n']} tiles, {r['errors']} errors, {r['mb_s']:.1f} MB/s; CPU per tile: app "
                    f"{1000 * r['app_cpu'] / per:.1f} ms, rest {1000 * r['other_cpu'] / per:.1f} ms; client "
                    f"{100 * r['client_cpu'] / r['elapsed']:.0f} %, machine busy {100 * r['machine']:.0f} %"
                    + (f"  {r['error_kinds']}" if r["errors"] else "") + ("  [busy: pytest/bench seen]" if r["busy"] else ""))
                log("        p50 ms by zoom: " + ", ".join(f"z{z} {1000 * v:.0f}" for z, v in r["zoom_p50"].items()))
                if r["errors"]:
                    failures.append(f"mvt {source} {name}: {r['errors']} errors {r['error_kinds']}")
            results[(source, "probe")] = probe
        results["versions"] = versions
    finally:
        for server in servers.values():
            server.stop()
        shutil.rmtree(tiles_dir, ignore_errors=True)
    return results, failures


# ---------------------------------------------------------------------------- 2. cached tiles

def serve_has_front() -> bool:
    out = subprocess.run([F.cli(), "serve", "--help"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True).stdout
    return "--front" in out


def nginx_config(path: Path, port: int, raster_dir: Path, vt_dir: Path, run_dir: Path) -> None:
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers must read .data/ (mode 0700 parents)
    temp = "\n".join(f"  {k}_temp_path {run_dir / k};" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    path.write_text(f"""# bench/tiles.py: the tile caches as static files (generated; removed after the run)
{user}worker_processes auto;
pid {run_dir / 'nginx.pid'};
error_log {run_dir / 'nginx-error.log'} warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  types {{ image/png png; application/vnd.mapbox-vector-tile pbf; }}
{temp}
  server {{
    listen 127.0.0.1:{port};
    location /raster/ {{ alias {raster_dir}/; }}
    location /vt/ {{ alias {vt_dir}/; }}
  }}
}}
""")


WRK_SCRIPT = r"""
-- bench/tiles.py: request the paths of $WRK_PATHS in a loop, from a random start per thread
local paths = {}
for line in io.lines(os.getenv("WRK_PATHS")) do paths[#paths + 1] = line end
local i = 0
function setup(thread) thread:set("start", math.random(#paths)) end
function init(args) i = tonumber(start) or 0 end
function request()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests": %d, "duration_us": %d, "bytes": %d, "connect": %d, "read": %d, ' ..
    '"write": %d, "status": %d, "timeout": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"""


def run_wrk(port: int, paths: list[str], seconds: float, connections: int, work: Path) -> dict:
    list_file, script = work / "wrk-paths.txt", work / "wrk.lua"
    list_file.write_text("\n".join(paths) + "\n")
    script.write_text(WRK_SCRIPT)
    cmd = [WRK, "-t2", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s", "-s", str(script),
           f"http://127.0.0.1:{port}"]
    proc = subprocess.run(cmd, env=dict(os.environ, WRK_PATHS=str(list_file)), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("WRKJSON ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {proc.stdout[-1500:]}")
    d = json.loads(line[len("WRKJSON "):])
    secs = d["duration_us"] / 1e6
    errors = {k: d[k] for k in ("connect", "read", "write", "status", "timeout") if d[k]}
    return {"n": d["requests"], "elapsed": secs, "rps": d["requests"] / secs, "p50": d["p50_us"] / 1e6,
            "p95": d["p95_us"] / 1e6, "p99": d["p99_us"] / 1e6, "mb_s": d["bytes"] / secs / 1e6,
            "errors": sum(errors.values()), "error_kinds": errors, "cmd": " ".join(cmd)}


def timed_wrk(server, paths: list[str], args, work: Path) -> dict:
    runs = []
    for attempt in range(1 + args.retries):
        F.wait_for_quiet_cpu()
        run_wrk(server.port, paths, 2, args.connections, work)  # warm-up
        app0, m0 = F.cpu_by_pid(server.pids()), F.machine_cpu()
        c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        r = run_wrk(server.port, paths, args.duration, args.connections, work)
        c1, m1 = resource.getrusage(resource.RUSAGE_CHILDREN), F.machine_cpu()
        r["app_cpu"] = F.cpu_delta(app0, F.cpu_by_pid(server.pids()))
        r["client_cpu"] = (c1.ru_utime + c1.ru_stime) - (c0.ru_utime + c0.ru_stime)
        r["machine"] = (m1[0] - m0[0]) / max(m1[1] - m0[1], 1)
        r["other_cpu"] = (m1[0] - m0[0]) / os.sysconf("SC_CLK_TCK") - r["app_cpu"] - r["client_cpu"]
        r["busy"] = F.busy()
        runs.append(r)
        if not r["busy"]:
            return r
        log(f"  ({server.name}: a pytest or another benchmark ran during the timing: {r['rps']:.0f}/s "
            f"discarded{', again' if attempt < args.retries else ''})")
    return max(runs, key=lambda x: x["rps"])


def cached_scenario(args, tables: dict, tiles: list, out_dir: Path) -> tuple[dict, list[str]]:
    results, failures = {}, []
    served = tiles_root() / "served"  # kept between runs: the warm caches
    served.mkdir(parents=True, exist_ok=True)
    raster_slug, vt_slug = tables["buildings"][0], tables["points"][0]
    front = serve_has_front() and args.front != "none"
    port = F.free_port()
    env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "VIRTUAL_ENV", "PYTHONPATH"}}
    env["GEOPLATFORM_TILES_DIR"] = str(served)
    cmd = [F.cli(), "serve", "--host", "127.0.0.1", "--port", str(port), "--no-jobs"]
    if serve_has_front():
        cmd += ["--front", "nginx" if front else "none"]
    ours = F.Server("ours-demo", cmd, env, port, "/vt/", out_dir)
    run_dir = out_dir / "nginx"
    shutil.rmtree(run_dir, ignore_errors=True)
    run_dir.mkdir(parents=True)
    nginx = None
    try:
        log(f"\n[cached] starting `{' '.join(['geoplatform', *cmd[1:]])}` (GEOPLATFORM_TILES_DIR={served}) …")
        ours.start(timeout=180)
        results["front"] = front
        results["ours_cmd"] = "geoplatform " + " ".join(cmd[1:])
        raster_paths = [ours_wmts(raster_slug, t) for t in tiles]
        vt_paths = [ours_vt(vt_slug, t) for t in tiles]
        log(f"  filling the caches: {len(tiles)} raster tiles of {raster_slug}, {len(tiles)} vector tiles of {vt_slug} "
            f"(one request each; MapProxy renders 4×4 metatiles on a miss) …")
        t0 = time.perf_counter()
        raster = in_parallel(lambda p: fetch(port, p), raster_paths, threads=2)
        vt = in_parallel(lambda p: fetch(port, p), vt_paths, threads=4)
        log(f"  done in {time.perf_counter() - t0:.1f} s")
        bad = [(p, s, b[:150]) for p, (s, b, h) in zip(raster_paths, raster) if s != 200 or not b.startswith(b"\x89PNG")]
        bad += [(p, s, b[:150]) for p, (s, b, h) in zip(vt_paths, vt) if s not in (200, 204)]
        if bad:
            failures.append(f"cached: our server answered {len(bad)} tiles wrongly, e.g. {bad[0]}")
            return results, failures

        # The same bytes as files: MapProxy's file cache (rows from the north) and our vt cache.
        caches = sorted((served / "mapproxy" / "cache").glob(f"{raster_slug}_*"))
        if len(caches) != 1:
            failures.append(f"cached: expected one MapProxy cache directory {raster_slug}_<key>, found {caches}")
            return results, failures
        raster_dir = caches[0] / "GLOBAL_WEBMERCATOR"
        vt_dir = served / "vt" / "public" / vt_slug
        mismatch = 0
        for t, (_s, body, _h) in zip(tiles, raster):
            f = raster_dir / str(t[0]) / str(t[1]) / f"{t[2]}.png"
            mismatch += not f.exists() or f.read_bytes() != body
        for t, (_s, body, _h) in zip(tiles, vt):
            f = vt_dir / str(t[0]) / str(t[1]) / f"{t[2]}.pbf"
            mismatch += not f.exists() or f.read_bytes() != body
        if mismatch:
            failures.append(f"cached: {mismatch} cache files missing or different from our answers")
            return results, failures
        sizes = {"raster": sum(len(b) for _s, b, _h in raster) / len(raster), "vt": sum(len(b) for _s, b, _h in vt) / len(vt),
                 "vt_empty": sum(1 for _s, b, _h in vt if not b)}
        results["sizes"] = sizes

        nport = F.free_port()
        conf = run_dir / "nginx.conf"
        nginx_config(conf, nport, raster_dir, vt_dir, run_dir)
        t = tiles[0]
        nginx = F.Server("nginx", [NGINX, "-c", str(conf), "-p", str(run_dir), "-g", "daemon off;"], dict(os.environ),
                         nport, f"/raster/{t[0]}/{t[1]}/{t[2]}.png", run_dir)
        nginx.start(timeout=30)
        n_raster = [f"/raster/{t[0]}/{t[1]}/{t[2]}.png" for t in tiles]
        n_vt = [f"/vt/{t[0]}/{t[1]}/{t[2]}.pbf" for t in tiles]
        for ours_body, path in ((raster[5][1], n_raster[5]), (vt[-1][1], n_vt[-1])):
            status, body, _ = fetch(nport, path)
            if status != 200 or body != ours_body:
                failures.append(f"cached: nginx answered {path} with HTTP {status}, {len(body)} bytes (ours {len(ours_body)})")
                return results, failures

        log(f"  machine: {machine_state()}")
        work = out_dir
        plan = [("raster", "ours", ours, raster_paths), ("raster", "nginx", nginx, n_raster),
                ("vt", "nginx", nginx, n_vt), ("vt", "ours", ours, vt_paths)]
        for kind, name, server, paths in plan:
            r = timed_wrk(server, paths, args, work)
            results[(kind, name)] = r
            per = max(r["n"], 1)
            log(f"  {kind:<6} {name:<5} {r['rps']:8.0f} tiles/s  p50 {1000 * r['p50']:6.2f} ms  p95 {1000 * r['p95']:6.2f} ms  "
                f"{r['errors']} errors, {r['mb_s']:.0f} MB/s; CPU per tile: app {1e6 * r['app_cpu'] / per:.0f} µs, "
                f"client {1e6 * r['client_cpu'] / per:.0f} µs, rest {1e6 * r['other_cpu'] / per:.0f} µs; "
                f"machine busy {100 * r['machine']:.0f} %" + (f"  {r['error_kinds']}" if r["errors"] else "")
                + ("  [busy: pytest/bench seen]" if r["busy"] else ""))
            if r["errors"]:
                failures.append(f"cached {kind} {name}: {r['errors']} errors {r['error_kinds']}")
        results["wrk_cmd"] = results[("raster", "ours")]["cmd"]
    finally:
        ours.stop()
        if nginx:
            nginx.stop()
    return results, failures


# ---------------------------------------------------------------------------- main

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default=",".join(SCENARIOS), help="scenarios, comma-separated: mvt, cached (default both)")
    parser.add_argument("--layers", default=",".join(LAYER_CHOICES), help="mvt layers: points, buildings (default both)")
    parser.add_argument("--duration", type=float, default=20.0, help="timed seconds per server and case (default 20)")
    parser.add_argument("--clients", type=int, default=8, help="mvt: concurrent clients (default 8)")
    parser.add_argument("--connections", type=int, default=8, help="cached: wrk connections (default 8)")
    parser.add_argument("--workers", type=int, default=2, help="mvt: worker processes of both servers (default 2)")
    parser.add_argument("--retries", type=int, default=2, help="re-runs of a disturbed timing (default 2)")
    parser.add_argument("--max-wait", type=int, default=900, help="seconds to wait for a quiet CPU (default 900)")
    parser.add_argument("--front", choices=["nginx", "none"], default="nginx",
                        help="cached: ours with `serve --front nginx` (default, when serve has the option) or `--front none`")
    parser.add_argument("--ours-tree", type=Path, help="mvt: serve ours from this checkout instead (e.g. a copy with a fix)")
    args = parser.parse_args()
    F.QUIET_MAX = args.max_wait
    scenarios = [s for s in SCENARIOS if s in args.only.split(",")]
    args.layers = [s for s in LAYER_CHOICES if s in args.layers.split(",")]

    atexit.register(F.stop_all)
    signal.signal(signal.SIGTERM, F.on_signal)
    signal.signal(signal.SIGHUP, F.on_signal)
    dsn = F.django_dsn()
    from layers.models import Layer
    out_dir = tiles_root()
    out_dir.mkdir(parents=True, exist_ok=True)
    started = datetime.now(timezone.utc)
    log(f"bench/tiles.py  {started:%Y-%m-%d %H:%M} UTC  {os.cpu_count()} cores  scenarios {', '.join(scenarios)}  "
        f"{args.duration:g} s per timing")
    log(f"machine: {machine_state()}")
    tables = F.ensure_layers()
    log("layers: " + ", ".join(f"{slug} (data.{table})" for slug, table in tables.values()))
    bbox = tuple(Layer.objects.get(slug=tables["points"][0]).extent.extent)
    tiles = tile_list(bbox)
    log(f"tile list: {len(tiles)} addresses, " + ", ".join(f"z{z}: {sum(1 for t in tiles if t[0] == z)}" for z in ZOOMS))
    missing = [tool for tool in (WRK, NGINX) if not Path(tool).exists()]
    if "cached" in scenarios and missing:
        log(f"cached: NOT MEASURED: {', '.join(missing)} missing (Debian packages wrk, nginx-light)")
        scenarios.remove("cached")

    failures: list[str] = []
    mvt, cached = {}, {}
    if "mvt" in scenarios:
        mvt, f = mvt_scenario(args, dsn, tables, bbox, tiles, out_dir)
        failures += f
    if "cached" in scenarios:
        cached, f = cached_scenario(args, tables, tiles, out_dir)
        failures += f

    log()
    log(f"== summary ({started:%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, {len(tiles)} tiles z8–z16, "
        f"{args.duration:g} s per timing)")
    if mvt:
        tipg = mvt.get("versions", {}).get("tipg", "?")
        log(f"uncached MVT, {args.clients} clients, {args.workers} workers each (TiPG {tipg}):")
        log("| layer | ours tiles/s (p50 / p95 ms) | TiPG tiles/s (p50 / p95 ms) | ours / TiPG |")
        log("|---|---|---|---|")

        def cell(r):
            return f"{r['rps']:.1f} ({1000 * r['p50']:.0f} / {1000 * r['p95']:.0f})" if r else "not measured"

        for source in args.layers:
            o, t = mvt.get((source, "ours")), mvt.get((source, "tipg"))
            ratio = f"**{o['rps'] / t['rps']:.2f}** ({'met' if o['rps'] >= 1.5 * t['rps'] else 'NOT met'})" if o and t else "n/a"
            log(f"| {source} | {cell(o)} | {cell(t)} | {ratio} |")
        log("target: ours ≥ 1.5 × TiPG, uncached")
    if cached and ("raster", "ours") in cached:
        log(f"cached tiles, wrk 2 threads × {args.connections} connections; ours: `{cached['ours_cmd']}`"
            f"{' (with the nginx front)' if cached['front'] else ' (gunicorn alone, no static front)'}:")
        log("| tiles | ours tiles/s (p50 / p95 ms) | nginx tiles/s (p50 / p95 ms) | ours / nginx |")
        log("|---|---|---|---|")
        for kind, label in (("raster", f"raster PNG (avg {cached['sizes']['raster'] / 1024:.1f} KiB)"),
                            ("vt", f"vector MVT (avg {cached['sizes']['vt'] / 1024:.1f} KiB, "
                                   f"{cached['sizes']['vt_empty']} empty)")):
            o, n = cached[(kind, "ours")], cached[(kind, "nginx")]
            ratio = o["rps"] / n["rps"]
            log(f"| {label} | {o['rps']:.0f} ({1000 * o['p50']:.1f} / {1000 * o['p95']:.1f}) | {n['rps']:.0f} "
                f"({1000 * n['p50']:.1f} / {1000 * n['p95']:.1f}) | **{ratio:.2f}** ({'met' if ratio >= 0.5 else 'NOT met'}) |")
        log("target: ours ≥ 0.5 × nginx")
    for line in failures:
        log(f"FAILED: {line}")
    return 1 if failures else 0


if __name__ == "__main__":
    F.run(main)
