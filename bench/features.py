"""Benchmark: OGC API – Features items pages through our API, TiPG and pygeoapi, in one run.

    .venv/bin/python bench/features.py [--duration S] [--warmup S] [--clients N] [--workers N]
    .venv/bin/python bench/features.py --only ours --profile dwithin   # py-spy on our workers, one scenario
    .venv/bin/python bench/features.py --no-load                       # the export check only
    .venv/bin/python bench/features.py --only ours,tipg --ours-tree /tmp/patched   # ours from another checkout

All three servers read the same PostGIS tables: the 1,000,000 points and 200,000 buildings of
the ingest benchmark's GeoPackage (bench/ingest.py generates it), loaded once as the public
layers `bench-f-points` / `bench-f-buildings` (tables data.layer_bench_f_points /
data.layer_bench_f_buildings) with `geoplatform ingest`, and kept for the next run.

- ours: `geoplatform serve --workers W --no-jobs` (gunicorn, sync workers), /ogcapi/.
- TiPG: `uvicorn tipg.main:app --workers W`, in its own venv under .data/bench/venvs/tipg.
- pygeoapi: `gunicorn pygeoapi.flask_app:APP --workers W` with the `PostgreSQL` provider
  (storage_crs EPSG:4490), in its own venv under .data/bench/venvs/pygeoapi.
Every server reaches PostgreSQL over TCP (127.0.0.1) with the same role; the venvs are created
and filled with pip on first use.

Scenarios (pages of 1,000 features, seeded random parameters over Korla, each param set
matching more than 1,000 features; the same parameter sets for every server):
  bbox       points, `bbox` of 800 m x 800 m (≈ 2,100 points)
  cql-attr   points, `filter=code < C AND kind = 'K'` (CQL2 text; 4–18 % of the layer)
  dwithin    points, `filter=S_DWITHIN(geom, POINT(lon lat), 500)` (500 m, ≈ 2,600 points)
  bld-bbox   buildings, `bbox` of 1.6 km x 1.6 km (≈ 1,700 polygons)
Before timing, one request per server and scenario must answer 200 with 1,000 features whose
ids equal ours; a peer that cannot is reported as not supported (with the reason) or, when it
answers with other features, as wrong, and is not timed. Then N client threads (keep-alive
where the server allows it) warm up and run for a fixed time; a response counts as an error
unless it is 200 with numberReturned 1,000. A timing that a pytest or the ingest benchmark
overlapped is run again (--retries). Besides requests/s and latencies the bench prints CPU per
request: of the server's processes ("app"), of everything else on the machine ("rest":
PostgreSQL with its parallel workers, when nothing else runs), and the client's share.

Export: `GET /ogcapi/collections/bench-f-points/export?format=gpkg` on a freshly started server
of ours; wall time to the last byte, peak RSS (VmHWM) of its gunicorn workers, and the file's
feature count (pyogrio). Anchor: `ogr2ogr -f GPKG` from the same table (time, GNU time RSS).

Before each timed run the bench waits (up to 15 min) while `pgrep -f "pytest|bench/ingest.py"`
finds something. Servers are stopped at exit, always. The layers stay; remove them with
    .venv/bin/geoplatform shell -c "from layers.models import Layer; Layer.objects.filter(slug__in=['bench-f-points', 'bench-f-buildings']).delete()"

A benchmark reports, it does not assert: exit 0 unless setup, our server or the export fails.
"""

import argparse
import atexit
import http.client
import importlib.util
import json
import os
import random
import re
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections import Counter, defaultdict
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SEED = 20261201
N_POINTS, N_BUILDINGS = 1_000_000, 200_000
LAYERS = {"points": "bench-f-points", "buildings": "bench-f-buildings"}  # source layer -> slug
SOURCE_EPSG = 4538
KORLA = (420_000.0, 4_615_000.0, 440_000.0, 4_630_000.0)  # the generator's box, EPSG:4538 metres
KINDS = ["控制点", "水准点", "界址点", "地形点", "检查点"]
PAGE = 1000
PARAM_SETS = 200
QUIET_PATTERN = "pytest|bench/ingest.py"
QUIET_MAX = 900  # seconds
SERVERS = ["ours", "tipg", "pygeoapi"]
SCENARIOS = ["bbox", "cql-attr", "dwithin", "bld-bbox"]
PEER_PACKAGES = {
    "tipg": ["tipg", "uvicorn"],
    "pygeoapi": ["pygeoapi", "psycopg2-binary", "SQLAlchemy", "geoalchemy2", "gunicorn"],
    "tools": ["py-spy"],
}
TIME = Path("/usr/bin/time")


def data_dir() -> Path:
    return Path(os.environ.get("GEOPLATFORM_DATA_DIR", ROOT / ".data")) / "bench"


def venv_dir(name: str) -> Path:
    return data_dir() / "venvs" / name


def work_dir() -> Path:
    return data_dir() / "features"


def cli() -> str:
    beside = Path(sys.executable).parent / "geoplatform"
    return str(beside if beside.exists() else ROOT / ".venv" / "bin" / "geoplatform")


def log(msg: str = "") -> None:
    print(msg, flush=True)


# ---------------------------------------------------------------------------- CPU discipline

def busy() -> bool:
    return subprocess.run(["pgrep", "-f", QUIET_PATTERN], stdout=subprocess.DEVNULL).returncode == 0


