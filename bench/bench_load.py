"""The web tier under concurrent clients (issue 17): Locust, headless, against gunicorn.

1. A scratch database ``bench_load`` on the configured server (the development database is never
   touched) gets the demo data (``load_demo``) and, unless ``BENCH_LOAD_INDEX=0``, its index and
   matches (``matching.matcher.reindex``, in this process; not timed).
2. ``BENCH_LOAD_USERS`` (20) demo accounts, members of enterprises and institutions in turn, each
   get an API token and a signed-in session.
3. gunicorn starts as production runs it (``gunicorn.conf.py``: ``GUNICORN_WORKERS`` /
   ``GUNICORN_THREADS`` from the environment, model preloaded per worker, ``DEBUG=0``) on a free
   loopback port, with a private Redis; the run starts once every worker has loaded the model.
   Each read of the mix is first timed alone (``BENCH_LOAD_ALONE_ROUNDS``, 30, one request at a
   time: p50/p95, against the issue's ~30 ms each).
4. Locust (``bench/locustfile.py``) runs ``BENCH_LOAD_USERS`` users (spawned at
   ``BENCH_LOAD_SPAWN_RATE``/s, 5) for ``BENCH_LOAD_SECONDS`` (120) s, each waiting 0.5–1.5 s
   between requests: API needs / results / challenges, the pages /needs/ /results/ /matches/
   /challenges/, and one ad-hoc match (``POST /api/v1/match/``, a real dev demand) in 13.

Prints p50 / p95 / max per endpoint, requests/s and errors; the last line is the JSON, appended to
``var/bench/load.jsonl``. The locust client shares the machine with the server: the load average
before and after is recorded with the figures.
"""

from __future__ import annotations

import csv
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from bench import corpus

BASE_DIR = Path(__file__).resolve().parent.parent
OUT = BASE_DIR / "var" / "bench" / "load.jsonl"
LIST_P95_TARGET_MS = 300
MATCH_P95_TARGET_MS = 1000
MATCH_NAME = "/api/v1/match/"


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


def _prepare_data(index: bool) -> None:
    from django.conf import settings
    from django.core.management import call_command

    from matching.matcher import reindex

    # The demo accounts are signed in by session below, never by password: hash fast.
    hashers = settings.PASSWORD_HASHERS
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    try:
        call_command("load_demo", password=secrets.token_urlsafe(12), verbosity=0)
    finally:
        settings.PASSWORD_HASHERS = hashers
    if index:
        started = time.perf_counter()
        summary = reindex.reindex()
        print(f"   indexed the demo data in {time.perf_counter() - started:.0f} s: {summary}")


def _accounts(n: int) -> list[dict]:
    """``n`` distinct members (enterprise and institution in turn), each with a token and a
    session (created in the scratch database, as a sign-in would)."""
    from django.test import Client

    from accounts.models import Membership, Organization
    from accounts.services import api_token_create

    by_kind: dict[str, list] = {}
    for m in Membership.objects.select_related("user", "organization").order_by("pk"):
        by_kind.setdefault(m.organization.kind, []).append(m.user)
    queues = [
        by_kind.get(Organization.Kind.ENTERPRISE, []),
        by_kind.get(Organization.Kind.INSTITUTION, []),
    ]
    users, seen = [], set()
    while len(users) < n and any(queues):
        for queue in queues:
            while queue:
                user = queue.pop(0)
                if user.pk not in seen:
                    seen.add(user.pk)
                    users.append(user)
                    break
    accounts = []
    for user in users[:n]:
        _token, key = api_token_create(user=user, name="bench_load")
        client = Client()
        client.force_login(user)
        accounts.append(
            {"email": user.email, "token": key, "session": client.cookies["sessionid"].value}
        )
    return accounts


def _start_gunicorn(env: dict, port: int, log_path: Path) -> subprocess.Popen:
    log = open(log_path, "ab")  # noqa: SIM115 - owned by the child for its lifetime
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "matchmaker.wsgi", "--bind", f"127.0.0.1:{port}"],
        cwd=BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    workers = int(env.get("GUNICORN_WORKERS") or os.cpu_count() or 2)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited; see {log_path}")
        preloaded = log_path.read_text(errors="replace").count("embedding model preloaded")
        if preloaded >= workers:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/challenges/", timeout=10)  # noqa: S310
                return proc
            except (urllib.error.URLError, OSError):
                pass
        time.sleep(0.5)
    raise RuntimeError(f"gunicorn not ready; see {log_path}")


