"""Technical needs (需求清单), research results (科技成果), capability profiles (研发能力), and the
matcher's state: embeddings, lexical documents, matches and feedback."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from core.limits import LONG_TEXT, PARAGRAPH, TITLE
from matching.catalogue.answers import DeclineReason, answer_days_field


class CoopMode(models.TextChoices):
    """Cooperation modes a need asks for and transfer modes a result offers."""

    TRANSFER = "transfer", _("技术转让")
    LICENSE = "license", _("技术许可")
    JOINT_DEV = "joint_dev", _("合作开发")
    COMMISSIONED = "commissioned", _("委托开发")
    EQUITY = "equity", _("技术入股")
    JOINT_RESEARCH = "joint_research", _("联合攻关")
    SERVICE = "service", _("技术服务/咨询")


TRL_VALIDATORS = [MinValueValidator(1), MaxValueValidator(9)]


def trl_stage(trl: int | None) -> str:
    """TRL 1–9 shown as the stage Chinese industry uses."""
    if trl is None:
        return ""
    if trl <= 3:
        return str(_("实验室"))
    if trl <= 5:
        return str(_("小试"))
    if trl <= 7:
        return str(_("中试"))
    return str(_("产业化"))


class Need(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("草稿")
        PUBLISHED = "published", _("已发布")
        IN_CHALLENGE = "in_challenge", _("揭榜中")
        MATCHED = "matched", _("已对接")
        CLOSED = "closed", _("已关闭")
        WITHDRAWN = "withdrawn", _("已撤回")
        # Past its validity period (``valid_until``): out of matching and public lists, kept for
        # its organization, which can renew it (matching/catalogue/services/freshness.py).
        EXPIRED = "expired", _("已过期")

    class Confidentiality(models.TextChoices):
        PUBLIC = "public", _("公开")
        SUMMARY = "summary", _("摘要公开")
        PRIVATE = "private", _("不公开")

    class FundingMode(models.TextChoices):
        LUMP_SUM = "lump_sum", _("一次性支付")
        MILESTONE = "milestone", _("按里程碑支付")
        EQUITY = "equity", _("股权合作")
        NEGOTIABLE = "negotiable", _("面议")

    # Statuses in which the need is open for matching and visible to others (per confidentiality).
    OPEN_STATUSES = (Status.PUBLISHED, Status.IN_CHALLENGE)
    LISTED_STATUSES = (Status.PUBLISHED, Status.IN_CHALLENGE, Status.MATCHED, Status.CLOSED)

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        "accounts.Organization",
        on_delete=models.PROTECT,
        related_name="needs",
        verbose_name=_("发布机构"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("创建人"),
    )
    title = models.CharField(_("需求名称"), max_length=TITLE)
    summary = models.CharField(
        _("公开摘要"),
        max_length=PARAGRAPH,
        blank=True,
        help_text=_("摘要公开时，所有人只能看到名称、领域和这段摘要。"),
    )
    description = models.CharField(_("问题描述"), max_length=LONG_TEXT)
    scenario = models.CharField(_("应用场景"), max_length=PARAGRAPH, blank=True)
    field = models.ForeignKey(
        "taxonomy.Field", on_delete=models.PROTECT, related_name="needs", verbose_name=_("技术领域")
    )
    industry_chain = models.CharField(_("产业链环节"), max_length=64, blank=True)
    region = models.ForeignKey(
        "taxonomy.Region",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("所在地区"),
    )
    budget_min = models.DecimalField(
        _("预算下限（万元）"), max_digits=10, decimal_places=2, null=True, blank=True
    )
    budget_max = models.DecimalField(
        _("预算上限（万元）"), max_digits=10, decimal_places=2, null=True, blank=True
    )
    funding_mode = models.CharField(
        _("经费方式"), max_length=16, choices=FundingMode.choices, default=FundingMode.NEGOTIABLE
    )
    coop_modes = ArrayField(
        models.CharField(max_length=16, choices=CoopMode.choices),
        default=list,
        blank=True,
        verbose_name=_("合作方式"),
    )
    trl_min = models.PositiveSmallIntegerField(
        _("期望成熟度（TRL）"), null=True, blank=True, validators=TRL_VALIDATORS
    )
    deadline = models.DateField(_("截止日期"), null=True, blank=True)
    contact_name = models.CharField(_("联系人"), max_length=32, blank=True)
    contact_phone = models.CharField(_("联系电话"), max_length=32, blank=True)
    contact_email = models.EmailField(_("联系邮箱"), blank=True)
    confidentiality = models.CharField(
        _("公开方式"), max_length=8, choices=Confidentiality.choices, default=Confidentiality.PUBLIC
    )
    terms = models.CharField(
        _("保密条款"),
        max_length=LONG_TEXT,
        blank=True,
        help_text=_("摘要公开的需求，申请查看全文的一方须先接受这些条款。"),
    )
    status = models.CharField(
        _("状态"), max_length=16, choices=Status.choices, default=Status.DRAFT
    )
    external_ref = models.CharField(
        _("外部编号"),
        max_length=64,
        blank=True,
        help_text=_("省级平台或企业系统中的编号，批量导入时用于去重。"),
    )
    published_at = models.DateTimeField(_("发布时间"), null=True, blank=True)
    valid_until = models.DateField(
        _("有效期至"),
        null=True,
        blank=True,
        help_text=_("过期后不再参与匹配、不在公开列表中显示，可一键续期。留空则为发布后12个月。"),
    )
    expiry_reminded_at = models.DateTimeField(_("到期提醒时间"), null=True, blank=True)
    # Days the enterprise has to answer an access request (matching.catalogue.answers).
    answer_days = answer_days_field()
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("技术需求")
        verbose_name_plural = _("技术需求")
        ordering = ["-published_at", "-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(trl_min__gte=1, trl_min__lte=9) | Q(trl_min__isnull=True),
                name="need_trl_range",
            ),
            models.CheckConstraint(
                condition=Q(budget_min__isnull=True)
                | Q(budget_max__isnull=True)
                | Q(budget_min__lte=F("budget_max")),
                name="need_budget_order",
            ),
            models.CheckConstraint(
                condition=Q(budget_min__isnull=True) | Q(budget_min__gte=0),
                name="need_budget_non_negative",
            ),
            models.UniqueConstraint(
                fields=["organization", "external_ref"],
                condition=~Q(external_ref=""),
                name="need_external_ref_unique",
            ),
        ]
        indexes = [
            # matching.catalogue.visibility.need_list_for_viewer: published lists, newest first.
            models.Index(fields=["status", "-published_at"], name="need_status_published_idx"),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("matching:need-detail", kwargs={"uuid": self.uuid})

    @property
    def trl_stage(self) -> str:
        return trl_stage(self.trl_min)

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES


class NeedIndicator(models.Model):
    """A technical indicator the need must reach, e.g. 良率 ≥ 99.5 %."""

    class Operator(models.TextChoices):
        GE = ">=", "≥"
        LE = "<=", "≤"
        GT = ">", ">"
        LT = "<", "<"
        EQ = "=", "="
        RANGE = "range", _("区间")

    need = models.ForeignKey(Need, on_delete=models.CASCADE, related_name="indicators")
    name = models.CharField(_("指标"), max_length=TITLE)
    operator = models.CharField(
        _("关系"), max_length=8, choices=Operator.choices, default=Operator.GE
    )
    target = models.CharField(_("目标值"), max_length=32)
    target_max = models.CharField(_("上限"), max_length=32, blank=True)
    unit = models.CharField(_("单位"), max_length=16, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = _("技术指标")
        verbose_name_plural = _("技术指标")
        ordering = ["position", "id"]

    def __str__(self) -> str:
        if self.operator == self.Operator.RANGE:
            return f"{self.name} {self.target}–{self.target_max} {self.unit}".strip()
        return f"{self.name} {self.get_operator_display()} {self.target} {self.unit}".strip()


class NeedAccess(models.Model):
    """An organization's access to the full text of a summary-public need: requested, then approved
    by the enterprise; the party must also have accepted the need's terms."""

    class Status(models.TextChoices):
        REQUESTED = "requested", _("待审批")
        APPROVED = "approved", _("已批准")
        REJECTED = "rejected", _("已拒绝")

    need = models.ForeignKey(Need, on_delete=models.CASCADE, related_name="accesses")
    organization = models.ForeignKey(
        "accounts.Organization", on_delete=models.CASCADE, related_name="need_accesses"
    )
    status = models.CharField(
        _("状态"), max_length=16, choices=Status.choices, default=Status.REQUESTED
    )
    invited = models.BooleanField(_("由需求方邀请"), default=False)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    terms_accepted_at = models.DateTimeField(_("接受条款时间"), null=True, blank=True)
    terms_accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    decided_at = models.DateTimeField(_("审批时间"), null=True, blank=True)
    created_at = models.DateTimeField(_("申请时间"), auto_now_add=True)
    # Coded answers (matching.catalogue.answers): when the enterprise must answer by, why it
    # declined, and the reminder / missed-deadline records the beat task writes once each.
    respond_by = models.DateTimeField(_("答复期限"), null=True, blank=True)
    decline_reason = models.CharField(
        _("拒绝原因"), max_length=16, choices=DeclineReason.choices, blank=True
    )
    decline_note = models.CharField(_("拒绝说明"), max_length=500, blank=True)
    reminded_at = models.DateTimeField(_("提醒时间"), null=True, blank=True)
    no_answer_at = models.DateTimeField(_("逾期未答复记录时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("需求查看授权")
        verbose_name_plural = _("需求查看授权")
        constraints = [
            models.UniqueConstraint(fields=["need", "organization"], name="need_access_unique")
        ]
        indexes = [
            # matching.catalogue.services.access.access_answers_sweep: pending requests by deadline.
            models.Index(
                fields=["respond_by"],
                condition=Q(status="requested", no_answer_at__isnull=True),
                name="need_access_pending_due_idx",
            )
        ]

    def __str__(self) -> str:
        return f"{self.organization} → {self.need}"

    @property
    def grants_full_text(self) -> bool:
        return self.status == self.Status.APPROVED and self.terms_accepted_at is not None


class Result(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("草稿")
        PUBLISHED = "published", _("已发布")
        WITHDRAWN = "withdrawn", _("已撤回")
        EXPIRED = "expired", _("已过期")

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        "accounts.Organization",
        on_delete=models.PROTECT,
        related_name="results",
        verbose_name=_("完成单位"),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        verbose_name=_("创建人"),
    )
    title = models.CharField(_("成果名称"), max_length=TITLE)
    abstract = models.CharField(_("成果简介"), max_length=LONG_TEXT)
    keywords = ArrayField(
        models.CharField(max_length=32), default=list, blank=True, verbose_name=_("关键词")
    )
    field = models.ForeignKey(
        "taxonomy.Field",
        on_delete=models.PROTECT,
        related_name="results",
        verbose_name=_("技术领域"),
    )
    industry_chain = models.CharField(_("产业链环节"), max_length=64, blank=True)
    trl = models.PositiveSmallIntegerField(_("成熟度（TRL）"), validators=TRL_VALIDATORS)
    is_service_invention = models.BooleanField(_("职务科技成果"), default=True)
    transfer_modes = ArrayField(
        models.CharField(max_length=16, choices=CoopMode.choices),
        default=list,
        blank=True,
        verbose_name=_("转化方式"),
    )
    price_min = models.DecimalField(
        _("意向价格下限（万元）"), max_digits=10, decimal_places=2, null=True, blank=True
    )
    price_max = models.DecimalField(
        _("意向价格上限（万元）"), max_digits=10, decimal_places=2, null=True, blank=True
    )
    team = models.CharField(_("团队"), max_length=PARAGRAPH, blank=True)
    application_fields = ArrayField(
        models.CharField(max_length=64), default=list, blank=True, verbose_name=_("应用领域")
    )
    status = models.CharField(
        _("状态"), max_length=16, choices=Status.choices, default=Status.DRAFT
    )
    external_ref = models.CharField(_("外部编号"), max_length=64, blank=True)
    published_at = models.DateTimeField(_("发布时间"), null=True, blank=True)
    valid_until = models.DateField(
        _("有效期至"),
        null=True,
        blank=True,
        help_text=_("过期后不再参与匹配、不在公开列表中显示，可一键续期。留空则为发布后12个月。"),
    )
    expiry_reminded_at = models.DateTimeField(_("到期提醒时间"), null=True, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("科技成果")
        verbose_name_plural = _("科技成果")
        ordering = ["-published_at", "-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(trl__gte=1, trl__lte=9), name="result_trl_range"),
            models.CheckConstraint(
                condition=Q(price_min__isnull=True)
                | Q(price_max__isnull=True)
                | Q(price_min__lte=F("price_max")),
                name="result_price_order",
            ),
            models.UniqueConstraint(
                fields=["organization", "external_ref"],
                condition=~Q(external_ref=""),
                name="result_external_ref_unique",
            ),
        ]
        indexes = [
            # matching.catalogue.visibility.result_list_for_viewer: published lists, newest first.
            models.Index(fields=["status", "-published_at"], name="result_status_published_idx"),
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("matching:result-detail", kwargs={"uuid": self.uuid})

    @property
    def trl_stage(self) -> str:
        return trl_stage(self.trl)


class Patent(models.Model):
    class Kind(models.TextChoices):
        INVENTION = "invention", _("发明")
        UTILITY = "utility", _("实用新型")
        DESIGN = "design", _("外观设计")
        SOFTWARE = "software", _("软件著作权")

    class Status(models.TextChoices):
        PENDING = "pending", _("申请中")
        GRANTED = "granted", _("已授权")
        EXPIRED = "expired", _("已失效")

    result = models.ForeignKey(Result, on_delete=models.CASCADE, related_name="patents")
    number = models.CharField(_("申请号/登记号"), max_length=32)
    kind = models.CharField(_("类型"), max_length=16, choices=Kind.choices, default=Kind.INVENTION)
    status = models.CharField(
        _("法律状态"), max_length=16, choices=Status.choices, default=Status.PENDING
    )
    title = models.CharField(_("名称"), max_length=TITLE, blank=True)

    class Meta:
        verbose_name = _("专利")
        verbose_name_plural = _("专利")
        constraints = [
            models.UniqueConstraint(fields=["result", "number"], name="patent_unique_per_result")
        ]

    def __str__(self) -> str:
        return self.number


class CapabilityProfile(models.Model):
    """A lab's research capability (研发能力), matched to needs when no finished result fits."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    organization = models.ForeignKey(
        "accounts.Organization",
        on_delete=models.CASCADE,
        related_name="capabilities",
        verbose_name=_("所属机构"),
    )
    title = models.CharField(_("名称"), max_length=TITLE)
    description = models.CharField(_("研究方向与能力"), max_length=LONG_TEXT)
    team = models.CharField(_("团队"), max_length=PARAGRAPH, blank=True)
    equipment = models.CharField(_("仪器设备"), max_length=PARAGRAPH, blank=True)
    past_projects = models.CharField(_("代表性项目"), max_length=LONG_TEXT, blank=True)
    fields = models.ManyToManyField(
        "taxonomy.Field", blank=True, related_name="capabilities", verbose_name=_("技术领域")
    )
    is_published = models.BooleanField(_("公开"), default=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("研发能力")
        verbose_name_plural = _("研发能力")
        ordering = ["organization__name", "title"]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("matching:capability-detail", kwargs={"uuid": self.uuid})


def attachment_path(instance: Attachment, filename: str) -> str:
    # Random names: the original name is kept in a column, never used on disk.
    return f"attachments/{instance.uuid.hex[:2]}/{instance.uuid.hex}"


class Attachment(models.Model):
    """A PDF/DOCX/image attached to a need or a result; stored under MEDIA_ROOT (outside the web
    root) and served only by a view that checks the viewer may see the owner's full text."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    need = models.ForeignKey(
        Need, null=True, blank=True, on_delete=models.CASCADE, related_name="attachments"
    )
    result = models.ForeignKey(
        Result, null=True, blank=True, on_delete=models.CASCADE, related_name="attachments"
    )
    file = models.FileField(_("文件"), upload_to=attachment_path, max_length=200)
    original_name = models.CharField(_("文件名"), max_length=200)
    content_type = models.CharField(_("类型"), max_length=100)
    size = models.PositiveIntegerField(_("大小（字节）"))
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("上传时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("附件")
        verbose_name_plural = _("附件")
        constraints = [
            models.CheckConstraint(
                condition=(Q(need__isnull=False) & Q(result__isnull=True))
                | (Q(need__isnull=True) & Q(result__isnull=False)),
                name="attachment_exactly_one_owner",
            ),
        ]

    def __str__(self) -> str:
        return self.original_name


# The matcher's index and the matches live in their own packages; imported here so that Django
# registers them as models of this app.
from matching.matcher.models import (  # noqa: E402
    Embedding,
    EmbeddingVersion,
    LexicalDocument,
    LexicalTerm,
    ObjectKind,
    OrganizationRankingPreference,
    RankingConfiguration,
    ReindexBatch,
)
from matching.matches.models import Match, MatchFeedback  # noqa: E402

__all__ = [
    "Attachment",
    "CapabilityProfile",
    "CoopMode",
    "Embedding",
    "EmbeddingVersion",
    "LexicalDocument",
    "LexicalTerm",
    "Match",
    "MatchFeedback",
    "Need",
    "NeedAccess",
    "NeedIndicator",
    "ObjectKind",
    "OrganizationRankingPreference",
    "RankingConfiguration",
    "Patent",
    "ReindexBatch",
    "Result",
    "trl_stage",
]
