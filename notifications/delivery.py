"""Delivering outbox rows over SMTP, at most once per successful claim.

The life of a row: ``pending`` → (claimed) ``sending`` → ``sent`` | ``failed`` | ``cancelled``, or
back to ``pending`` with ``next_attempt_at`` after a temporary failure or a rate limit. A worker
claims a row with a filtered UPDATE and goes on only if it changed one row; a claim older than
``NOTIFICATION_CLAIM_TIMEOUT`` belongs to a dead worker and may be taken over, which is the only way
an email can go out twice (the SMTP server accepted it, then the worker died before writing
``sent``); such a duplicate carries the same Message-ID.
"""

from __future__ import annotations

import enum
import logging
import random
import smtplib
from dataclasses import dataclass
from datetime import datetime, timedelta

import redis
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.template import TemplateDoesNotExist, TemplateSyntaxError
from django.utils import timezone

from notifications import ratelimit
from notifications.emails import build_message, render_notification, still_visible
from notifications.models import Notification, NotificationPreference

logger = logging.getLogger(__name__)


class Outcome(enum.StrEnum):
    SENT = "sent"
    SKIPPED = "skipped"  # not claimable: gone, already sent, claimed by a live worker, not yet due
    RETRY = "retry"
    RATE_LIMITED = "rate_limited"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Delivery:
    outcome: Outcome
    retry_in: float | None = None


def backoff_delay(attempts: int) -> float:
    """Seconds before retry number ``attempts``: exponential, capped, with "equal jitter" (half
    fixed, half random) so a burst of failures does not come back at the same instant."""
    ceiling = min(
        settings.NOTIFICATION_RETRY_BACKOFF_MAX,
        settings.NOTIFICATION_RETRY_BACKOFF * 2 ** max(0, attempts - 1),
    )
    return max(1.0, ceiling / 2 + random.uniform(0, ceiling / 2))