def wait_for_quiet_cpu() -> None:
    """2 shared cores: no timing while a test suite or the ingest benchmark runs."""
    waited = 0
    while busy() and waited < QUIET_MAX:
        if waited == 0:
            log(f"  (pgrep -f '{QUIET_PATTERN}' finds a process: waiting, at most {QUIET_MAX // 60} min …)")
        time.sleep(15)
        waited += 15
    if busy():
        log(f"  warning: still busy after {QUIET_MAX} s; timing anyway")


class Watch:
    """Whether a pytest or another benchmark ran during a timing (looked for every 2 s, and once
    more at the end): `with Watch() as w: …; w.seen`."""

    def __enter__(self):
        self.seen, self._done = False, threading.Event()

        def run():
            while not self._done.wait(2.0):
                if busy():
                    self.seen = True
                    return

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._done.set()
        self._thread.join()
        self.seen = self.seen or busy()
        return False


def django_dsn() -> dict:
    """Django set up on the platform's settings; the libpq parameters (over TCP) of its database
    for the servers under test."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "geoplatform.settings")
    import django

    django.setup()
    from django.db import connection

    db = connection.settings_dict
    password_file = Path(os.environ.get("GEOPLATFORM_DATA_DIR", ROOT / ".data")) / "db-password"
    return {"host": "127.0.0.1", "port": int(db.get("PORT") or 55432), "dbname": db["NAME"], "user": db["USER"],
            "password": db.get("PASSWORD") or password_file.read_text().strip()}


# ---------------------------------------------------------------------------- setup: layers

def ingest_module():
    spec = importlib.util.spec_from_file_location("bench_ingest", ROOT / "bench" / "ingest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def ensure_layers() -> dict:
    """Load the two layers unless they are there with the right counts; return {source: (slug, table)}."""
    from layers import storage
    from layers.models import Access, Layer

    wanted = {"points": N_POINTS, "buildings": N_BUILDINGS}
    result, missing = {}, []
    for source, slug in LAYERS.items():
        layer = Layer.objects.filter(slug=slug).first()
        if layer is None:
            missing.append(source)
            continue
        if layer.table_name is None or layer.feature_count != wanted[source] or layer.access != Access.PUBLIC:
            raise RuntimeError(f"layer {slug} exists but is not the public {wanted[source]:,}-feature bench layer "
                               f"(count {layer.feature_count:,}, access {layer.access}); delete it (see --help) and rerun")
        result[source] = (slug, layer.table_name)
    if not missing:
        return result

    ingest = ingest_module()
    path = ingest.dataset_path(N_POINTS, N_BUILDINGS)
    if not path.exists():
        log(f"generating the ingest benchmark's test file {path} (bench/ingest.py's generator) …")
        code = ("import importlib.util, sys; from pathlib import Path; "
                "s = importlib.util.spec_from_file_location('m', sys.argv[1]); m = importlib.util.module_from_spec(s); "
                "s.loader.exec_module(m); m.generate(Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))")
        subprocess.run([sys.executable, "-c", code, str(ROOT / "bench" / "ingest.py"), str(path),
                        str(N_POINTS), str(N_BUILDINGS)], check=True)
    subprocess.run([cli(), "departments", "create", "bench", "基准测试", "--name-en", "Benchmarks"],
                   check=True, stdout=subprocess.DEVNULL)
    for source in missing:
        slug = LAYERS[source]
        log(f"loading {wanted[source]:,} {source} into layer {slug} (geoplatform ingest) …")
        t0 = time.perf_counter()
        proc = subprocess.run([cli(), "ingest", str(path), "--source-layer", source, "--layer", slug,
                               "--department", "bench", "--access", "public", "--title", f"基准 {source}"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if proc.returncode != 0:
            raise RuntimeError(f"ingest of {source} exited {proc.returncode}: {proc.stderr.strip()[-1500:]}")
        layer = Layer.objects.get(slug=slug)
        n, _box = storage.table_stats(layer.table_name)
        if n != wanted[source]:
            raise RuntimeError(f"{slug}: {n:,} rows loaded, expected {wanted[source]:,}")
        log(f"  done in {time.perf_counter() - t0:.1f} s")
        result[source] = (slug, layer.table_name)
    return result


def layers_still_there() -> bool:
    from layers.models import Layer

    return Layer.objects.filter(slug__in=list(LAYERS.values())).exclude(table_name=None).count() == len(LAYERS)


# ---------------------------------------------------------------------------- setup: venvs

def ensure_venv(name: str) -> Path:
    """A venv of its own under .data/bench/venvs/, filled once with pip."""
    root = venv_dir(name)
    marker = root / ".bench-installed"
    packages = PEER_PACKAGES[name]
    if marker.exists() and marker.read_text().split() == packages:
        return root
    log(f"creating venv {root} with {' '.join(packages)} …")
    if not (root / "bin" / "python").exists():
        subprocess.run(["python3", "-m", "venv", str(root)], check=True)
    subprocess.run([str(root / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", *packages],
                   check=True, stderr=subprocess.DEVNULL)
    marker.write_text(" ".join(packages))
    return root


def pip_version(venv: Path, package: str) -> str:
    out = subprocess.run([str(venv / "bin" / "python"), "-c",
                          f"import importlib.metadata as m; print(m.version({package!r}))"],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True).stdout.strip()
    return out or "?"


# ---------------------------------------------------------------------------- servers

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def children_of(pid: int) -> list[int]:
    try:
        kids = []
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as fh:
                kids += [int(p) for p in fh.read().split()]
        return kids
    except OSError:
        return []


def tree_of(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children_of(p)
    return out


def cpu_by_pid(pids) -> dict[int, float]:
    """CPU seconds (user + system) so far of each process."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            out[pid] = (int(fields[11]) + int(fields[12])) / tick  # utime, stime
        except (OSError, IndexError, ValueError):
            pass
    return out


