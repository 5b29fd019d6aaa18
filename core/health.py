"""Reachability checks behind ``/healthz``."""

from __future__ import annotations

from collections.abc import Callable

import redis

# The project's Celery app (matchmaker/celery.py, loaded by matchmaker/__init__.py); through
# current_app so that core does not import the wiring package.
from celery import current_app as app
from django.conf import settings
from django.db import connection


def check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - any failure means "down"; the message is reported
        return str(exc) or exc.__class__.__name__
    return None


def check_redis() -> str | None:
    try:
        client = redis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1
        )
        client.ping()
    except Exception as exc:  # noqa: BLE001
        return str(exc) or exc.__class__.__name__
    return None


def queue_consumers(timeout: float = 1.0) -> dict[str, int]:
    """How many answering workers consume each queue (raises when the broker is unreachable)."""
    with app.connection_for_write(settings.REDIS_URL) as conn:
        replies = app.control.inspect(timeout=timeout, connection=conn).active_queues()
    counts: dict[str, int] = {}
    for queues in (replies or {}).values():
        for queue in queues or ():
            counts[queue["name"]] = counts.get(queue["name"], 0) + 1
    return counts


def check_worker(timeout: float = 1.0) -> str | None:
    """Some worker answers, and every queue in ``WORKER_QUEUES`` has a consumer."""
    try:
        consumed = queue_consumers(timeout)
    except Exception as exc:  # noqa: BLE001
        return str(exc) or exc.__class__.__name__
    if not consumed:
        return "no Celery worker answered"
    missing = [name for name in settings.WORKER_QUEUES if name not in consumed]
    if missing:
        return f"no Celery worker consumes the queue(s): {', '.join(missing)}"
    return None


# Read-only facts other apps add to /healthz next to the checks (e.g. the matcher's rebuild
# progress); registered from their AppConfig.ready, since core may not import them.
_STATUS_PROVIDERS: dict[str, Callable[[], dict]] = {}


def register_status(name: str, provider: Callable[[], dict]) -> None:
    _STATUS_PROVIDERS[name] = provider


def status_facts() -> dict[str, dict]:
    facts: dict[str, dict] = {}
    for name, provider in _STATUS_PROVIDERS.items():
        try:
            facts[name] = provider()
        except Exception as exc:  # noqa: BLE001 - a fact that cannot be read is reported, not raised
            facts[name] = {"error": (str(exc) or exc.__class__.__name__)[:300]}
    return facts


def run_checks() -> dict[str, dict]:
    results: dict[str, dict] = {}
    db_error = check_database()
    results["database"] = _entry(db_error)
    redis_error = check_redis()
    results["redis"] = _entry(redis_error)
    # Without a broker there is no way to reach a worker; skip the slow ping.
    worker_error = "broker unreachable" if redis_error else check_worker()
    results["worker"] = _entry(worker_error)
    return results


def _entry(error: str | None) -> dict:
    return {"ok": True} if error is None else {"ok": False, "error": error[:300]}
