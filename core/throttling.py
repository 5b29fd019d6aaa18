"""API rate limits counted atomically in Redis, per user.

DRF's own throttles read the request history from the cache, decide, and write it back: requests
arriving together all read the same history and all pass (640 of 640 parallel requests against a
600/minute limit). Here one Lua script trims, counts and records in a single Redis step, on Redis'
own clock, so exactly ``rate`` requests pass per sliding window, whichever web process serves them.

The budget belongs to the user, not to an API token: a second token of the same account shares it.
Anonymous clients are counted per address (DRF's ``get_ident``, which honours
``NUM_PROXIES``). Over the limit: DRF answers 429 with ``Retry-After`` (``wait()``).
"""

from __future__ import annotations

import math
import threading
import uuid

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from core import redis_client

KEY_PREFIX = "mm:throttle:"

# A sliding-window log: the accepted requests of the last ``window`` microseconds, scored by time.
# Returns "0" when the request is accepted (and recorded), else the seconds until the oldest
# accepted request leaves the window.
SLIDING_WINDOW_SCRIPT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local window = tonumber(ARGV[1]) * 1000000
local limit = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], math.ceil(window / 1000))
  return '0'
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return tostring((tonumber(oldest[2]) + window - now) / 1000000)
"""

_local = threading.local()


def _script():
    """The sliding-window script, registered once per thread's client."""
    client = redis_client.client()
    script = getattr(_local, "script", None)
    if script is None or script.registered_client is not client:
        script = _local.script = client.register_script(SLIDING_WINDOW_SCRIPT)
    return script


def take(key: str, *, limit: int, window_seconds: int) -> float:
    """Record one request under ``key`` if fewer than ``limit`` were accepted in the last
    ``window_seconds``: 0.0 if accepted, else the seconds until one more would be."""
    wait = _script()(keys=[KEY_PREFIX + key], args=[window_seconds, limit, uuid.uuid4().hex])
    return float(wait)


class UserRateThrottle(SimpleRateThrottle):
    """``user`` rate per authenticated user (every token and the session share it). The rate is read
    per request, so settings overrides apply."""

    scope = "user"
    default_rate = "600/minute"

    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope) or self.default_rate

    def get_cache_key(self, request, view) -> str | None:
        if request.user and request.user.is_authenticated:
            return f"{self.scope}:user-{request.user.pk}"
        return None

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        if key is None:
            return True
        self.wait_seconds = take(key, limit=self.num_requests, window_seconds=self.duration)
        return self.wait_seconds <= 0

    def wait(self) -> float | None:
        # Retry-After is whole seconds; never 0 for a refused request.
        return max(1, math.ceil(self.wait_seconds))


class AnonRateThrottle(UserRateThrottle):
    """``anon`` rate per client address, for requests without a user."""

    scope = "anon"
    default_rate = "60/minute"

    def get_cache_key(self, request, view) -> str | None:
        if request.user and request.user.is_authenticated:
            return None
        return f"{self.scope}:{self.get_ident(request)}"