def machine_cpu() -> tuple[float, float]:
    """(busy, total) jiffies of all cores, from /proc/stat."""
    with open("/proc/stat") as fh:
        values = [float(v) for v in fh.readline().split()[1:9]]  # user … steal (guest is inside user)
    idle = values[3] + values[4]  # idle, iowait
    return sum(values) - idle, sum(values)


def cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU used between two snapshots by the processes alive at the second (new ones in full)."""
    return sum(v - before.get(pid, 0.0) for pid, v in after.items())


def status_kib(pid: int, key: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


class Server:
    def __init__(self, name: str, cmd: list[str], env: dict, port: int, ready_path: str, workdir: Path,
                 cwd: Path = ROOT):
        self.name, self.cmd, self.env, self.port, self.ready_path, self.cwd = name, cmd, env, port, ready_path, cwd
        self.log_path = workdir / f"{name}.log"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 120) -> None:
        self.log_file = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.cmd, env=self.env, stdout=self.log_file, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True, cwd=str(self.cwd))
        RUNNING.append(self)
        deadline = time.time() + timeout
        last = ""
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited {self.proc.returncode} at start; see {self.log_path}: "
                                   f"{self.tail()}")
            try:
                status, body, _ = get(self.port, self.ready_path, timeout=30)
                if status == 200:
                    return
                last = f"HTTP {status}: {body[:300]!r}"
            except OSError as exc:
                last = str(exc)
            time.sleep(0.5)
        raise RuntimeError(f"{self.name} did not answer {self.ready_path} within {timeout:.0f} s ({last}); "
                           f"see {self.log_path}: {self.tail()}")

    def tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-1500:]
        except OSError:
            return ""

    def pids(self) -> list[int]:
        return tree_of(self.proc.pid) if self.proc else []

    def workers(self) -> list[int]:
        """The processes that answer requests: the leaves of the process tree."""
        return [p for p in self.pids() if not children_of(p) and p != self.proc.pid]

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)  # the session this bench started for it
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(timeout=10)
        # Leftover children of the group (e.g. gunicorn workers that outlived their master).
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.log_file.close()
        if self in RUNNING:
            RUNNING.remove(self)
        self.proc = None


RUNNING: list[Server] = []


def stop_all() -> None:
    for server in list(RUNNING):
        try:
            server.stop()
        except Exception as exc:  # keep stopping the others
            print(f"warning: stopping {server.name}: {exc}", file=sys.stderr)


def run(main) -> None:
    """A bench script's entry point: exit with main()'s status; an expected failure is one line
    on stderr, not a traceback; every Server started is stopped."""
    try:
        code = main()
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        code = 1
    finally:
        stop_all()
    sys.exit(code)


def on_signal(signum, frame):
    raise SystemExit(128 + signum)


def get(port: int, path: str, timeout: float = 120) -> tuple[int, bytes, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers=HEADERS)
        resp = conn.getresponse()
        return resp.status, resp.read(), dict(resp.getheaders())
    finally:
        conn.close()


HEADERS = {"Accept": "application/geo+json, application/json", "Accept-Encoding": "identity"}


def pygeoapi_config(path: Path, port: int, dsn: dict, tables: dict, bounds_lonlat) -> None:
    import yaml  # PyYAML comes with our stack (Django's serializers, procrastinate)

    data = {"host": dsn["host"], "port": dsn["port"], "dbname": dsn["dbname"], "user": dsn["user"],
            "password": dsn["password"], "search_path": ["data"]}
    resources = {}
    for source, (slug, table) in tables.items():
        resources[slug] = {
            "type": "collection", "title": slug, "description": f"bench {source}", "keywords": ["bench"],
            "extents": {"spatial": {"bbox": list(bounds_lonlat), "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}},
            "providers": [{
                "type": "feature", "name": "PostgreSQL", "data": data, "id_field": "fid", "table": table,
                "geom_field": "geom", "storage_crs": "http://www.opengis.net/def/crs/EPSG/0/4490",
                "crs": ["http://www.opengis.net/def/crs/OGC/1.3/CRS84", "http://www.opengis.net/def/crs/EPSG/0/4326",
                        "http://www.opengis.net/def/crs/EPSG/0/4490"],
            }],
        }
    config = {
        "server": {
            "bind": {"host": "127.0.0.1", "port": port}, "url": f"http://127.0.0.1:{port}",
            "mimetype": "application/json; charset=UTF-8", "encoding": "utf-8", "gzip": False,
            "languages": ["en-US"], "cors": False, "pretty_print": False,
            "limits": {"default_items": 10, "max_items": 10000},
            "map": {"url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png", "attribution": "OpenStreetMap"},
        },
        "logging": {"level": "ERROR"},
        "metadata": {
            "identification": {"title": "bench", "description": "bench", "keywords": ["bench"], "keywords_type": "theme",
                               "terms_of_service": "https://creativecommons.org/licenses/by/4.0/",
                               "url": "http://127.0.0.1"},
            "license": {"name": "CC-BY 4.0", "url": "https://creativecommons.org/licenses/by/4.0/"},
            "provider": {"name": "bench", "url": "http://127.0.0.1"},
            "contact": {"name": "bench", "position": "bench", "address": "-", "city": "-", "stateorprovince": "-",
                        "postalcode": "-", "country": "-", "phone": "-", "fax": "-", "email": "bench@example.org",
                        "url": "http://127.0.0.1", "hours": "-", "instructions": "-", "role": "pointOfContact"},
        },
        "resources": resources,
    }
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # it holds the DB password
    with os.fdopen(fd, "w") as fh:
        yaml.safe_dump(config, fh, allow_unicode=True, sort_keys=False)


def make_servers(names, workers: int, dsn: dict, tables: dict, bounds_lonlat, workdir: Path,
                 ours_tree: Path | None = None) -> dict:
    pw = urllib.parse.quote(dsn["password"], safe="")
    tcp = f"geoplatform:{pw}@{dsn['host']}:{dsn['port']}/{dsn['dbname']}"
    base_env = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "VIRTUAL_ENV", "PYTHONPATH"}}
    servers = {}
    for name in names:
        port = free_port()
        cwd = ROOT
        if name == "ours":
            env = dict(base_env, DATABASE_URL=f"postgis://{tcp}")
            cmd = [cli(), "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers), "--no-jobs"]
            if ours_tree:  # another checkout (e.g. with a candidate fix), run with this venv and data
                cwd = ours_tree
                env |= {"PYTHONPATH": str(ours_tree), "GEOPLATFORM_DATA_DIR": str(data_dir().parent)}
                cmd = [sys.executable, "-m", "geoplatform.cli", *cmd[1:]]
            ready = f"/ogcapi/collections/{tables['points'][0]}"
        elif name == "tipg":
            venv = ensure_venv("tipg")
            env = dict(base_env, DATABASE_URL=f"postgresql://{tcp}", TIPG_DB_SCHEMAS='["data"]',
                       TIPG_DB_TABLES=json.dumps([f"data.{t}" for _s, t in tables.values()]))
            cmd = [str(venv / "bin" / "uvicorn"), "tipg.main:app", "--host", "127.0.0.1", "--port", str(port),
                   "--workers", str(workers)]
            ready = f"/collections/data.{tables['points'][1]}"
        elif name == "pygeoapi":
            venv = ensure_venv("pygeoapi")
            config, openapi = workdir / "pygeoapi-config.yml", workdir / "pygeoapi-openapi.yml"
            pygeoapi_config(config, port, dsn, tables, bounds_lonlat)
            env = dict(base_env, PYGEOAPI_CONFIG=str(config), PYGEOAPI_OPENAPI=str(openapi))
            proc = subprocess.run([str(venv / "bin" / "pygeoapi"), "openapi", "generate", str(config),
                                   "--output-file", str(openapi)], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True)
            if proc.returncode != 0:
                raise RuntimeError(f"pygeoapi openapi generate exited {proc.returncode}: {proc.stdout[-1500:]}")
            cmd = [str(venv / "bin" / "gunicorn"), "pygeoapi.flask_app:APP", "--bind", f"127.0.0.1:{port}",
                   "--workers", str(workers), "--timeout", "300"]
            ready = f"/collections/{tables['points'][0]}?f=json"
        else:
            raise ValueError(name)
        servers[name] = Server(name, cmd, env, port, ready, workdir, cwd)
    return servers


# ---------------------------------------------------------------------------- scenarios

def param_sets(seed: int):
    """PARAM_SETS parameter sets per scenario, in lon/lat (CRS84), the same for every server."""
    from pyproj import Transformer

    to_lonlat = Transformer.from_crs(SOURCE_EPSG, 4326, always_xy=True)
    rng = random.Random(seed)
    x0, y0, x1, y1 = KORLA
    margin = 1_000.0

    def centre():
        return rng.uniform(x0 + margin, x1 - margin), rng.uniform(y0 + margin, y1 - margin)

    def box(half: float):
        x, y = centre()
        return to_lonlat.transform_bounds(x - half, y - half, x + half, y + half)

    sets = {
        "bbox": [box(400.0) for _ in range(PARAM_SETS)],
        "cql-attr": [(rng.randrange(300_000, 900_000, 1000), rng.choice(KINDS)) for _ in range(PARAM_SETS)],
        "dwithin": [to_lonlat.transform(*centre()) for _ in range(PARAM_SETS)],
        "bld-bbox": [box(800.0) for _ in range(PARAM_SETS)],
    }
    return sets


def fmt_bbox(b) -> str:
    return ",".join(f"{v:.6f}" for v in b)


def urls_for(server: str, scenario: str, params, tables: dict, variant: str = "default") -> list[str]:
    """The request paths of one scenario on one server. `variant` picks another filter syntax."""
    source = "buildings" if scenario.startswith("bld") else "points"
    slug, table = tables[source]
    if server == "ours":
        base, extra = f"/ogcapi/collections/{slug}/items", {}
        filter_lang = {"filter-lang": "cql2-text"}
    elif server == "tipg":
        base, extra = f"/collections/data.{table}/items", {"f": "geojson"}
        filter_lang = {"filter-lang": "cql2-text"}
    else:
        base, extra = f"/collections/{slug}/items", {"f": "json"}
        filter_lang = {}  # pygeoapi 0.21 parses `filter` as (E)CQL text; `filter-lang` may only be cql-text
    out = []
    for p in params:
        q = {"limit": PAGE, **extra}
        if scenario in {"bbox", "bld-bbox"}:
            q["bbox"] = fmt_bbox(p)
            if variant == "bbox-crs-4490":  # pygeoapi workaround, see probe()
                q["bbox-crs"] = "http://www.opengis.net/def/crs/EPSG/0/4490"
        elif scenario == "cql-attr":
            code, kind = p
            q |= {"filter": f"code < {code} AND kind = '{kind}'"} | filter_lang
        elif scenario == "dwithin":
            lon, lat = p
            if variant == "ecql-dwithin":
                text = f"DWITHIN(geom, POINT({lon:.6f} {lat:.6f}), 500, meters)"
            else:
                text = f"S_DWITHIN(geom, POINT({lon:.6f} {lat:.6f}), 500)"
            q |= {"filter": text} | filter_lang
        out.append(base + "?" + urllib.parse.urlencode(q))
    return out


VARIANTS = {  # tried in order until one answers correctly
    "ours": {s: ["default"] for s in SCENARIOS},
    "tipg": {s: ["default"] for s in SCENARIOS},
    "pygeoapi": {"bbox": ["default", "bbox-crs-4490"], "bld-bbox": ["default", "bbox-crs-4490"],
                 "cql-attr": ["default"], "dwithin": ["default", "ecql-dwithin"]},
}
VARIANT_NOTES = {
    "bbox-crs-4490": "bbox given as lon/lat with bbox-crs=EPSG:4490 (pygeoapi swaps CRS84 bboxes into "
                     "EPSG:4490's lat/lon axis order, then builds ST_MakeEnvelope(lat, lon, …))",
    "ecql-dwithin": "ECQL DWITHIN(geom, POINT(lon lat), 500, meters) instead of CQL2 S_DWITHIN",
}
WRONG_NOTES = {  # why a variant answers with other features than ours
    ("pygeoapi", "ecql-dwithin"): "pygeofilter's SQLAlchemy backend emits ST_DWithin(geom, point, 500) on the geometry "
                                  "column, ignoring `meters`: the distance is in CRS units (degrees for EPSG:4490), so "
                                  "500 means 500° and every feature matches",
}

RETURNED = re.compile(rb'"numberReturned"\s*:\s*(\d+)')


def feature_ids(body: bytes) -> list[int]:
    data = json.loads(body)
    return [int(f["id"]) for f in data.get("features", [])]


def probe(server: Server, scenario: str, sets: dict, tables: dict, reference: dict) -> dict:
    """One request per variant: which syntax works and returns ours' features."""
    reasons = []
    for variant in VARIANTS[server.name][scenario]:
        urls = urls_for(server.name, scenario, sets[scenario], tables, variant)
        try:
            status, body, _headers = get(server.port, urls[0])
        except OSError as exc:
            reasons.append(f"{variant}: {exc}")
            continue
        if status != 200:
            text = body[:300].decode(errors="replace").replace("\n", " ")
            reasons.append(f"{variant}: HTTP {status} {text}")
            continue
        try:
            ids = feature_ids(body)
        except (ValueError, KeyError, TypeError) as exc:
            reasons.append(f"{variant}: unreadable answer ({exc})")
            continue
        if len(ids) != PAGE:
            reasons.append(f"{variant}: {len(ids)} features instead of {PAGE}")
            continue
        if server.name == "ours":
            reference[scenario] = ids
        elif scenario in reference and ids != reference[scenario]:
            differ = len(set(ids) ^ set(reference[scenario]))
            why = WRONG_NOTES.get((server.name, variant))
            reasons.append(f"{variant}: 1,000 features but {differ} ids differ from ours" + (f" ({why})" if why else ""))
            continue
        return {"ok": True, "urls": urls, "variant": variant, "reasons": reasons}
    return {"ok": False, "reasons": reasons}


