"""Fresh listings: the one home of the validity rule of needs and results. A published item is
valid until ``valid_until`` (by default ``LISTING_VALIDITY_MONTHS`` after publication, settable
per item); its organization is reminded ``LISTING_EXPIRY_REMINDER_DAYS`` before, and past that day
the item is marked expired: out of matching and public lists, kept for its organization, which
can renew it in one click (``services.freshness``).

Reminders are announced to subscribers registered at start-up (notifications emails them); the
catalogue may not import notifications.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Callable

from django.conf import settings


def add_months(day: dt.date, months: int) -> dt.date:
    """``day`` plus ``months`` calendar months, clamped to the month's last day (31 Jan + 1 = 28/29 Feb)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def default_valid_until(start: dt.date) -> dt.date:
    """The last valid day of an item published (or renewed) on ``start``."""
    return add_months(start, settings.LISTING_VALIDITY_MONTHS)


def reminder_due_on_or_before(today: dt.date) -> dt.date:
    """Items valid until this day (or earlier) get their reminder now."""
    return today + dt.timedelta(days=settings.LISTING_EXPIRY_REMINDER_DAYS)


# --- events ---------------------------------------------------------------------------------------

_subscribers: list[Callable[..., object]] = []


def subscribe_expiry_events(callback: Callable[..., object]) -> None:
    """``callback(event=..., item=...)`` inside the transaction of the change; ``event`` is
    ``reminder`` (expires soon) or ``expired``; ``item`` is a Need or a Result."""
    if callback not in _subscribers:
        _subscribers.append(callback)


def announce(*, event: str, item) -> None:
    for callback in _subscribers:
        callback(event=event, item=item)
