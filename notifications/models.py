"""The email outbox, per-user notification preferences, and which matches a user was told about.

Every email is one ``Notification`` row, written in the transaction of the event that causes it and
unique on ``(event_key, recipient)``; ``notifications.tasks.notification_send`` delivers it at most
once per successful claim (see ``notifications.delivery``).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Notification(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("待发送")
        SENDING = "sending", _("发送中")
        SENT = "sent", _("已发送")
        FAILED = "failed", _("发送失败")
        HELD_FOR_DIGEST = "held_for_digest", _("等待汇总")
        CANCELLED = "cancelled", _("已取消")

    # The template of the digest email that carries held rows.
    DIGEST_TEMPLATE = "digest"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    event_key = models.CharField(_("事件"), max_length=200)
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notifications",
        verbose_name=_("收件人"),
    )
    template = models.CharField(_("模板"), max_length=100)
    context = models.JSONField(_("内容数据"), default=dict, blank=True)
    link = models.CharField(_("链接"), max_length=500, blank=True)
    status = models.CharField(
        _("状态"), max_length=16, choices=Status.choices, default=Status.PENDING
    )
    attempts = models.PositiveSmallIntegerField(_("尝试次数"), default=0)
    last_error = models.TextField(_("最近错误"), blank=True)
    claimed_at = models.DateTimeField(_("领取时间"), null=True, blank=True)
    sent_at = models.DateTimeField(_("发送时间"), null=True, blank=True)
    next_attempt_at = models.DateTimeField(_("下次尝试"), null=True, blank=True)
    message_id = models.CharField(_("Message-ID"), max_length=255, blank=True)
    digest = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="items",
        verbose_name=_("汇总邮件"),
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("邮件通知")
        verbose_name_plural = _("邮件通知")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["event_key", "recipient"], name="notification_event_recipient_unique"
            ),
            models.CheckConstraint(
                condition=~Q(status="sent") | Q(sent_at__isnull=False),
                name="notification_sent_has_sent_at",
            ),
        ]
        indexes = [
            # notifications.selectors.notification_list_for_user: the notification centre.
            models.Index(fields=["recipient", "-created_at"], name="notification_recipient_idx"),
            # notifications.delivery.outbox_sweep: rows that are due or whose claim went stale.
            models.Index(
                fields=["status", "next_attempt_at"],
                condition=Q(status__in=["pending", "sending"]),
                name="notification_outbox_due_idx",
            ),
            # notifications.digests.digests_build: held rows not yet in a digest.
            models.Index(
                fields=["recipient", "created_at"],
                condition=Q(status="held_for_digest", digest__isnull=True),
                name="notification_held_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.template} → {self.recipient_id} ({self.status})"

    @property
    def is_digest(self) -> bool:
        return self.template == self.DIGEST_TEMPLATE


class MatchNotice(models.Model):
    """That ``recipient`` was told about ``match`` (by ``notification``): a match is announced to a
    user once, however often the matcher reports it."""

    match = models.ForeignKey("matching.Match", on_delete=models.CASCADE, related_name="+")
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    notification = models.ForeignKey(
        Notification, on_delete=models.CASCADE, related_name="match_notices"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("已通知的匹配")
        verbose_name_plural = _("已通知的匹配")
        constraints = [
            models.UniqueConstraint(fields=["match", "recipient"], name="match_notice_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.match_id} → {self.recipient_id}"


class NotificationPreference(models.Model):
    class Frequency(models.TextChoices):
        IMMEDIATE = "immediate", _("即时发送")
        DAILY = "daily", _("每日汇总")
        WEEKLY = "weekly", _("每周汇总")
        NONE = "none", _("不接收邮件")

    DIGEST_FREQUENCIES = (Frequency.DAILY, Frequency.WEEKLY)

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notification_preference",
        verbose_name=_("用户"),
    )
    frequency = models.CharField(
        _("邮件频率"), max_length=16, choices=Frequency.choices, default=Frequency.IMMEDIATE
    )
    min_score = models.FloatField(
        _("最低匹配度"),
        default=0.0,
        validators=[MinValueValidator(0.0), MaxValueValidator(1.0)],
        help_text=_("低于这个匹配度的新匹配不发邮件（0 到 1）。"),
    )
    fields = models.ManyToManyField(
        "taxonomy.Field",
        blank=True,
        related_name="+",
        verbose_name=_("关注领域"),
        help_text=_("只接收这些领域（含其下级领域）的匹配通知；不选表示全部领域。"),
    )
    last_digest_at = models.DateTimeField(_("上次汇总时间"), null=True, blank=True)
    unsubscribed_at = models.DateTimeField(_("退订时间"), null=True, blank=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("通知设置")
        verbose_name_plural = _("通知设置")
        constraints = [
            models.CheckConstraint(
                condition=Q(min_score__gte=0) & Q(min_score__lte=1),
                name="notification_preference_min_score_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user_id}: {self.frequency}"
