"""A token bucket per recipient domain in Redis, shared by every worker process.

Receiving providers (qq.com, 163.com, corporate gateways) throttle or greylist bursts from one sender;
spreading our sends per domain keeps us below their limits. A limited email is rescheduled for when
a token is due, never failed.
"""

from __future__ import annotations

import threading

import redis
from django.conf import settings

KEY_PREFIX = "mm:notify:rate:"

# Refill, then take one token if there is one; returns the seconds until one is due ("0" if taken).
# Redis' own clock keeps every worker on one time line.
BUCKET_SCRIPT = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) + tonumber(now_parts[2]) / 1000000
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil then
  tokens = burst
  ts = now
end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 60)
return tostring(wait)
"""

_local = threading.local()


def _client() -> redis.Redis:
    # One client per thread; redis-py's pool reconnects after a fork by itself.
    client = getattr(_local, "client", None)
    if client is None or getattr(_local, "url", None) != settings.REDIS_URL:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5)
        _local.client, _local.url = client, settings.REDIS_URL
    return client


def domain_of(email: str) -> str:
    return email.rsplit("@", 1)[-1].lower()


def acquire(domain: str) -> float:
    """Take a send token for ``domain``: 0.0 if we may send now, else the seconds to wait."""
    rate = float(settings.NOTIFICATION_DOMAIN_RATE)
    if rate <= 0:
        return 0.0
    client = _client()
    wait = client.eval(
        BUCKET_SCRIPT, 1, KEY_PREFIX + domain, rate, settings.NOTIFICATION_DOMAIN_BURST
    )
    return float(wait)


def reset(domain: str | None = None) -> None:
    """Forget bucket state (tests and the benchmark)."""
    client = _client()
    if domain is not None:
        client.delete(KEY_PREFIX + domain)
        return
    for key in client.scan_iter(match=KEY_PREFIX + "*"):
        client.delete(key)