def classify_smtp_error(exc: BaseException) -> tuple[bool, str]:
    """(temporary?, message). SMTP 4xx, refused or dropped connections and timeouts are temporary;
    5xx replies are permanent."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _reply in exc.recipients.values()]
        text = "; ".join(
            f"{address}: {code} {reply.decode(errors='replace') if isinstance(reply, bytes) else reply}"
            for address, (code, reply) in exc.recipients.items()
        )
        return bool(codes) and all(400 <= code < 500 for code in codes), f"RCPT refused: {text}"
    if isinstance(exc, smtplib.SMTPResponseException):
        reply = exc.smtp_error
        reply = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
        return not 500 <= exc.smtp_code < 600, f"SMTP {exc.smtp_code} {reply}"
    return True, f"{type(exc).__name__}: {exc}"


def _claimable(now: datetime) -> Q:
    stale = now - timedelta(seconds=settings.NOTIFICATION_CLAIM_TIMEOUT)
    # A retry task may fire a moment before the stored time; a second of slack avoids a lost turn.
    due = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now + timedelta(seconds=1))
    return (Q(status=Notification.Status.PENDING) & due) | Q(
        status=Notification.Status.SENDING, claimed_at__lt=stale
    )


def _claim(notification_id: int, now: datetime) -> bool:
    updated = Notification.objects.filter(_claimable(now), pk=notification_id).update(
        status=Notification.Status.SENDING,
        claimed_at=now,
        attempts=F("attempts") + 1,
        updated_at=now,
    )
    return updated == 1


def _owned(row: Notification):
    """The row while our claim on it still holds."""
    return Notification.objects.filter(
        pk=row.pk, status=Notification.Status.SENDING, claimed_at=row.claimed_at
    )


def _finish(row: Notification, status: str, error: str) -> None:
    _owned(row).update(
        status=status, last_error=error[:2000], next_attempt_at=None, updated_at=timezone.now()
    )


def _reschedule(row: Notification, delay: float, error: str, *, count_attempt: bool = True) -> None:
    now = timezone.now()
    _owned(row).update(
        status=Notification.Status.PENDING,
        claimed_at=None,
        next_attempt_at=now + timedelta(seconds=delay),
        last_error=error[:2000],
        attempts=F("attempts") - (0 if count_attempt else 1),
        updated_at=now,
    )


def _mark_sent(row: Notification) -> None:
    now = timezone.now()
    with transaction.atomic():
        updated = _owned(row).update(
            status=Notification.Status.SENT,
            sent_at=now,
            last_error="",
            next_attempt_at=None,
            updated_at=now,
        )
        if updated and row.is_digest:
            Notification.objects.filter(
                digest=row, status=Notification.Status.HELD_FOR_DIGEST
            ).update(status=Notification.Status.SENT, sent_at=now, updated_at=now)
    if not updated:
        logger.warning("notification %s: claim taken over while sending", row.pk)


def _cancel_reason(row: Notification) -> str:
    recipient = row.recipient
    if not recipient.is_active or not recipient.email:
        return "recipient inactive"
    frequency = (
        NotificationPreference.objects.filter(user=recipient)
        .values_list("frequency", flat=True)
        .first()
    )
    if frequency == NotificationPreference.Frequency.NONE:
        return "unsubscribed"
    if not still_visible(row):
        return "the recipient may no longer see this need"
    if row.is_digest:
        held = row.items.filter(status=Notification.Status.HELD_FOR_DIGEST)
        if not any(still_visible(item) for item in held.select_related("recipient")):
            return "nothing left to send in this digest"
    return ""


def notification_deliver(*, notification_id: int, connection=None) -> Delivery:
    """Claim row ``notification_id`` and send it once. Safe to call any number of times, from any
    number of workers: only the claimant sends, and a sent row is never claimed again."""
    if not _claim(notification_id, timezone.now()):
        return Delivery(Outcome.SKIPPED)
    row = Notification.objects.select_related("recipient").filter(pk=notification_id).first()
    if row is None:
        return Delivery(Outcome.SKIPPED)
    try:
        return _deliver_claimed(row, connection)
    except SoftTimeLimitExceeded:
        delay = backoff_delay(row.attempts)
        _reschedule(row, delay, "soft time limit exceeded")
        return Delivery(Outcome.RETRY, delay)
    except Exception as exc:
        # A bug, not a delivery problem: give the claim back (the attempt counts) and let it show.
        _reschedule(row, backoff_delay(row.attempts), f"{type(exc).__name__}: {exc}")
        raise


def _deliver_claimed(row: Notification, connection) -> Delivery:
    reason = _cancel_reason(row)
    if reason:
        _finish(row, Notification.Status.CANCELLED, reason)
        return Delivery(Outcome.CANCELLED)
    if row.attempts > settings.NOTIFICATION_MAX_ATTEMPTS:
        _finish(
            row,
            Notification.Status.FAILED,
            f"gave up after {row.attempts - 1} attempts; {row.last_error}",
        )
        return Delivery(Outcome.FAILED)

    try:
        wait = ratelimit.acquire(ratelimit.domain_of(row.recipient.email))
    except redis.RedisError as exc:
        delay = backoff_delay(1)
        _reschedule(row, delay, f"rate limiter unavailable: {exc}", count_attempt=False)
        return Delivery(Outcome.RETRY, delay)
    if wait > 0:
        _reschedule(row, wait, "rate limited (recipient domain)", count_attempt=False)
        return Delivery(Outcome.RATE_LIMITED, wait)

    try:
        rendered = render_notification(row)
    except (TemplateDoesNotExist, TemplateSyntaxError) as exc:
        _finish(row, Notification.Status.FAILED, f"template: {exc}")
        return Delivery(Outcome.FAILED)

    try:
        build_message(row, rendered, connection).send()
    except (smtplib.SMTPException, OSError) as exc:
        temporary, error = classify_smtp_error(exc)
        if temporary and row.attempts < settings.NOTIFICATION_MAX_ATTEMPTS:
            delay = backoff_delay(row.attempts)
            _reschedule(row, delay, error)
            logger.info(
                "notification %s: temporary failure, retry in %.0f s: %s", row.pk, delay, error
            )
            return Delivery(Outcome.RETRY, delay)
        _finish(row, Notification.Status.FAILED, error)
        logger.warning("notification %s: failed: %s", row.pk, error)
        return Delivery(Outcome.FAILED)
    _mark_sent(row)
    return Delivery(Outcome.SENT)


def outbox_due_ids(*, now: datetime | None = None, limit: int = 1000) -> list[int]:
    """Rows the sweeper should hand to a worker again: claims gone stale (a worker died), and
    pending rows whose time came a grace period ago without a worker taking them (a lost message,
    a broker outage at commit, a retry too far out for a countdown)."""
    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.NOTIFICATION_CLAIM_TIMEOUT)
    overdue = now - timedelta(seconds=settings.NOTIFICATION_SWEEP_GRACE)
    return list(
        Notification.objects.filter(
            Q(status=Notification.Status.SENDING, claimed_at__lt=stale)
            | Q(status=Notification.Status.PENDING, next_attempt_at__lt=overdue)
            | Q(status=Notification.Status.PENDING, next_attempt_at__isnull=True)
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
