"""A token bucket per recipient domain in Redis, shared by every worker process.

Receiving providers (qq.com, 163.com, corporate gateways) throttle or greylist bursts from one sender;
spreading our sends per domain keeps us below their limits. A limited email is rescheduled for when
a token is due, never failed.
"""

from __future__ import annotations

from django.conf import settings

from core import redis_client

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


def domain_of(email: str) -> str:
    return email.rsplit("@", 1)[-1].lower()


def acquire(domain: str) -> float:
    """Take a send token for ``domain``: 0.0 if we may send now, else the seconds to wait."""
    rate = float(settings.NOTIFICATION_DOMAIN_RATE)
    if rate <= 0:
        return 0.0
    client = redis_client.client()
    wait = client.eval(
        BUCKET_SCRIPT, 1, KEY_PREFIX + domain, rate, settings.NOTIFICATION_DOMAIN_BURST
    )
    return float(wait)


def reset(domain: str | None = None) -> None:
    """Forget bucket state (tests and the benchmark)."""
    client = redis_client.client()
    if domain is not None:
        client.delete(KEY_PREFIX + domain)
        return
    for key in client.scan_iter(match=KEY_PREFIX + "*"):
        client.delete(key)
