"""The static front of `geoplatform serve`: Debian's nginx in front of gunicorn.

Cached public tiles are plain files; nginx sends them about 30 times faster than the app can
(shared/STACK.md). So nginx listens on the public address, serves `/static/` and, for requests
without credentials, the public tile caches that `tiles.front` links (never anything else), and
hands every other request, and every miss, to gunicorn on a unix socket. It has no cache of its
own: a tile the app deleted is a miss at the next request.

Everything nginx needs at run time (configuration, pid, temporary files, the app's socket, the
access log) lives in one directory of ours, by default `DATA_DIR/front/<port>`; the system's
nginx service and /etc/nginx are not used (only its mime.types).
"""

import contextlib
import ctypes
import grp
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.template import Context, Engine

NGINX = "/usr/sbin/nginx"
NJS_MODULE = Path("/usr/lib/nginx/modules/ngx_http_js_module.so")  # libnginx-mod-http-js
MIME_TYPES = Path("/etc/nginx/mime.types")
TEMPLATES = Path(__file__).parent / "templates" / "front"
# Uploads: the app sets no size limit of its own; archives may expand to 20 GiB (ingest.readers).
MAX_BODY = "20g"
MVT = "application/vnd.mapbox-vector-tile"
VT_CACHE_CONTROL = "public, max-age=86400"  # tiles.views.tile for public layers
STATIC_CACHE_CONTROL = "max-age=60, public"  # WhiteNoise's default for unversioned file names
VARY = "Cookie, Authorization"  # what the app's tile answers vary on


def available() -> bool:
    return os.access(NGINX, os.X_OK)


def default_dir(port: int) -> Path:
    return Path(settings.DATA_DIR) / "front" / str(port)


def _raster_cache_control() -> str:
    """What MapProxy sends with a cached tile: `public, max-age=…` from its `expires_hours` (our
    generated configuration keeps MapProxy's default)."""
    from mapproxy.config import defaults

    seconds = int(defaults.tiles["expires_hours"] * 3600)
    return f"public, max-age={seconds}, s-maxage={seconds}"


def _tms_rows() -> dict[str, list[int]]:
    """Rows per level of each grid, from MapProxy's own grid objects: the TMS row y (from the
    south) is stored as rows - 1 - y (MapProxy's file cache counts from the north, like WMTS)."""
    from mapproxy.config.loader import ProxyConfiguration

    from tiles.mapproxy.grids import GRID_CONF, GRIDS

    conf = ProxyConfiguration({"grids": GRID_CONF}, conf_base_dir=str(settings.TILES_DIR))
    rows = {}
    for name in GRIDS:
        grid = conf.grids[name].tile_grid()
        rows[name] = [grid.grid_sizes[z][1] for z in range(len(grid.grid_sizes))]
    return rows


