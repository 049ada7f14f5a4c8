"""Start the web server and a scoring worker (with the reaper's beat) together; Ctrl-C stops
both. This is what `make run` serves; production runs gunicorn and `celery worker` as separate
services."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run gunicorn and a Celery worker (queue 'scoring', with beat) until Ctrl-C."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--web-workers", type=int, default=2)
        parser.add_argument("--concurrency", type=int, default=2, help="Scoring processes.")

    def handle(self, *args, host, port, web_workers, concurrency, **options):
        bin_dir = os.path.dirname(sys.executable)
        commands = {
            "web": [
                os.path.join(bin_dir, "gunicorn"),
                "config.wsgi",
                "--bind",
                f"{host}:{port}",
                "--workers",
                str(web_workers),
                "--access-logfile",
                "-",
            ],
            "worker": [
                os.path.join(bin_dir, "celery"),
                "-A",
                "config",
                "worker",
                "--beat",
                "--schedule",
                settings.CELERY_BEAT_SCHEDULE_FILENAME,
                "--queues",
                "scoring",
                "--concurrency",
                str(concurrency),
                "--loglevel",
                "INFO",
            ],
        }
        # `kill` (SIGTERM) must stop the children too, as Ctrl-C does: turn it into an exit so
        # that the `finally` below runs.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        processes = {
            name: subprocess.Popen(cmd, cwd=settings.BASE_DIR) for name, cmd in commands.items()
        }
        self.stdout.write(
            self.style.SUCCESS(f"Serving http://{host}:{port}/  (Ctrl-C stops web and worker)")
        )
        try:
            while True:
                for name, process in processes.items():
                    if process.poll() is not None:
                        self.stderr.write(f"The {name} process exited ({process.returncode}).")
                        return
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            for process in processes.values():
                if process.poll() is None:
                    process.send_signal(signal.SIGTERM)
            for process in processes.values():
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
