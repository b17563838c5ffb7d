from django.core.management import call_command
from django.core.management.base import BaseCommand

from ingest.pipeline import recover_stale_jobs


class Command(BaseCommand):
    help = "Run background jobs (web ingest uploads) from the PostgreSQL queue. Run as many as you like, anywhere."

    def add_arguments(self, parser):
        parser.add_argument("--concurrency", type=int, default=1)

    def handle(self, *args, concurrency, **options):
        if recovered := recover_stale_jobs():
            self.stderr.write(f"marked interrupted jobs failed: {', '.join(map(str, recovered))}")
        call_command("procrastinate", "worker", "--queues", "ingest", "--concurrency", str(concurrency))
