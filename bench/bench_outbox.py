"""Outbox throughput: emails per second from ``notify()`` to a loopback SMTP server, end to end.

Each email goes the production way: ``notify()`` writes the outbox row in a transaction, the commit
queues ``notifications.send`` in Redis, a real ``celery worker`` claims the row, renders the
templates, takes a per-domain rate-limit token, sends over SMTP (aiosmtpd on 127.0.0.1) and marks
it sent. Latency is ``sent_at - created_at`` of each row.

Runs against a scratch database (created, then dropped) and a private Redis on a free port, so the
development data is not touched. Knobs: ``BENCH_OUTBOX_N`` (500), ``BENCH_OUTBOX_CONCURRENCY``
(worker processes, 2), ``BENCH_OUTBOX_DOMAINS`` (recipient domains, 50). Figures are printed and
appended to ``var/bench/outbox.jsonl``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


class _Sink:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.count += 1
        return "250 Message accepted for delivery"


def _database_url(db: dict) -> str:
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    if db["HOST"].startswith("/"):
        return f"postgresql://{auth}@/{db['NAME']}?host={db['HOST']}"
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgresql://{auth}@{db['HOST']}{port}/{db['NAME']}"


def _start_worker(env: dict, concurrency: int, log_path: Path) -> subprocess.Popen:
    from django.conf import settings

    from matchmaker.celery import app, worker_command

    log = open(log_path, "ab")  # noqa: SIM115 - owned by the child for its lifetime
    proc = subprocess.Popen(
        worker_command(
            hostname=f"bench-outbox-{os.getpid()}@%h",
            queues=[settings.CELERY_MAIL_QUEUE],
            concurrency=concurrency,
            loglevel="WARNING",
            private=True,
        ),
        cwd=BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"worker exited; see {log_path}")
        if app.control.ping(timeout=0.5):
            return proc
    raise RuntimeError(f"worker not ready; see {log_path}")


def _stop(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def _stop_redis(proc: subprocess.Popen) -> None:
    proc.terminate()
    proc.wait(timeout=10)


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(*, n: int, concurrency: int, domains: int) -> dict:
    from aiosmtpd.controller import Controller
    from django.conf import settings
    from django.db import connection, transaction

    from accounts.models import User
    from matchmaker.celery import app
    from matchmaker.embedded import free_port, start_redis
    from notifications.models import Notification
    from notifications.services import notify

    with contextlib.ExitStack() as cleanup:
        redis_dir = Path(tempfile.mkdtemp(prefix="mm-bench-redis-"))
        redis_port = free_port()
        redis_proc = start_redis(redis_dir, redis_port)
        if redis_proc is not None:
            cleanup.callback(_stop_redis, redis_proc)
        redis_url = f"redis://127.0.0.1:{redis_port}/0"
        settings.REDIS_URL = redis_url
        app.conf.broker_url = app.conf.result_backend = redis_url

        sink = _Sink()
        smtp_port = free_port()
        controller = Controller(sink, hostname="127.0.0.1", port=smtp_port)
        controller.start()
        cleanup.callback(controller.stop)

        connection.settings_dict["TEST"]["NAME"] = "bench_outbox"
        old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, keepdb=False)
        cleanup.callback(connection.creation.destroy_test_db, old_name, verbosity=0)

        env = {
            **os.environ,
            "DATABASE_URL": _database_url(connection.settings_dict),
            "REDIS_URL": redis_url,
            "EMAIL_HOST": "127.0.0.1",
            "EMAIL_PORT": str(smtp_port),
            "SITE_URL": "https://bench.example.cn",
        }
        log_path = Path(tempfile.gettempdir()) / f"mm-bench-outbox-{os.getpid()}.log"
        worker = _start_worker(env, concurrency, log_path)
        cleanup.callback(_stop, worker)

        users = [User(email=f"r{i}@d{i % domains}.bench.cn", name=f"收件人{i}") for i in range(n)]
        for user in users:
            user.set_unusable_password()
        users = User.objects.bulk_create(users)
        started = time.perf_counter()
        # Events arrive in small transactions, as requests and matcher runs would write them.
        for offset in range(0, n, 10):
            with transaction.atomic():
                for user in users[offset : offset + 10]:
                    notify(
                        event_key=f"bench:{user.pk}",
                        recipient=user,
                        template="review_assigned",
                        context={"title": "揭榜挂帅：固态电池界面稳定性"},
                        link="https://bench.example.cn/challenges/x/",
                    )
        created_in = time.perf_counter() - started
        deadline = time.monotonic() + 600
        while Notification.objects.filter(status="sent").count() < n:
            if time.monotonic() > deadline:
                raise RuntimeError("not all emails were sent within 10 minutes")
            time.sleep(0.2)
        elapsed = time.perf_counter() - started

        rows = list(Notification.objects.values_list("created_at", "sent_at", "attempts"))
        latencies = [(sent - created).total_seconds() for created, sent, _a in rows]
        first_created = min(created for created, _s, _a in rows)
        last_sent = max(sent for _c, sent, _a in rows)
        figures = {
            "when": time.strftime("%Y-%m-%d %H:%M:%S"),
            "emails": n,
            "worker_processes": concurrency,
            "recipient_domains": domains,
            "received_by_smtp": sink.count,
            "max_attempts": max(a for _c, _s, a in rows),
            "enqueue_seconds": round(created_in, 2),
            "total_seconds": round(elapsed, 2),
            "emails_per_second": round(n / (last_sent - first_created).total_seconds(), 1),
            "latency_p50_ms": round(statistics.median(latencies) * 1000),
            "latency_p95_ms": round(_percentile(latencies, 0.95) * 1000),
            "latency_max_ms": round(max(latencies) * 1000),
        }
    return figures


def main() -> None:
    n = int(os.environ.get("BENCH_OUTBOX_N", "500"))
    concurrency = int(os.environ.get("BENCH_OUTBOX_CONCURRENCY", "2"))
    domains = int(os.environ.get("BENCH_OUTBOX_DOMAINS", "50"))
    figures = run(n=n, concurrency=concurrency, domains=domains)
    for key, value in figures.items():
        print(f"{key:>20}: {value}", flush=True)
    out = BASE_DIR / "var" / "bench" / "outbox.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(figures, ensure_ascii=False) + "\n")
