"""Matches of needs with results and capability profiles, and the feedback on them.

These models belong to the ``matching`` app (its migrations); ``matching.models`` imports them so
Django registers them.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Match(models.Model):
    """A scored pairing of a need with a result or a capability profile, with its evidence."""

    need = models.ForeignKey("matching.Need", on_delete=models.CASCADE, related_name="matches")
    result = models.ForeignKey(
        "matching.Result", null=True, blank=True, on_delete=models.CASCADE, related_name="matches"
    )
    capability = models.ForeignKey(
        "matching.CapabilityProfile",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="matches",
    )
    score = models.FloatField(_("匹配度"))
    components = models.JSONField(_("分项得分"), default=dict)
    explanation = models.JSONField(_("匹配理由"), default=dict)
    model_version = models.CharField(_("模型版本"), max_length=200)
    rank = models.PositiveSmallIntegerField(_("排名"), default=0)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("匹配")
        verbose_name_plural = _("匹配")
        ordering = ["-score"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(result__isnull=False) & Q(capability__isnull=True))
                | (Q(result__isnull=True) & Q(capability__isnull=False)),
                name="match_exactly_one_candidate",
            ),
            models.UniqueConstraint(
                fields=["need", "result"],
                condition=Q(result__isnull=False),
                name="match_need_result_unique",
            ),
            models.UniqueConstraint(
                fields=["need", "capability"],
                condition=Q(capability__isnull=False),
                name="match_need_capability_unique",
            ),
        ]
        indexes = [
            # matching.catalogue.visibility: a need's ranked matches, a result's matched needs.
            models.Index(fields=["need", "-score"], name="match_need_score_idx"),
            models.Index(fields=["result", "-score"], name="match_result_score_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.need} ↔ {self.result or self.capability} ({self.score:.2f})"

    @property
    def candidate(self):
        return self.result or self.capability


class MatchFeedback(models.Model):
    class Verdict(models.TextChoices):
        INTERESTED = "interested", _("感兴趣")
        NOT_RELEVANT = "not_relevant", _("不相关")

    class Reason(models.TextChoices):
        WRONG_FIELD = "wrong_field", _("领域不符")
        IMMATURE = "immature", _("成熟度不够")
        TOO_EXPENSIVE = "too_expensive", _("价格/预算不合适")
        WRONG_MODE = "wrong_mode", _("合作方式不合适")
        ALREADY_KNOWN = "already_known", _("已了解或已合作")
        OTHER = "other", _("其他")

    match = models.ForeignKey(Match, on_delete=models.CASCADE, related_name="feedback")
    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="+"
    )
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    verdict = models.CharField(_("评价"), max_length=16, choices=Verdict.choices)
    reason = models.CharField(_("原因"), max_length=16, choices=Reason.choices, blank=True)
    comment = models.TextField(_("说明"), blank=True)
    created_at = models.DateTimeField(_("时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("匹配反馈")
        verbose_name_plural = _("匹配反馈")
        constraints = [
            # One current verdict per side of a match; changing one's mind updates the row.
            models.UniqueConstraint(fields=["match", "organization"], name="match_feedback_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.get_verdict_display()} — {self.match}"
