"""One Redis client per thread for ``REDIS_URL``: rate limits, API throttling, live-work markers.

redis-py's connection pool reconnects after a fork by itself; a changed ``REDIS_URL`` (tests,
benchmarks) gets a new client.
"""

from __future__ import annotations

import threading

import redis
from django.conf import settings

SOCKET_TIMEOUT_SECONDS = 5

_local = threading.local()


def client() -> redis.Redis:
    cached = getattr(_local, "client", None)
    if cached is None or getattr(_local, "url", None) != settings.REDIS_URL:
        cached = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=SOCKET_TIMEOUT_SECONDS)
        _local.client, _local.url = cached, settings.REDIS_URL
    return cached
