"""Coded answers with deadlines: the one home of the decline reasons, the response deadline and
when a reminder is due. Access requests to summary-public needs use it (``services.access``);
challenges' bids and invitations use the same reasons, deadline rule and per-posting field
(``challenges.services.answers``).

Events (a decline, a reminder, a missed deadline) are announced to subscribers registered at
start-up (notifications emails them); the catalogue may not import notifications.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy


class DeclineReason(models.TextChoices):
    FIELD = "field", gettext_lazy("领域不符")
    MATURITY = "maturity", gettext_lazy("成熟度不够")
    ROUTE = "route", gettext_lazy("技术路线不可行")
    INDICATORS = "indicators", gettext_lazy("指标达不到")
    PRICE = "price", gettext_lazy("报价不合适")
    PARTNER = "partner", gettext_lazy("已有合作方")
    OTHER = "other", gettext_lazy("其他")


MAX_ANSWER_DAYS = 90


def answer_days_field() -> models.PositiveSmallIntegerField:
    """The per-posting answer period (a need's access requests, a challenge's invitations and
    bids): empty means the platform's ``ANSWER_DEADLINE_DAYS``."""
    return models.PositiveSmallIntegerField(
        gettext_lazy("答复期限（天）"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_ANSWER_DAYS)],
        help_text=gettext_lazy("对方提交申请、方案或收到邀请后须在此天数内答复；留空为平台默认。"),
    )


def answer_deadline(start: dt.datetime, *, days: int | None = None) -> dt.datetime:
    """When an answer is due: ``days`` (per need or challenge) or the platform's default."""
    return start + dt.timedelta(days=days if days is not None else settings.ANSWER_DEADLINE_DAYS)


def reminder_due_before(now: dt.datetime) -> dt.datetime:
    """Requests whose deadline falls before this moment get their reminder now."""
    return now + dt.timedelta(hours=settings.ANSWER_REMINDER_HOURS)


def clean_decline(*, reason: str, note: str) -> tuple[str, str]:
    """A decline names one reason from the fixed set; "其他" needs a few words."""
    note = (note or "").strip()
    if reason not in DeclineReason.values:
        raise ValidationError({"reason": [_("请选择拒绝的原因。")]})
    if reason == DeclineReason.OTHER and not note:
        raise ValidationError({"note": [_("选择“其他”时请写明原因。")]})
    return reason, note[:500]


# --- events ---------------------------------------------------------------------------------------

_subscribers: list[Callable[..., object]] = []


def subscribe_answer_events(callback: Callable[..., object]) -> None:
    """``callback(event=..., access=...)`` inside the transaction of the change; events are
    ``declined``, ``reminder`` and ``no_answer``."""
    if callback not in _subscribers:
        _subscribers.append(callback)


def announce(*, event: str, access) -> None:
    for callback in _subscribers:
        callback(event=event, access=access)
