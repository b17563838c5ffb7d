import os
import sys

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Serve the platform with gunicorn (several worker processes)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=min(2 * (os.cpu_count() or 1) + 1, 8))
        parser.add_argument("--timeout", type=int, default=120)

    def handle(self, *args, host, port, workers, timeout, **options):
        url = f"http://{host}:{port}/"
        self.stdout.write(self.style.SUCCESS(f"geoplatform serving at {url}  (Ctrl-C stops)"))
        self.stdout.flush()
        argv = [
            sys.executable, "-m", "gunicorn", "geoplatform.wsgi:application",
            "--bind", f"{host}:{port}",
            "--workers", str(workers),
            "--timeout", str(timeout),
            "--access-logfile", "-",
        ]
        os.execv(sys.executable, argv)
