"""``make run``: embedded services, migrations, demo data, then web + worker + beat in the foreground."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from matchmaker.celery import worker_command
from matchmaker.embedded import start_redis

DEMO_PASSWORD = "demo12345"  # noqa: S105 - published in the README for the local demo only


class Command(BaseCommand):
    help = "Start Redis (unless REDIS_URL is set), migrate, load demo data and serve web, worker and beat."

    def add_arguments(self, parser):
        parser.add_argument("--bind", default=os.environ.get("BIND", "127.0.0.1:8000"))
        parser.add_argument("--no-demo", action="store_true", help="skip loading the demo data")

    def handle(self, *args, bind: str, no_demo: bool, **options):
        children: list[subprocess.Popen] = []
        redis_proc = None
        if not os.environ.get("REDIS_URL"):
            redis_proc = start_redis(settings.VAR_DIR / "redis", settings.EMBEDDED_REDIS_PORT)
        try:
            call_command("migrate", interactive=False, verbosity=0)
            if not no_demo:
                call_command("load_demo", password=DEMO_PASSWORD)
            python = sys.executable
            env = {**os.environ, "REDIS_URL": settings.REDIS_URL}
            children.append(
                self._spawn(
                    [
                        python,
                        "-m",
                        "gunicorn",
                        "matchmaker.wsgi",
                        "--bind",
                        bind,
                        # workers, threads, timeout and the model preload: gunicorn.conf.py
                        "--access-logfile",
                        "-",
                    ],
                    env,
                )
            )
            # One worker per queue, so a burst of emails never delays matching, and a rebuild's
            # batches (queue `reindex`, at a lower CPU priority) never delay live matching.
            for queue, concurrency, worker_env, nice in (
                (settings.CELERY_TASK_DEFAULT_QUEUE, 2, env, 0),
                (settings.CELERY_MAIL_QUEUE, 2, {**env, "WORKER_PRELOAD_MODEL": "0"}, 0),
                (settings.CELERY_REINDEX_QUEUE, 1, env, 10),
            ):
                argv = worker_command(
                    hostname=f"{queue}@%h", queues=[queue], concurrency=concurrency
                )
                children.append(
                    self._spawn(["nice", "-n", str(nice), *argv] if nice else argv, worker_env)
                )
            schedule = settings.VAR_DIR / "celerybeat-schedule"
            children.append(
                self._spawn(
                    [
                        python,
                        "-m",
                        "celery",
                        "-A",
                        "matchmaker",
                        "beat",
                        "--loglevel",
                        "INFO",
                        "--schedule",
                        str(schedule),
                    ],
                    env,
                )
            )
            if not no_demo:
                # Index and match the demo data in the background; idempotent and resumable.
                from matching.tasks import reindex_all

                # Fire and forget: waiting on the result would keep a Redis subscription open
                # here, which complains for 20 s if Ctrl-C stops Redis before the task ends.
                reindex_all.apply_async(ignore_result=True)
            self._banner(bind)
            self._wait(children)
        finally:
            self._stop(children)
            if redis_proc is not None:
                redis_proc.terminate()
                redis_proc.wait(timeout=10)
            self.stdout.write(
                "stopped web, workers, beat and Redis; PostgreSQL keeps running in var/pgdata"
            )

    def _spawn(self, cmd: list[str], env: dict) -> subprocess.Popen:
        # Own process group, so Ctrl-C reaches us once and we stop the children in order.
        return subprocess.Popen(cmd, env=env, start_new_session=True)

    def _banner(self, bind: str) -> None:
        line = "=" * 64
        self.stdout.write(
            self.style.SUCCESS(
                f"\n{line}\n 技术转移撮合平台 is running: http://{bind}/\n"
                f" Demo logins (password {DEMO_PASSWORD}):\n"
                f"   enterprise@demo.example.cn  (企业, 出题人)\n"
                f"   lab@demo.example.cn         (高校院所, 答题人)\n"
                f"   expert@demo.example.cn      (评审专家)\n"
                f"   admin@demo.example.cn       (平台管理员, /admin/)\n"
                f" Mail is written to {settings.EMAIL_FILE_PATH}/\n"
                f" Press Ctrl-C to stop.\n{line}\n"
            )
        )

    def _wait(self, children: list[subprocess.Popen]) -> None:
        stop = {"requested": False}

        def request_stop(signum, frame):
            stop["requested"] = True

        signal.signal(signal.SIGINT, request_stop)
        signal.signal(signal.SIGTERM, request_stop)
        while not stop["requested"]:
            for child in children:
                if child.poll() is not None:
                    self.stderr.write(f"{child.args[2]} exited with {child.returncode}; stopping")
                    return
            time.sleep(0.5)

    def _stop(self, children: list[subprocess.Popen]) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        for child in children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
