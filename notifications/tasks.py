"""Celery tasks of the outbox. Thin: JSON messages carrying ids; the work is in
``notifications.delivery`` and ``notifications.services``."""

from __future__ import annotations

import redis
from celery import shared_task
from django.conf import settings
from django.db import InterfaceError, OperationalError

from notifications import delivery, services

# Retries further out than this are left to the sweeper: a long countdown would sit unacked in
# Redis past the visibility timeout and be delivered twice (harmless, but pointless).
MAX_COUNTDOWN = 600.0

# Transient infrastructure errors (database, Redis) before or around a send: retried by Celery.
# SMTP failures are not raised: the outbox row records them and schedules its own retry.
TRANSIENT_ERRORS = (OperationalError, InterfaceError, redis.ConnectionError, redis.TimeoutError)


@shared_task(
    name="notifications.send",
    # Nobody reads the result; with it ignored, queuing does not touch the result backend either.
    ignore_result=True,
    # Idempotent by construction (claimed row), so a redelivery after a crash is safe.
    acks_late=True,
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=5,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=8,
    time_limit=settings.NOTIFICATION_SEND_TIME_LIMIT,
    soft_time_limit=settings.NOTIFICATION_SEND_SOFT_TIME_LIMIT,
)
def notification_send(notification_id: int) -> str:
    """Send outbox row ``notification_id`` if it is due and unclaimed; quietly nothing if the row is
    gone or already handled. Temporary failures and rate limits reschedule the row and queue a
    retry for when it is due."""
    result = delivery.notification_deliver(notification_id=notification_id)
    if result.retry_in is not None and result.retry_in <= MAX_COUNTDOWN:
        notification_send.apply_async((notification_id,), countdown=result.retry_in)
    return str(result.outcome)


@shared_task(
    name="notifications.outbox_sweep",
    ignore_result=True,
    acks_late=True,
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=True,
    retry_jitter=True,
    max_retries=3,
    time_limit=120,
    soft_time_limit=100,
)
def outbox_sweep() -> int:
    """Beat, every minute: queue again what is stuck (stale claims, overdue pending rows)."""
    ids = delivery.outbox_due_ids()
    for pk in ids:
        notification_send.delay(pk)
    return len(ids)


@shared_task(
    name="notifications.digests_build",
    ignore_result=True,
    acks_late=True,
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=True,
    retry_jitter=True,
    max_retries=3,
    time_limit=600,
    soft_time_limit=540,
)
def digests_build(frequency: str | None = None) -> int:
    """Beat, every 15 minutes: build the daily/weekly digests that are due (idempotent)."""
    return services.digests_build(frequency=frequency)
