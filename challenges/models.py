"""Challenges (揭榜挂帅 / 赛马制): a published need turned into a call for bids, the sealed bids,
expert review, the award, and execution by milestones with recorded payments.

State lives in ``Challenge.status`` and moves only through ``challenges.services``; every transition
writes an audit row (core.AuditEvent) in the same transaction.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxLengthValidator, MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Organization
from core.limits import LONG_TEXT, PARAGRAPH
from matching.catalogue.answers import DeclineReason, answer_days_field

PERCENT_VALIDATORS = [MinValueValidator(Decimal("0")), MaxValueValidator(Decimal("100"))]


def capped_text(verbose_name, cap: int, **kwargs) -> models.TextField:
    """A text column capped at ``cap`` characters (a size from core.limits). A TextField's
    max_length alone only reaches generated forms; the validator makes ``full_clean`` refuse it."""
    return models.TextField(
        verbose_name, max_length=cap, validators=[MaxLengthValidator(cap)], **kwargs
    )


class Challenge(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("草稿")
        OPEN = "open", _("揭榜中")
        REVIEW = "review", _("评审中")
        AWARDED = "awarded", _("已定榜")
        IN_PROGRESS = "in_progress", _("攻关中")
        COMPLETED = "completed", _("已完成")
        CANCELLED = "cancelled", _("已取消")

    class Access(models.TextChoices):
        OPEN = "open", _("公开揭榜")
        INVITED = "invited", _("定向邀请")

    class ReviewMethod(models.TextChoices):
        EXPERT_SCORING = "expert_scoring", _("专家书面评审打分")
        SCORING_WITH_DEFENSE = "scoring_with_defense", _("专家评审打分＋答辩")

    class AwardMode(models.TextChoices):
        SINGLE = "single", _("择优单一揭榜")
        RACE = "race", _("赛马制（多家并行、阶段淘汰）")

    TERMINAL = (Status.COMPLETED, Status.CANCELLED)

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    need = models.ForeignKey(
        "matching.Need", on_delete=models.PROTECT, related_name="challenges", verbose_name=_("需求")
    )
    organization = models.ForeignKey(
        Organization,
        on_delete=models.PROTECT,
        related_name="challenges",
        verbose_name=_("出题单位"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("创建人"),
    )
    title = models.CharField(_("榜单名称"), max_length=120)
    intro = capped_text(_("榜单说明"), LONG_TEXT, blank=True)
    status = models.CharField(
        _("状态"), max_length=16, choices=Status.choices, default=Status.DRAFT
    )
    access = models.CharField(
        _("揭榜方式"), max_length=8, choices=Access.choices, default=Access.OPEN
    )
    # Typed by the enterprise, never copied from the need's budget (which a summary-public need
    # keeps confidential while the reward is public); empty only on a draft.
    reward_total = models.DecimalField(
        _("榜单总金额（万元）"),
        max_digits=10,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0.01"))],
    )
    reward_split = capped_text(
        _("经费拆分说明"), PARAGRAPH, blank=True, help_text=_("例如：首付30%，中期40%，验收30%。")
    )
    indicators = models.ManyToManyField(
        "matching.NeedIndicator",
        blank=True,
        related_name="challenges",
        verbose_name=_("验收技术指标"),
    )
    no_threshold = models.BooleanField(
        _("不论资历、不设门槛"), default=False, help_text=_("勾选后不限机构类型、地区和资质。")
    )
    eligible_kinds = ArrayField(
        models.CharField(max_length=16, choices=Organization.Kind.choices),
        default=list,
        blank=True,
        verbose_name=_("允许的机构类型"),
        help_text=_("留空表示不限。"),
    )
    eligible_regions = models.ManyToManyField(
        "taxonomy.Region",
        blank=True,
        related_name="+",
        verbose_name=_("允许的地区"),
        help_text=_("留空表示不限。"),
    )
    required_qualifications = capped_text(_("资质要求"), PARAGRAPH, blank=True)
    ip_terms = capped_text(
        _("知识产权归属"),
        PARAGRAPH,
        blank=True,
        help_text=_("攻关中产生的专利、软件著作权、技术秘密归谁所有，双方可如何使用。"),
    )
    allow_consortium = models.BooleanField(_("允许创新联合体揭榜"), default=False)
    consortium_max_members = models.PositiveSmallIntegerField(
        _("联合体成员上限（含牵头单位）"),
        default=3,
        validators=[MinValueValidator(2), MaxValueValidator(20)],
    )
    bid_deadline = models.DateTimeField(_("揭榜截止时间"))
    review_method = models.CharField(
        _("评审方式"),
        max_length=24,
        choices=ReviewMethod.choices,
        default=ReviewMethod.EXPERT_SCORING,
    )
    award_mode = models.CharField(
        _("定榜方式"), max_length=8, choices=AwardMode.choices, default=AwardMode.SINGLE
    )
    race_winners = models.PositiveSmallIntegerField(
        _("赛马并行家数"), default=2, validators=[MinValueValidator(2), MaxValueValidator(10)]
    )
    downselect_after = models.ForeignKey(
        "ChallengeMilestone",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("计划在此里程碑后择优"),
    )
    award_reason = capped_text(_("定榜理由"), PARAGRAPH, blank=True)
    awarded_at = models.DateTimeField(_("定榜时间"), null=True, blank=True)
    downselect_reason = capped_text(_("择优理由"), PARAGRAPH, blank=True)
    downselected_at = models.DateTimeField(_("择优时间"), null=True, blank=True)
    cancel_reason = capped_text(_("取消原因"), PARAGRAPH, blank=True)
    # Days an invited organization has to answer its invitation, and the enterprise to answer the
    # bids after the bid deadline (matching.catalogue.answers; empty: the platform's default).
    answer_days = answer_days_field()
    published_at = models.DateTimeField(_("发布时间"), null=True, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("榜单")
        verbose_name_plural = _("榜单")
        ordering = ["-published_at", "-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(reward_total__isnull=True) | Q(reward_total__gt=0),
                name="challenge_reward_positive",
            ),
            models.CheckConstraint(
                condition=Q(published_at__isnull=True) | Q(reward_total__isnull=False),
                name="challenge_reward_set_when_published",
            ),
            models.CheckConstraint(
                condition=Q(race_winners__gte=2), name="challenge_race_winners_min"
            ),
        ]
        indexes = [
            # challenges.selectors.challenge_list_open and tasks.close_due_challenges.
            models.Index(fields=["status", "bid_deadline"], name="challenge_status_deadline_idx"),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("challenges:detail", kwargs={"uuid": self.uuid})

    @property
    def deadline_passed(self) -> bool:
        return timezone.now() >= self.bid_deadline

    @property
    def winners_wanted(self) -> int:
        return self.race_winners if self.award_mode == self.AwardMode.RACE else 1


class ChallengeInvitation(models.Model):
    """An organization invited to bid (定向邀请), e.g. from a matcher suggestion. Once sent it is
    due an answer by ``respond_by``: accept (and go on to bid) or decline with a coded reason
    (``challenges.services.answers``)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("待答复")
        ACCEPTED = "accepted", _("已接受")
        DECLINED = "declined", _("已婉拒")

    challenge = models.ForeignKey(Challenge, on_delete=models.CASCADE, related_name="invitations")
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="challenge_invitations"
    )
    match = models.ForeignKey(
        "matching.Match", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("邀请时间"), auto_now_add=True)
    status = models.CharField(
        _("答复"), max_length=8, choices=Status.choices, default=Status.PENDING
    )
    # Set when the invitation is sent (at once to an open challenge, at publication to a draft).
    sent_at = models.DateTimeField(_("发出时间"), null=True, blank=True)
    respond_by = models.DateTimeField(_("答复期限"), null=True, blank=True)
    answered_at = models.DateTimeField(_("答复时间"), null=True, blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decline_reason = models.CharField(
        _("婉拒原因"), max_length=16, choices=DeclineReason.choices, blank=True
    )
    decline_note = models.CharField(_("婉拒说明"), max_length=500, blank=True)
    reminded_at = models.DateTimeField(_("提醒时间"), null=True, blank=True)
    no_answer_at = models.DateTimeField(_("逾期未答复记录时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("揭榜邀请")
        verbose_name_plural = _("揭榜邀请")
        constraints = [
            models.UniqueConstraint(
                fields=["challenge", "organization"], name="challenge_invitation_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.organization} → {self.challenge}"


class RubricCriterion(models.Model):
    """One review criterion; weights of a challenge sum to 100; experts score each 0–100."""

    challenge = models.ForeignKey(Challenge, on_delete=models.CASCADE, related_name="criteria")
    name = models.CharField(_("评审维度"), max_length=32)
    weight = models.PositiveSmallIntegerField(
        _("权重（%）"), validators=[MinValueValidator(1), MaxValueValidator(100)]
    )
    description = models.CharField(_("评分要点"), max_length=200, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("评审维度")
        verbose_name_plural = _("评审维度")
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(weight__gte=1, weight__lte=100), name="criterion_weight_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.weight}%"


class ChallengeMilestone(models.Model):
    """A milestone of the plan: what is delivered, which indicator it is accepted against, when, and
    which share of the reward it releases. Shares of a challenge sum to 100."""

    challenge = models.ForeignKey(Challenge, on_delete=models.CASCADE, related_name="milestones")
    name = models.CharField(_("里程碑"), max_length=64)
    deliverable = models.CharField(_("交付物"), max_length=200)
    indicator = models.ForeignKey(
        "matching.NeedIndicator",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("对应指标"),
    )
    criterion = models.CharField(_("验收标准"), max_length=200)
    due_date = models.DateField(_("截止日期"))
    share = models.DecimalField(
        _("付款比例（%）"), max_digits=5, decimal_places=2, validators=PERCENT_VALIDATORS
    )
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("里程碑")
        verbose_name_plural = _("里程碑")
        ordering = ["position", "due_date", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(share__gt=0, share__lte=100), name="milestone_share_range"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Bid(models.Model):
    """A 揭榜方案. Sealed: before the deadline only the bidder's and consortium members' people see it
    (``challenges.selectors.bid_get_for_viewer`` and ``bids_visible_to``)."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("草稿")
        SUBMITTED = "submitted", _("已提交")
        WITHDRAWN = "withdrawn", _("已撤回")

    class Outcome(models.TextChoices):
        PENDING = "pending", _("待定")
        WON = "won", _("揭榜成功")
        LOST = "lost", _("未入选")

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    challenge = models.ForeignKey(Challenge, on_delete=models.PROTECT, related_name="bids")
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="bids", verbose_name=_("揭榜单位")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(
        _("状态"), max_length=16, choices=Status.choices, default=Status.DRAFT
    )
    is_consortium = models.BooleanField(_("创新联合体"), default=False)
    technical_approach = capped_text(_("技术路线"), LONG_TEXT)
    team = capped_text(_("团队"), PARAGRAPH)
    qualification_statement = capped_text(_("资质说明"), PARAGRAPH, blank=True)
    results = models.ManyToManyField(
        "matching.Result", blank=True, related_name="+", verbose_name=_("关联成果")
    )
    patents = models.ManyToManyField(
        "matching.Patent", blank=True, related_name="+", verbose_name=_("关联专利")
    )
    outcome = models.CharField(
        _("结果"), max_length=8, choices=Outcome.choices, default=Outcome.PENDING
    )
    rank = models.PositiveSmallIntegerField(_("排名"), null=True, blank=True)
    score = models.DecimalField(
        _("综合得分"), max_digits=6, decimal_places=2, null=True, blank=True
    )
    submitted_at = models.DateTimeField(_("提交时间"), null=True, blank=True)
    withdrawn_at = models.DateTimeField(_("撤回时间"), null=True, blank=True)
    # Coded answers (challenges.services.answers): a counting bid is due the enterprise's answer
    # (a decline with a reason, or the award) by ``answer_by``, set when bidding closes.
    answer_by = models.DateTimeField(_("答复期限"), null=True, blank=True)
    answered_at = models.DateTimeField(_("答复时间"), null=True, blank=True)
    decline_reason = models.CharField(
        _("未入选原因"), max_length=16, choices=DeclineReason.choices, blank=True
    )
    decline_note = models.CharField(_("未入选说明"), max_length=500, blank=True)
    answer_reminded_at = models.DateTimeField(_("答复提醒时间"), null=True, blank=True)
    no_answer_at = models.DateTimeField(_("逾期未答复记录时间"), null=True, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("揭榜方案")
        verbose_name_plural = _("揭榜方案")
        ordering = ["rank", "-submitted_at", "-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["challenge", "organization"],
                condition=~Q(status="withdrawn"),
                name="bid_one_active_per_org",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.organization} · {self.challenge}"

    def get_absolute_url(self) -> str:
        return reverse("challenges:bid-detail", kwargs={"uuid": self.uuid})

    @property
    def budget_total(self) -> Decimal:
        return sum((item.amount for item in self.budget_items.all()), Decimal("0"))


class BidIndicatorResponse(models.Model):
    bid = models.ForeignKey(Bid, on_delete=models.CASCADE, related_name="indicator_responses")
    # PROTECT: an answer to an indicator must not vanish with it (matching.catalogue.services updates a
    # need's indicators in place and refuses to change them once a challenge holds them).
    indicator = models.ForeignKey(
        "matching.NeedIndicator", on_delete=models.PROTECT, related_name="+"
    )
    approach = capped_text(_("达成方式"), PARAGRAPH)
    expected_value = models.CharField(_("预期达到值"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("指标响应")
        verbose_name_plural = _("指标响应")
        constraints = [
            models.UniqueConstraint(fields=["bid", "indicator"], name="bid_indicator_unique")
        ]

    def __str__(self) -> str:
        return f"{self.bid_id}:{self.indicator_id}"


class BidBudgetItem(models.Model):
    bid = models.ForeignKey(Bid, on_delete=models.CASCADE, related_name="budget_items")
    item = models.CharField(_("科目"), max_length=64)
    amount = models.DecimalField(
        _("金额（万元）"),
        max_digits=10,
        decimal_places=2,
        validators=[MinValueValidator(Decimal("0"))],
    )
    note = models.CharField(_("说明"), max_length=200, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("预算明细")
        verbose_name_plural = _("预算明细")
        ordering = ["position", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="budget_item_non_negative")
        ]

    def __str__(self) -> str:
        return f"{self.item} {self.amount}"


class BidSchedule(models.Model):
    """When the bidder plans to reach each milestone of the challenge."""

    bid = models.ForeignKey(Bid, on_delete=models.CASCADE, related_name="schedule")
    milestone = models.ForeignKey(ChallengeMilestone, on_delete=models.CASCADE, related_name="+")
    planned_date = models.DateField(_("计划完成日期"))
    plan = capped_text(_("工作内容"), PARAGRAPH, blank=True)

    class Meta:
        verbose_name = _("进度计划")
        verbose_name_plural = _("进度计划")
        ordering = ["milestone__position", "milestone__due_date"]
        constraints = [
            models.UniqueConstraint(fields=["bid", "milestone"], name="bid_schedule_unique")
        ]

    def __str__(self) -> str:
        return f"{self.milestone_id} @ {self.planned_date}"


class ConsortiumMember(models.Model):
    """An organization of a consortium bid (the lead included). A bid counts only when every member
    organization has confirmed its participation."""

    bid = models.ForeignKey(Bid, on_delete=models.CASCADE, related_name="members")
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="consortium_memberships"
    )
    is_lead = models.BooleanField(_("牵头单位"), default=False)
    role = models.CharField(_("分工"), max_length=120)
    share = models.DecimalField(
        _("经费份额（%）"), max_digits=5, decimal_places=2, validators=PERCENT_VALIDATORS
    )
    confirmed_at = models.DateTimeField(_("确认时间"), null=True, blank=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("联合体成员")
        verbose_name_plural = _("联合体成员")
        ordering = ["-is_lead", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["bid", "organization"], name="consortium_member_unique"
            ),
            models.UniqueConstraint(
                fields=["bid"], condition=Q(is_lead=True), name="consortium_one_lead"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.organization} ({self.role})"


class ReviewAssignment(models.Model):
    """An expert invited to review a challenge's bids. Scores stay private to the expert until submitted."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    challenge = models.ForeignKey(Challenge, on_delete=models.CASCADE, related_name="assignments")
    expert = models.ForeignKey(
        "accounts.ExpertProfile", on_delete=models.PROTECT, related_name="review_assignments"
    )
    assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    assigned_at = models.DateTimeField(_("指派时间"), auto_now_add=True)
    submitted_at = models.DateTimeField(_("提交时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("评审任务")
        verbose_name_plural = _("评审任务")
        ordering = ["assigned_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["challenge", "expert"], name="review_assignment_unique")
        ]

    def __str__(self) -> str:
        return f"{self.expert} · {self.challenge}"

    def get_absolute_url(self) -> str:
        return reverse("challenges:review", kwargs={"uuid": self.uuid})


class ExpertConflict(models.Model):
    """A recorded conflict of interest that blocked an expert from reviewing a challenge, or removed
    one from it (``challenges.selectors.expert_conflicts`` decides)."""

    class Kind(models.TextChoices):
        MEMBER = "member", _("是揭榜单位成员")
        AFFILIATION = "affiliation", _("申报了与揭榜单位的关联")
        ENTERPRISE = "enterprise", _("是出题单位成员")

    challenge = models.ForeignKey(Challenge, on_delete=models.CASCADE, related_name="conflicts")
    expert = models.ForeignKey("accounts.ExpertProfile", on_delete=models.CASCADE, related_name="+")
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(_("回避原因"), max_length=16, choices=Kind.choices)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("记录时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("利益冲突回避")
        verbose_name_plural = _("利益冲突回避")
        constraints = [
            models.UniqueConstraint(
                fields=["challenge", "expert", "organization", "kind"],
                name="expert_conflict_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.expert_id} × {self.organization_id} ({self.kind})"


class Score(models.Model):
    assignment = models.ForeignKey(
        ReviewAssignment, on_delete=models.CASCADE, related_name="scores"
    )
    bid = models.ForeignKey(Bid, on_delete=models.CASCADE, related_name="scores")
    criterion = models.ForeignKey(RubricCriterion, on_delete=models.CASCADE, related_name="scores")
    value = models.PositiveSmallIntegerField(
        _("得分"), validators=[MinValueValidator(0), MaxValueValidator(100)]
    )
    comment = models.CharField(_("评语"), max_length=500, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("评分")
        verbose_name_plural = _("评分")
        constraints = [
            models.UniqueConstraint(
                fields=["assignment", "bid", "criterion"], name="score_unique_per_criterion"
            ),
            models.CheckConstraint(
                condition=Q(value__gte=0, value__lte=100), name="score_value_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.assignment_id}/{self.bid_id}/{self.criterion_id}={self.value}"


class Contract(models.Model):
    """A winner's contract record. ``amount`` is its part of the reward; payments never exceed it."""

    class Status(models.TextChoices):
        ACTIVE = "active", _("执行中")
        STOPPED = "stopped", _("赛马淘汰")
        COMPLETED = "completed", _("已完成")
        CANCELLED = "cancelled", _("已终止")

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    challenge = models.ForeignKey(Challenge, on_delete=models.PROTECT, related_name="contracts")
    bid = models.OneToOneField(Bid, on_delete=models.PROTECT, related_name="contract")
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    amount = models.DecimalField(_("合同金额（万元）"), max_digits=10, decimal_places=2)
    status = models.CharField(
        _("状态"), max_length=16, choices=Status.choices, default=Status.ACTIVE
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    stopped_at = models.DateTimeField(_("终止时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("攻关合同")
        verbose_name_plural = _("攻关合同")
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="contract_amount_non_negative")
        ]

    def __str__(self) -> str:
        return f"{self.organization} · {self.challenge}"


class ContractMilestone(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("待提交")
        SUBMITTED = "submitted", _("待验收")
        ACCEPTED = "accepted", _("已验收")
        REJECTED = "rejected", _("未通过")
        STOPPED = "stopped", _("已终止")

    OPEN_STATUSES = (Status.PENDING, Status.SUBMITTED, Status.REJECTED)

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    contract = models.ForeignKey(Contract, on_delete=models.CASCADE, related_name="milestones")
    milestone = models.ForeignKey(ChallengeMilestone, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(
        _("状态"), max_length=16, choices=Status.choices, default=Status.PENDING
    )
    deliverable_note = capped_text(_("交付说明"), LONG_TEXT, blank=True)
    measured_value = models.CharField(_("实测指标值"), max_length=64, blank=True)
    submitted_at = models.DateTimeField(_("提交时间"), null=True, blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decision_comment = capped_text(_("验收意见"), PARAGRAPH, blank=True)
    decided_at = models.DateTimeField(_("验收时间"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    overdue_at = models.DateTimeField(_("逾期标记时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("合同里程碑")
        verbose_name_plural = _("合同里程碑")
        ordering = ["milestone__position", "milestone__due_date", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["contract", "milestone"], name="contract_milestone_unique"
            )
        ]
        indexes = [
            # challenges.services.milestones_flag_overdue: open milestones not yet flagged.
            models.Index(
                fields=["status"],
                condition=Q(overdue_at__isnull=True),
                name="cmilestone_unflagged_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contract} · {self.milestone}"

    @property
    def is_overdue(self) -> bool:
        return self.status in self.OPEN_STATUSES and self.milestone.due_date < timezone.localdate()


class Payment(models.Model):
    """A recorded (not executed) release of a milestone's share of the reward."""

    contract_milestone = models.OneToOneField(
        ContractMilestone, on_delete=models.PROTECT, related_name="payment"
    )
    contract = models.ForeignKey(Contract, on_delete=models.PROTECT, related_name="payments")
    amount = models.DecimalField(_("金额（万元）"), max_digits=10, decimal_places=2)
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    released_at = models.DateTimeField(_("拨付时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("拨付记录")
        verbose_name_plural = _("拨付记录")
        ordering = ["released_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="payment_amount_non_negative")
        ]

    def __str__(self) -> str:
        return f"{self.contract_id}: {self.amount}"


def bid_attachment_path(instance: BidAttachment, filename: str) -> str:
    # Random names: the original name is kept in a column, never used on disk.
    return f"bid_attachments/{instance.uuid.hex[:2]}/{instance.uuid.hex}"


class BidAttachment(models.Model):
    """A file attached to a bid; sealed like the bid and served only through its access check."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    bid = models.ForeignKey(Bid, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(_("文件"), upload_to=bid_attachment_path, max_length=200)
    original_name = models.CharField(_("文件名"), max_length=200)
    content_type = models.CharField(_("类型"), max_length=100)
    size = models.PositiveIntegerField(_("大小（字节）"))
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("上传时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("方案附件")
        verbose_name_plural = _("方案附件")
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.original_name