# ---------------------------------------------------------------------------- load

def load(server: Server, urls: list[str], clients: int, seconds: float, offset: int = 0) -> dict:
    """`clients` threads, each with its own connection, for `seconds`; latencies of every request."""
    start = time.perf_counter()
    deadline = start + seconds
    per_thread: list[list] = [[] for _ in range(clients)]
    errors: list[Counter] = [Counter() for _ in range(clients)]

    def run(k: int):
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
        i = offset + k
        lat, err = per_thread[k], errors[k]
        while time.perf_counter() < deadline:
            path = urls[i % len(urls)]
            i += clients
            t0 = time.perf_counter()
            try:
                conn.request("GET", path, headers=HEADERS)
                resp = conn.getresponse()
                body = resp.read()
                if resp.will_close:
                    conn.close()
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                err[type(exc).__name__] += 1
                continue
            t1 = time.perf_counter()
            if resp.status != 200:
                err[f"HTTP {resp.status}"] += 1
                continue
            m = RETURNED.search(body)
            if not m or int(m.group(1)) != PAGE:
                err["not 1000 features"] += 1
                continue
            lat.append((t1, t1 - t0))
        conn.close()

    threads = [threading.Thread(target=run, args=(k,), daemon=True) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    end = max([start] + [t1 for lt in per_thread for t1, _ in lt])
    latencies = sorted(d for lt in per_thread for _, d in lt)
    total_errors = sum(errors, Counter())
    elapsed = max(end - start, 1e-9)
    return {
        "n": len(latencies), "elapsed": elapsed, "rps": len(latencies) / elapsed,
        "p50": percentile(latencies, 50), "p95": percentile(latencies, 95),
        "errors": sum(total_errors.values()), "error_kinds": dict(total_errors),
    }


def percentile(sorted_values: list[float], p: float) -> float | None:
    if not sorted_values:
        return None
    k = (len(sorted_values) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


def timed(server: Server, urls: list[str], args) -> dict:
    """One timed run after a warm-up; repeated (up to --retries times) when a pytest or the ingest
    benchmark ran meanwhile, keeping the first undisturbed run (else the fastest)."""
    runs = []
    for _attempt in range(1 + args.retries):
        wait_for_quiet_cpu()
        load(server, urls, args.clients, args.warmup, offset=len(urls) // 2)
        with Watch() as watch:
            app0 = cpu_by_pid(server.pids())
            me0, m0 = resource.getrusage(resource.RUSAGE_SELF), machine_cpu()
            r = load(server, urls, args.clients, args.duration)
            me1, m1 = resource.getrusage(resource.RUSAGE_SELF), machine_cpu()
            r["machine"] = (m1[0] - m0[0]) / max(m1[1] - m0[1], 1)
            r["app_cpu"] = cpu_delta(app0, cpu_by_pid(server.pids()))
            r["client_cpu"] = (me1.ru_utime + me1.ru_stime) - (me0.ru_utime + me0.ru_stime)
            # Everything else the machine did meanwhile: PostgreSQL (with its parallel workers) when
            # nothing else runs.
            r["other_cpu"] = (m1[0] - m0[0]) / os.sysconf("SC_CLK_TCK") - r["app_cpu"] - r["client_cpu"]
        r["busy"] = watch.seen
        runs.append(r)
        if not r["busy"]:
            return r
        log(f"  ({server.name}: a pytest or the ingest benchmark ran during the timing: "
            f"{r['rps']:.1f} req/s discarded{', again' if _attempt < args.retries else ''})")
    return max(runs, key=lambda x: x["rps"])


# ---------------------------------------------------------------------------- profile

def profile(server: Server, urls: list[str], args, out_dir: Path) -> None:
    """py-spy (in .data/bench/venvs/tools) on every worker while the scenario runs; top frames."""
    tools = ensure_venv("tools")
    workers = server.workers()
    wait_for_quiet_cpu()
    load(server, urls, args.clients, args.warmup, offset=len(urls) // 2)
    spies, files = [], []
    for pid in workers:
        f = out_dir / f"py-spy-{args.profile}-{pid}.txt"
        files.append(f)
        spies.append(subprocess.Popen([str(tools / "bin" / "py-spy"), "record", "-p", str(pid), "-d",
                                       str(int(args.duration)), "-r", "200", "-F", "-f", "raw", "-o", str(f)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    time.sleep(0.5)
    r = load(server, urls, args.clients, args.duration)
    for spy in spies:
        spy.wait(timeout=60)
    log(f"profiled {args.profile} on ours: {r['rps']:.1f} req/s under py-spy (sampling slows it)")
    inclusive, selfs, total, idle = Counter(), Counter(), 0, 0
    for f in files:
        if not f.exists():
            continue
        for line in f.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not count.isdigit():
                continue
            n = int(count)
            if "WSGIHandler.__call__" not in stack:  # a thread waiting for a request
                idle += n
                continue
            total += n
            frames = stack.split(";")
            for frame in set(frames):
                inclusive[frame] += n
            selfs[frames[-1]] += n
    if not total:
        log("  py-spy recorded nothing (ptrace not permitted?)")
        return

    def short(frame: str) -> str:
        return frame.replace(str(ROOT) + "/", "").replace(str(ROOT / ".venv/lib/python3.11/site-packages") + "/", "")

    log(f"  {total} samples inside a request ({idle} idle ones left out); inclusive share of our frames "
        f"(≥ 0.5 %):")
    for frame, n in inclusive.most_common(400):
        if ("layers/" in frame or "geoplatform/" in frame) and n / total >= 0.005:
            log(f"    {100 * n / total:5.1f} %  {short(frame)}")
    log("  top self time inside a request (any frame; psycopg waits = PostgreSQL working):")
    for frame, n in selfs.most_common(25):
        log(f"    {100 * n / total:5.1f} %  {short(frame)}")
    log(f"  raw stacks: {', '.join(str(f) for f in files)}")


# ---------------------------------------------------------------------------- export

def export_check(servers_factory, tables: dict, dsn: dict, out_dir: Path) -> dict:
    """A fresh server of ours; the 1M-point GeoPackage export; time, workers' VmHWM, feature count."""
    import pyogrio

    server = servers_factory()
    server.start()
    try:
        wait_for_quiet_cpu()
        workers = server.workers()
        base = {pid: status_kib(pid, "VmRSS") for pid in workers}
        target = out_dir / "export-bench-f-points.gpkg"
        target.unlink(missing_ok=True)
        slug = tables["points"][0]
        t0 = time.perf_counter()
        first_byte = None
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=600)
        conn.request("GET", f"/ogcapi/collections/{slug}/export?format=gpkg", headers={"Accept-Encoding": "identity"})
        resp = conn.getresponse()
        size = 0
        with open(target, "wb") as fh:
            while chunk := resp.read(1 << 20):
                if first_byte is None:
                    first_byte = time.perf_counter() - t0
                fh.write(chunk)
                size += len(chunk)
        seconds = time.perf_counter() - t0
        conn.close()
        hwm = {pid: status_kib(pid, "VmHWM") for pid in workers}
        if resp.status != 200:
            raise RuntimeError(f"export answered HTTP {resp.status}: {target.read_bytes()[:300]!r}")
        info = pyogrio.read_info(target)
        count = int(info["features"])
        result = {"seconds": seconds, "first_byte": first_byte, "bytes": size, "count": count,
                  "hwm_mib": max(v for v in hwm.values() if v) / 1024,
                  "base_mib": max(v for v in base.values() if v) / 1024}
    finally:
        server.stop()
        (out_dir / "export-bench-f-points.gpkg").unlink(missing_ok=True)

    # Anchor: ogr2ogr from the same table to a GeoPackage.
    anchor = out_dir / "export-ogr2ogr.gpkg"
    anchor.unlink(missing_ok=True)
    pg = (f"PG:host={dsn['host']} port={dsn['port']} dbname={dsn['dbname']} user={dsn['user']}")
    cmd = ["ogr2ogr", "-f", "GPKG", str(anchor), pg, f"data.{tables['points'][1]}", "-nln", slug]
    if TIME.exists():
        cmd = [str(TIME), "-f", "__maxrss_kib=%M", *cmd]
    wait_for_quiet_cpu()
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, env=dict(os.environ, PGPASSWORD=dsn["password"]), stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True)
    result["ogr_seconds"] = time.perf_counter() - t0
    m = re.search(r"__maxrss_kib=(\d+)", proc.stderr)
    result["ogr_rss_mib"] = int(m.group(1)) / 1024 if m else None
    if proc.returncode == 0:
        result["ogr_count"] = int(pyogrio.read_info(anchor)["features"])
    else:
        result["ogr_error"] = proc.stderr.strip()[-500:]
    anchor.unlink(missing_ok=True)
    return result


# ---------------------------------------------------------------------------- main

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=20.0, help="timed seconds per server and scenario (default 20)")
    parser.add_argument("--warmup", type=float, default=3.0, help="warm-up seconds before each (default 3)")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients (default 8)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes of every server (default 2)")
    parser.add_argument("--only", default=",".join(SERVERS), help="servers to run, comma-separated (default all)")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help="comma-separated (default all)")
    parser.add_argument("--no-export", action="store_true", help="skip the export check")
    parser.add_argument("--no-load", action="store_true", help="skip the load test (export check only)")
    parser.add_argument("--retries", type=int, default=2,
                        help="re-runs of a timing that a pytest or the ingest benchmark disturbed (default 2)")
    parser.add_argument("--max-wait", type=int, default=900,
                        help="seconds to wait for a quiet CPU before each timed run (default 900)")
    parser.add_argument("--ours-tree", type=Path, help="serve ours from this checkout instead (e.g. a copy with a fix)")
    parser.add_argument("--profile", choices=SCENARIOS, help="instead of timing: py-spy our workers during one scenario")
    args = parser.parse_args()
    global QUIET_MAX
    QUIET_MAX = args.max_wait
    names = [s for s in SERVERS if s in args.only.split(",")]
    scenarios = [s for s in SCENARIOS if s in args.scenarios.split(",")]
    if args.profile:
        names, scenarios, args.no_export = ["ours"], [args.profile], True

    atexit.register(stop_all)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    dsn = django_dsn()
    from pyproj import Transformer

    out_dir = work_dir()
    out_dir.mkdir(parents=True, exist_ok=True)
    started = datetime.now(timezone.utc)
    log(f"bench/features.py  {started:%Y-%m-%d %H:%M} UTC  {os.cpu_count()} cores  "
        f"servers {', '.join(names)}  scenarios {', '.join(scenarios)}  "
        f"{args.clients} clients, {args.workers} workers each, {args.warmup:g} s warm-up + {args.duration:g} s")
    tables = ensure_layers()
    log("layers: " + ", ".join(f"{slug} (data.{table})" for slug, table in tables.values()))
    to_lonlat = Transformer.from_crs(SOURCE_EPSG, 4326, always_xy=True)
    bounds = to_lonlat.transform_bounds(*KORLA)
    sets = param_sets(SEED)

    versions = {}
    servers = {}
    failed: dict[str, str] = {}  # peer -> why it was not measured
    if not args.no_load:
        for name in names:
            try:
                servers[name] = make_servers([name], args.workers, dsn, tables, bounds, out_dir, args.ours_tree)[name]
            except (RuntimeError, OSError, subprocess.CalledProcessError) as exc:
                if name == "ours":
                    raise
                failed[name] = f"setup failed: {exc}"
                log(f"  {name} NOT measured: {failed[name]}")
        for name in ("tipg", "pygeoapi"):
            if name in servers:
                versions[name] = pip_version(venv_dir(name), name)
        for name, server in list(servers.items()):
            log(f"starting {name} on port {server.port} …")
            try:
                server.start()
            except RuntimeError as exc:
                if name == "ours":
                    raise
                failed[name] = str(exc)
                log(f"  {name} NOT measured: {exc}")
                servers.pop(name).stop()

    reference: dict = {}
    probes: dict = defaultdict(dict)
    results: dict = defaultdict(dict)
    if not args.no_load:
        for scenario in scenarios:
            for name, server in servers.items():  # ours first: its ids are the reference
                probes[scenario][name] = p = probe(server, scenario, sets, tables, reference)
                if not p["ok"]:
                    log(f"  {name} {scenario}: not measured: {'; '.join(p['reasons'])}")
                    if name == "ours":
                        raise RuntimeError(f"our server fails {scenario}: {p['reasons']}")
                elif p["variant"] != "default":
                    log(f"  {name} {scenario}: {VARIANT_NOTES[p['variant']]}; {'; '.join(p['reasons'])[:300]}")

        if args.profile:
            profile(servers["ours"], probes[args.profile]["ours"]["urls"], args, out_dir)
            return 0

        log()
        log(f"{'scenario':<9} {'server':<9} {'req/s':>7} {'p50 ms':>7} {'p95 ms':>7} {'errors':>6} "
            f"{'app CPU ms/req':>14} {'rest CPU ms/req':>15} {'client CPU %':>12} {'machine busy %':>14}")
        for i, scenario in enumerate(scenarios):
            # Rotate the order so no server always runs right after the same one.
            order = [n for n in servers if probes[scenario][n]["ok"]]
            order = order[i % len(order):] + order[:i % len(order)] if order else order
            for name in order:
                if not layers_still_there():
                    raise RuntimeError("the bench layers disappeared during the run (another bench deleting "
                                       "`bench-*` layers?)")
                r = timed(servers[name], probes[scenario][name]["urls"], args)
                results[scenario][name] = r
                per = max(r["n"], 1)
                pg = f"{1000 * r['other_cpu'] / per:>15.1f}"
                log(f"{scenario:<9} {name:<9} {r['rps']:>7.1f} {1000 * (r['p50'] or 0):>7.1f} "
                    f"{1000 * (r['p95'] or 0):>7.1f} {r['errors']:>6} {1000 * r['app_cpu'] / per:>14.1f} {pg} "
                    f"{100 * r['client_cpu'] / r['elapsed']:>12.0f} {100 * r['machine']:>14.0f}"
                    + (f"  {r['error_kinds']}" if r["errors"] else "") + ("  [busy: pytest/ingest seen]" if r["busy"] else ""))
        for server in list(servers.values()):
            server.stop()

    export = None
    if not args.no_export:
        log()
        log("export check: a fresh server of ours, GET /ogcapi/collections/bench-f-points/export?format=gpkg …")

        def fresh():
            return make_servers(["ours"], args.workers, dsn, tables, bounds, out_dir, args.ours_tree)["ours"]

        export = export_check(fresh, tables, dsn, out_dir)

    # ---------------------------------------------------------------- summary
    log()
    log(f"== summary ({started:%Y-%m-%d}, {os.cpu_count()} cores, {args.clients} clients, {args.workers} workers/server, "
        f"{args.duration:g} s per run; versions: "
        + ", ".join(f"{k} {v}" for k, v in versions.items()) + ")")
    if results:
        peers = [n for n in names if n != "ours"]
        header = "| scenario | " + " | ".join(f"{n} req/s (p50 / p95 ms)" for n in names) + " | ours / faster peer |"
        log(header)
        log("|" + "---|" * (len(names) + 2))
        for scenario in scenarios:
            cells = []
            for n in names:
                r = results[scenario].get(n)
                if r is None:
                    p = probes[scenario].get(n)
                    cells.append("not measured" if p is None else "not supported")
                else:
                    cells.append(f"{r['rps']:.1f} ({1000 * r['p50']:.0f} / {1000 * r['p95']:.0f})"
                                 + (f", {r['errors']} errors" if r["errors"] else ""))
            peer_rps = [results[scenario][n]["rps"] for n in peers if n in results[scenario]]
            ours = results[scenario].get("ours")
            if ours and peer_rps:
                ratio = ours["rps"] / max(peer_rps)
                verdict = f"**{ratio:.2f}** ({'met' if ratio >= 1.5 else 'NOT met'})"
            else:
                verdict = "n/a (no peer measured)"
            log(f"| {scenario} | " + " | ".join(cells) + f" | {verdict} |")
        log("target: ours ≥ 1.5 × the faster peer's requests/s")
        for n, why in failed.items():
            log(f"- {n}: not measured: {why[:600]}")
        for scenario in scenarios:
            for n in names:
                p = probes[scenario].get(n)
                if p and not p["ok"]:
                    log(f"- {n} {scenario}: not supported: {'; '.join(p['reasons'])[:400]}")
                elif p and p["variant"] != "default":
                    log(f"- {n} {scenario}: measured with {VARIANT_NOTES[p['variant']]}; {'; '.join(p['reasons'])[:300]}")
    if export:
        ok_t, ok_m = export["seconds"] < 60, export["hwm_mib"] < 500
        log(f"export gpkg, 1,000,000 points: {export['seconds']:.1f} s (first byte {export['first_byte']:.1f} s), "
            f"{export['bytes'] / 2**20:.0f} MB, {export['count']:,} features; worker peak RSS {export['hwm_mib']:.0f} MB "
            f"(idle {export['base_mib']:.0f} MB)  targets < 60 s: {'met' if ok_t else 'NOT met'}, "
            f"< 500 MB: {'met' if ok_m else 'NOT met'}")
        if "ogr_error" in export:
            log(f"anchor ogr2ogr failed: {export['ogr_error']}")
        else:
            rss = f"{export['ogr_rss_mib']:.0f} MB" if export["ogr_rss_mib"] else "n/a"
            log(f"anchor ogr2ogr PG → GPKG: {export['ogr_seconds']:.1f} s, peak RSS {rss}, "
                f"{export['ogr_count']:,} features; time ratio ours/ogr2ogr {export['seconds'] / export['ogr_seconds']:.2f}")
        if export["count"] != N_POINTS:
            log(f"FAILED: the export holds {export['count']:,} features, expected {N_POINTS:,}")
            return 1
    return 0


if __name__ == "__main__":
    run(main)