# Each read of the mix, timed alone before the load (the bar: about 30 ms each).
ALONE = [
    ("api", "/api/v1/needs/?page_size=20"),
    ("api", "/api/v1/results/?page_size=20"),
    ("api", "/api/v1/challenges/"),
    ("page", "/needs/"),
    ("page", "/results/"),
    ("page", "/matches/"),
    ("page", "/challenges/"),
]
ALONE_P50_TARGET_MS = 30


def _alone(port: int, accounts: list[dict], rounds: int) -> list[dict]:
    """Each read of the mix, one request at a time (no other client): 3 warm-ups, then ``rounds``
    timed requests per account kind (an enterprise's and an institution's member in turn)."""
    rows = []
    for kind, path in ALONE:
        timings = []
        for i in range(rounds + 3):
            account = accounts[i % min(2, len(accounts))]
            headers = (
                {"Authorization": f"Token {account['token']}"}
                if kind == "api"
                else {"Cookie": f"sessionid={account['session']}"}
            )
            request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)
            started = time.perf_counter()
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback
                response.read()
                if response.status != 200:
                    raise RuntimeError(f"{path}: {response.status}")
            if i >= 3:
                timings.append((time.perf_counter() - started) * 1000)
        timings.sort()
        rows.append(
            {
                "endpoint": f"GET {path.split('?')[0]}",
                "requests": len(timings),
                "p50_ms": round(timings[len(timings) // 2], 1),
                "p95_ms": round(timings[min(len(timings) - 1, int(len(timings) * 0.95))], 1),
                "min_ms": round(timings[0], 1),
            }
        )
    return rows


def _stop(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)


def _percentile(histogram: dict, count: int, q: float) -> float | None:
    """A percentile from Locust's response-time histogram (ms bucket -> requests)."""
    if not count:
        return None
    rank, seen = q * count, 0
    for bucket, n in sorted((float(k), v) for k, v in histogram.items()):
        seen += n
        if seen >= rank:
            return bucket
    return None


def _row(name: str, count: int, failures: int, histogram: dict, max_ms: float, rps: float) -> dict:
    return {
        "endpoint": name,
        "requests": count,
        "errors": failures,
        "p50_ms": _percentile(histogram, count, 0.50),
        "p95_ms": _percentile(histogram, count, 0.95),
        "max_ms": round(max_ms) if count else None,
        "rps": round(rps, 2),
    }


def _read_stats(path: Path) -> list[dict]:
    """Per endpoint and in total, from Locust's final JSON stats (``--json-file``)."""
    entries = json.loads(path.read_text(encoding="utf-8"))
    rows, total_hist, total_n, total_f, total_max = [], {}, 0, 0, 0.0
    start = min((e["start_time"] for e in entries), default=0)
    end = max((e["last_request_timestamp"] or e["start_time"] for e in entries), default=0)
    span = max(end - start, 1e-9)
    for e in sorted(entries, key=lambda e: (e["name"], e["method"])):
        n, f = e["num_requests"], e["num_failures"]
        rows.append(
            _row(
                f"{e['method']} {e['name']}",
                n,
                f,
                e["response_times"],
                e["max_response_time"],
                n / span,
            )
        )
        for k, v in e["response_times"].items():
            total_hist[k] = total_hist.get(k, 0) + v
        total_n, total_f = total_n + n, total_f + f
        total_max = max(total_max, e["max_response_time"] or 0)
    rows.append(_row("Aggregated", total_n, total_f, total_hist, total_max, total_n / span))
    return rows


def _read_failures(prefix: Path) -> list[dict]:
    path = Path(f"{prefix}_failures.csv")
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as fh:
        return [
            {
                "endpoint": f"{r['Method']} {r['Name']}",
                "error": r["Error"][:200],
                "count": r["Occurrences"],
            }
            for r in csv.DictReader(fh)
        ]


def main() -> None:
    from django.db import connection

    from matchmaker.embedded import free_port

    users = _env_int("BENCH_LOAD_USERS", 20)
    seconds = _env_int("BENCH_LOAD_SECONDS", 120)
    spawn_rate = _env_int("BENCH_LOAD_SPAWN_RATE", 5)
    index = os.environ.get("BENCH_LOAD_INDEX", "1") != "0"
    workdir = Path(tempfile.mkdtemp(prefix="mm-bench-load-"))
    with corpus.scratch_database("bench_load"), corpus.private_redis() as redis_url:
        _prepare_data(index)
        accounts_path = workdir / "accounts.json"
        texts = [corpus.demand_text(d) for d in corpus.dev_demands()[:50]]
        accounts = _accounts(users)
        accounts_path.write_text(
            json.dumps({"accounts": accounts, "texts": texts}, ensure_ascii=False),
            encoding="utf-8",
        )
        port = free_port()
        env = {
            **os.environ,
            "DATABASE_URL": corpus.database_url(connection.settings_dict),
            "REDIS_URL": redis_url,
            "DEBUG": "0",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "0",
            "SESSION_COOKIE_SECURE": "0",
            "CSRF_COOKIE_SECURE": "0",
            "SECURE_HSTS_SECONDS": "0",
            "LOG_LEVEL": "INFO",
        }
        gunicorn_log = workdir / "gunicorn.log"
        server = _start_gunicorn(env, port, gunicorn_log)
        load_before = corpus.load_average()
        prefix = workdir / "locust"
        try:
            alone = _alone(port, accounts, _env_int("BENCH_LOAD_ALONE_ROUNDS", 30))
            corpus.print_table(f"each read alone, one request at a time; load {load_before}", alone)
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "locust",
                    "-f",
                    str(BASE_DIR / "bench" / "locustfile.py"),
                    "--headless",
                    "--users",
                    str(users),
                    "--spawn-rate",
                    str(spawn_rate),
                    "--run-time",
                    f"{seconds}s",
                    "--host",
                    f"http://127.0.0.1:{port}",
                    "--csv",
                    str(prefix),
                    "--only-summary",
                    "--json-file",
                    str(workdir / "stats"),
                    "--loglevel",
                    "WARNING",
                ],
                cwd=BASE_DIR,
                env={**os.environ, "BENCH_LOAD_ACCOUNTS": str(accounts_path)},
                check=False,
                timeout=seconds + 300,
            )
        finally:
            load_after = corpus.load_average()
            _stop(server)
    rows = _read_stats(workdir / "stats.json")
    failures = _read_failures(prefix)
    endpoints = [r for r in rows if r["endpoint"] != "Aggregated"]
    total = next((r for r in rows if r["endpoint"] == "Aggregated"), {})
    lists = [r for r in endpoints if MATCH_NAME not in r["endpoint"]]
    match = next((r for r in endpoints if MATCH_NAME in r["endpoint"]), None)
    corpus.print_table(
        f"Locust {users} users, {seconds} s, against gunicorn "
        f"(workers {os.environ.get('GUNICORN_WORKERS') or os.cpu_count()}, "
        f"threads {os.environ.get('GUNICORN_THREADS') or 4}); load {load_before} → {load_after}",
        rows,
    )
    for failure in failures:
        print(f"   failure: {failure}")
    met = (
        bool(total)
        and total.get("errors", 1) == 0
        and all((r["p95_ms"] or 0) <= LIST_P95_TARGET_MS for r in lists)
        and (match is None or (match["p95_ms"] or 0) <= MATCH_P95_TARGET_MS)
    )
    line = {
        "bench": "load",
        "when": time.strftime("%Y-%m-%d %H:%M:%S"),
        "users": users,
        "seconds": seconds,
        "indexed": index,
        "gunicorn_workers": int(os.environ.get("GUNICORN_WORKERS") or os.cpu_count() or 2),
        "gunicorn_threads": int(os.environ.get("GUNICORN_THREADS") or 4),
        "endpoints": endpoints,
        "total": total,
        "errors": total.get("errors"),
        "failures": failures,
        "target_met": met,
        "alone": alone,
        "alone_p50_target_met": all(r["p50_ms"] <= ALONE_P50_TARGET_MS for r in alone),
        "load_before": load_before,
        "load_after": load_after,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(line, ensure_ascii=False) + "\n")
    print(json.dumps(line, ensure_ascii=False), flush=True)
