import os
import signal
import subprocess
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from geoplatform import front as static_front
from tiles.mapproxy import mapfile, renderpool
from tiles.mapproxy.config import regenerate
from tiles.mapproxy.paths import paths


class Command(BaseCommand):
    help = ("Serve the platform: nginx in front (static files, cached public tiles) when installed, "
            "gunicorn with several worker processes, and a background-job worker.")

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=min(2 * (os.cpu_count() or 1) + 1, 8))
        parser.add_argument("--timeout", type=int, default=300, help="seconds (large uploads)")
        parser.add_argument("--no-jobs", action="store_true", help="no background-job worker (run `geoplatform worker` elsewhere)")
        parser.add_argument("--front", choices=["nginx", "none"],
                            help=f"static front: nginx (default when {static_front.NGINX} exists) or none (gunicorn alone)")
        parser.add_argument("--render-processes", type=int, default=max(2, os.cpu_count() or 1),
                            help="warm mapserv processes for MapProxy (0: a mapserv per tile, much slower)")
        parser.add_argument("--front-dir", type=Path,
                            help="nginx's configuration, pid, temporary files, socket and log (default DATA_DIR/front/PORT)")

    def handle(self, *args, host, port, workers, timeout, no_jobs, front, front_dir, render_processes, **options):
        if front is None:
            front = "nginx" if static_front.available() else "none"
            if front == "none":
                self.stderr.write(f"notice: {static_front.NGINX} not found (scripts/system-deps.sh installs it): "
                                  "serving without the static front")
        elif front == "nginx" and not static_front.available():
            raise CommandError(f"{static_front.NGINX} not found (scripts/system-deps.sh installs it)")

        nginx = None
        bind = f"{host}:{port}"
        if front == "nginx":
            nginx = static_front.Front(front_dir or static_front.default_dir(port), host, port, timeout)
            nginx.stop_stale()
            try:
                nginx.write()
            except RuntimeError as e:
                raise CommandError(str(e)) from e
            nginx.socket.unlink(missing_ok=True)
            bind = nginx.bind
        where = f"nginx in front, app at {bind}" if nginx else "gunicorn"
        self.stdout.write(self.style.SUCCESS(f"geoplatform serving at http://{host}:{port}/  ({where}; Ctrl-C stops)"))
        self.stdout.flush()

        # Threaded workers: an idle browser connection (preconnect, slow upload) must not hold a
        # whole worker, as it does with gunicorn's sync workers when no buffering proxy is in front.
        web = [sys.executable, "-m", "gunicorn", "geoplatform.wsgi:application", "--bind", bind,
               "--workers", str(workers), "--worker-class", "gthread", "--threads", "4",
               "--timeout", str(timeout), "--access-logfile", "-"]
        if nginx:  # the client's address, as nginx saw it (gunicorn's own peer is the socket)
            web += ["--access-logformat", '%({x-forwarded-for}i)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"']
        pool = None
        if render_processes > 0:
            if renderpool.available():
                regenerate()  # the files mapserv reads at start
                pool = renderpool.RenderPool(paths(), mapfile.MAPSERV, render_processes)
                if not pool.start():
                    self.stderr.write("notice: another process keeps warm mapserv processes for this tiles directory: using them")
            else:
                self.stderr.write(f"notice: {renderpool.CGI_FCGI} not found (scripts/system-deps.sh installs it): "
                                  "one mapserv per tile")
        children = [static_front.spawn(web)]
        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = stopping or signum is not None
            for child in children:
                if child.poll() is None:
                    # nginx: SIGQUIT finishes the requests in flight; SIGTERM would cut them.
                    child.send_signal(signal.SIGQUIT if child is nginx_process else signal.SIGTERM)

        nginx_process = None
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        if not no_jobs:
            children.append(static_front.spawn([sys.executable, "-m", "geoplatform.cli", "worker"]))
        failed = False
        if nginx and not stopping:
            if nginx.wait_for_app(children[0]):
                nginx_process = nginx.start()
                children.append(nginx_process)
            else:  # gunicorn ended, or never bound its socket: nothing for nginx to front
                failed = not stopping
        try:
            # Any process ending ends the service: a supervisor (systemd) restarts it whole.
            while not (stopping or failed) and all(child.poll() is None for child in children):
                try:
                    children[0].wait(timeout=1)
                except subprocess.TimeoutExpired:
                    pass
        finally:
            ended = next((child for child in children if child.poll() is not None), None)
            stop(None, None)
            for child in children:
                try:
                    child.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()
            if nginx:
                nginx.clean()
            if pool:
                pool.stop()
        if stopping:
            sys.exit(0)
        sys.exit((ended.returncode if ended else 1) or 1)
