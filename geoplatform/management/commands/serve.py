import os
import signal
import subprocess
import sys

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Serve the platform with gunicorn (several worker processes) plus a background-job worker."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=min(2 * (os.cpu_count() or 1) + 1, 8))
        parser.add_argument("--timeout", type=int, default=300, help="seconds (large uploads)")
        parser.add_argument("--no-jobs", action="store_true", help="no background-job worker (run `geoplatform worker` elsewhere)")

    def handle(self, *args, host, port, workers, timeout, no_jobs, **options):
        self.stdout.write(self.style.SUCCESS(f"geoplatform serving at http://{host}:{port}/  (Ctrl-C stops)"))
        self.stdout.flush()
        # Threaded workers: an idle browser connection (preconnect, slow upload) must not hold a
        # whole worker, as it does with gunicorn's sync workers when no buffering proxy is in front.
        web = [sys.executable, "-m", "gunicorn", "geoplatform.wsgi:application", "--bind", f"{host}:{port}",
               "--workers", str(workers), "--worker-class", "gthread", "--threads", "4",
               "--timeout", str(timeout), "--access-logfile", "-"]
        children = [subprocess.Popen(web)]
        if not no_jobs:
            children.append(subprocess.Popen([sys.executable, "-m", "geoplatform.cli", "worker"]))

        def stop(signum, frame):
            for child in children:
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        try:
            # Either process ending ends the service: a supervisor (systemd) restarts it whole.
            while all(child.poll() is None for child in children):
                try:
                    children[0].wait(timeout=1)
                except subprocess.TimeoutExpired:
                    pass
        finally:
            stop(None, None)
            for child in children:
                try:
                    child.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    child.kill()
        sys.exit(children[0].returncode or 0)