def _listen(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _credentials_variable() -> str:
    """nginx variable holding Django's session cookie; the whole Cookie header if the cookie's name
    cannot be a variable name (then any cookie sends a tile request to the app: slower, still right)."""
    name = settings.SESSION_COOKIE_NAME
    return f"$cookie_{name}" if re.fullmatch(r"[A-Za-z0-9_]+", name) else "$http_cookie"


def _preexec():
    """Children die with `serve` (PR_SET_PDEATHSIG), even when it is killed outright: no orphan
    nginx keeps the port, no orphan gunicorn keeps serving."""
    parent = os.getppid()
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the parent died before the call
        os._exit(1)


def spawn(args, **kwargs) -> subprocess.Popen:
    return subprocess.Popen(args, preexec_fn=_preexec, **kwargs)


@dataclass
class Front:
    run_dir: Path
    host: str
    port: int
    timeout: int  # gunicorn's: nginx waits at least as long for an answer

    def __post_init__(self):
        self.run_dir = Path(self.run_dir).resolve()  # nginx's prefix, and how stop_stale knows ours

    @property
    def socket(self) -> Path:
        return self.run_dir / "app.sock"

    @property
    def conf(self) -> Path:
        return self.run_dir / "nginx.conf"

    @property
    def pid_file(self) -> Path:
        return self.run_dir / "nginx.pid"

    @property
    def bind(self) -> str:
        """gunicorn's address."""
        return f"unix:{self.socket}"

    def context(self) -> dict:
        from tiles.front import ACCEL_PREFIX
        from tiles.mapproxy.grids import GRIDS

        user = None
        if os.geteuid() == 0:  # workers read the caches the app writes (mode 0600): same user
            user = f"{pwd.getpwuid(os.geteuid()).pw_name} {grp.getgrgid(os.getegid()).gr_name}"
        njs = NJS_MODULE.exists()
        return {
            "run": self.run_dir, "listen": _listen(self.host, self.port), "socket": self.socket, "user": user,
            "mime_types": MIME_TYPES if MIME_TYPES.exists() else None,
            "static_url": "/" + settings.STATIC_URL.strip("/") + "/", "static_root": Path(settings.STATIC_ROOT),
            "front_root": Path(settings.TILES_DIR) / "front", "vt_root": Path(settings.TILES_DIR) / "vt",
            "accel_prefix": ACCEL_PREFIX, "credentials": _credentials_variable(),
            "grids": "|".join(GRIDS), "njs": NJS_MODULE if njs else None,
            "tms_rows_json": json.dumps(_tms_rows()) if njs else "{}",
            "raster_cache_control": _raster_cache_control(), "vt_cache_control": VT_CACHE_CONTROL,
            "static_cache_control": STATIC_CACHE_CONTROL, "vary": VARY, "mvt": MVT,
            "max_body": MAX_BODY, "proxy_timeout": self.timeout + 30,
        }

    def write(self) -> None:
        """Render the configuration into the run directory and check it with `nginx -t`."""
        if len(str(self.socket)) > 100:  # sun_path holds 108 bytes
            raise RuntimeError(f"{self.socket}: too long for a unix socket; choose a shorter --front-dir")
        self.run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        (self.run_dir / "tmp").mkdir(exist_ok=True)
        engine = Engine(autoescape=False)
        context = Context(self.context(), autoescape=False)
        for name in ("nginx.conf", "proxy.conf", "tms.js"):
            text = engine.from_string((TEMPLATES / name).read_text()).render(context)
            (self.run_dir / name).write_text(text)
        test = subprocess.run([NGINX, "-t", "-q", "-p", str(self.run_dir), "-c", str(self.conf), "-e", "stderr"],
                              stderr=subprocess.PIPE, text=True)
        if test.returncode:
            raise RuntimeError(f"nginx rejects {self.conf}:\n{test.stderr}")

    def stop_stale(self) -> None:
        """An nginx a killed earlier `serve` left with this very configuration (it holds the port)."""
        try:
            pid = int(self.pid_file.read_text())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except (OSError, ValueError):
            return
        if str(self.conf).encode() not in cmdline:
            return  # the pid was reused by someone else's process
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGQUIT)
            for _ in range(50):
                if not Path(f"/proc/{pid}").exists():
                    return
                time.sleep(0.1)
            os.kill(pid, signal.SIGKILL)

    def wait_for_app(self, app: subprocess.Popen, seconds: float = 60) -> bool:
        """Until gunicorn has bound its socket (then nginx never answers 502 at start)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and app.poll() is None:
            if self.socket.is_socket():
                return True
            time.sleep(0.05)
        return False

    def start(self) -> subprocess.Popen:
        return spawn([NGINX, "-p", str(self.run_dir), "-c", str(self.conf), "-e", "stderr"])

    def clean(self) -> None:
        """Leave the configuration and the access log; the rest is state of the stopped processes."""
        shutil.rmtree(self.run_dir / "tmp", ignore_errors=True)
        for name in ("app.sock", "nginx.pid"):
            (self.run_dir / name).unlink(missing_ok=True)
