"""Live matching before the rebuild: the one place that decides who gets the cores.

A rebuild (``reindex``) and live matching (a need just published, an ad-hoc ``POST /api/v1/match/``)
share the machine's cores. Operating-system priority does not give live work enough of them: the
rebuild's worker runs at ``nice 10``, yet torch keeps every core busy, so an encode in the live
worker waits for the rebuild's threads (publish → matches measured 1.6 s p50 during a rebuild on
2 cores, 0.5 s without one).

So the rebuild yields on its own:

- live work registers itself in Redis while it runs (``live()``: a member of one sorted set, scored
  by the time its lease ends, so a worker that dies cannot hold the rebuild up for longer than
  ``MATCHER_LIVE_LEASE_SECONDS``);
- the rebuild encodes in small chunks (``REINDEX_ENCODE_CHUNK`` texts) and re-matches one need at a
  time, and before each it waits while any live work is registered (``yield_to_live()``), for at
  most ``REINDEX_YIELD_MAX_SECONDS`` per wait, so a steady stream of live work slows the rebuild
  down but cannot stop it.

Redis being unreachable never fails live matching or the rebuild: the marker is skipped, and the
rebuild does not wait.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
import uuid
from collections.abc import Iterator

import redis
from django.conf import settings

from core import redis_client

log = logging.getLogger(__name__)

KEY = "mm:matcher:live"
POLL_SECONDS = 0.02

_local = threading.local()  # the live() nesting depth of this thread


@contextlib.contextmanager
def live() -> Iterator[None]:
    """Mark live matching as running for the duration of the block (re-entrant: an inner block
    within the same thread adds nothing)."""
    if getattr(_local, "depth", 0):
        _local.depth += 1
        try:
            yield
        finally:
            _local.depth -= 1
        return
    token = uuid.uuid4().hex
    registered = False
    try:
        redis_client.client().zadd(KEY, {token: time.time() + settings.MATCHER_LIVE_LEASE_SECONDS})
        registered = True
    except redis.RedisError as exc:
        log.warning("live-work marker not set (%s); a running rebuild will not yield", exc)
    _local.depth = 1
    try:
        yield
    finally:
        _local.depth = 0
        if registered:
            try:
                redis_client.client().zrem(KEY, token)
            except redis.RedisError as exc:  # the lease ends it
                log.warning("live-work marker not removed (%s)", exc)


def live_work_running() -> bool:
    """Whether any live matching holds an unexpired marker."""
    client = redis_client.client()
    with client.pipeline() as pipe:
        pipe.zremrangebyscore(KEY, "-inf", time.time())
        pipe.zcard(KEY)
        _removed, running = pipe.execute()
    return running > 0


def yield_to_live() -> float:
    """Wait while live matching runs, at most ``REINDEX_YIELD_MAX_SECONDS``; return the seconds
    waited. Called by the rebuild between its chunks of work."""
    started = time.monotonic()
    deadline = started + settings.REINDEX_YIELD_MAX_SECONDS
    waited = False
    try:
        while live_work_running() and time.monotonic() < deadline:
            waited = True
            time.sleep(POLL_SECONDS)
    except redis.RedisError as exc:
        log.warning("live-work marker unreadable (%s); the rebuild goes on", exc)
    return time.monotonic() - started if waited else 0.0
