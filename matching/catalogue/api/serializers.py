"""Input and output serializers of the needs, results and capability profiles API.

Input serializers check shape and types only (the services own the rules: budget order, indicator
rows, patent numbers); output serializers are chosen by what the viewer may see: a summary-public
need shows strangers only ``NeedSummaryOutputSerializer``'s fields.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import Organization
from accounts.selectors import user_acts_for
from core.api import RowSerializer, StrictBooleanField, StrictCharField, StrictUUIDField
from matching.catalogue.answers import MAX_ANSWER_DAYS
from matching.catalogue.projections import NEED_FULL_ONLY_FIELD_ORDER, NEED_SUMMARY_FIELD_ORDER
from matching.catalogue.quality import quality_of
from matching.models import (
    CapabilityProfile,
    CoopMode,
    Need,
    NeedIndicator,
    Patent,
    Result,
)
from taxonomy.models import Field, Region

# Statuses a bulk import may ask for: a draft, or published right after saving.
IMPORT_STATUS_CHOICES = [("draft", _("草稿")), ("published", _("已发布"))]

# --- shared pieces ----------------------------------------------------------------------------------


class QualityItemOutputSerializer(serializers.Serializer):
    code = StrictCharField()
    ok = serializers.BooleanField()
    message = StrictCharField()
    suggestion = StrictCharField()
    weight = serializers.IntegerField()


class QualityOutputSerializer(serializers.Serializer):
    """``matching.catalogue.quality``'s report, as the web form shows it."""

    score = serializers.IntegerField(min_value=0, max_value=100)
    threshold = serializers.IntegerField()
    below_threshold = serializers.BooleanField()
    items = QualityItemOutputSerializer(many=True)
    matcher_view = serializers.DictField()


class QualityFieldMixin:
    """``quality``: the report for the organization and staff, on one object's answers (detail,
    create, update: the view sets ``with_quality`` in the context); ``null`` elsewhere."""

    @extend_schema_field(QualityOutputSerializer(allow_null=True))
    def get_quality(self, obj) -> dict | None:
        user = self.context.get("user")
        if not self.context.get("with_quality") or user is None:
            return None
        if not user_acts_for(user=user, organization_id=obj.organization_id):
            return None
        return quality_of(obj)


class FieldOutputSerializer(serializers.ModelSerializer):
    code = serializers.RegexField(
        r"^[-a-zA-Z0-9_.]+$",
        read_only=True,
        help_text=_("领域代码，层级以点分隔，如 new_materials.polymers。"),
    )
    parent = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)

    class Meta:
        model = Field
        fields = ["code", "name", "parent"]


class OrganizationBriefOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Organization
        fields = ["uuid", "name", "kind"]


class _SlugField(serializers.SlugRelatedField):
    """DRF reads an empty string sent to a related field as null; here it is invalid (send ``null``
    to clear an optional one), as the schema says."""

    def run_validation(self, data=serializers.empty):
        if data == "":
            self.fail("invalid")
        return super().run_validation(data)


class FieldCodeField(_SlugField):
    """A technology field by its code (``new_energy.batteries``)."""

    default_error_messages = {
        "does_not_exist": _("技术领域代码“{value}”不存在。"),
        "invalid": _("技术领域代码无效。"),
    }

    def __init__(self, **kwargs):
        super().__init__(slug_field="code", queryset=Field.objects.all(), **kwargs)


class RegionNameField(_SlugField):
    """A province by its name (江苏省)."""

    default_error_messages = {
        "does_not_exist": _("地区“{value}”不存在，请填写省级行政区全称。"),
        "invalid": _("地区无效。"),
    }

    def __init__(self, **kwargs):
        super().__init__(slug_field="name", queryset=Region.objects.all(), **kwargs)


def _text(model, name: str, **kwargs) -> StrictCharField:
    """A text input capped like the model field (``core.limits``)."""
    return StrictCharField(max_length=model._meta.get_field(name).max_length, **kwargs)


def _money(**kwargs) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=10, decimal_places=2, min_value=0, allow_null=True, required=False, **kwargs
    )


def _coop_modes(**kwargs) -> serializers.ListField:
    return serializers.ListField(
        child=serializers.ChoiceField(choices=CoopMode.choices), required=False, **kwargs
    )


# --- needs ------------------------------------------------------------------------------------------


class IndicatorInputSerializer(RowSerializer):
    id = serializers.IntegerField(
        required=False,
        help_text=_("要修改的指标的 id（见需求详情）；省略时按内容、名称和顺序对应。"),
    )
    name = _text(NeedIndicator, "name")
    operator = serializers.ChoiceField(
        choices=NeedIndicator.Operator.choices, default=NeedIndicator.Operator.GE
    )
    target = StrictCharField(max_length=32)
    target_max = StrictCharField(max_length=32, required=False, allow_blank=True, default="")
    unit = StrictCharField(max_length=16, required=False, allow_blank=True, default="")


class IndicatorOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = NeedIndicator
        fields = ["id", "name", "operator", "target", "target_max", "unit"]


class NeedInputSerializer(serializers.Serializer):
    """Create (all required fields) or update (``partial=True``). ``indicators``, when given, replaces
    the need's whole list."""

    organization = StrictUUIDField(
        required=False,
        help_text=_("发布机构的 uuid；用户只属于一个机构时可省略。仅创建时使用。"),
    )
    external_ref = StrictCharField(max_length=64, required=False, allow_blank=True)
    title = _text(Need, "title")
    summary = _text(Need, "summary", required=False, allow_blank=True)
    description = _text(Need, "description")
    scenario = _text(Need, "scenario", required=False, allow_blank=True)
    field = FieldCodeField()
    industry_chain = StrictCharField(max_length=64, required=False, allow_blank=True)
    region = RegionNameField(required=False, allow_null=True)
    budget_min = _money()
    budget_max = _money()
    funding_mode = serializers.ChoiceField(choices=Need.FundingMode.choices, required=False)
    coop_modes = _coop_modes()
    trl_min = serializers.IntegerField(min_value=1, max_value=9, required=False, allow_null=True)
    deadline = serializers.DateField(required=False, allow_null=True)
    valid_until = serializers.DateField(
        required=False,
        allow_null=True,
        help_text=_("有效期至（含当天）；留空则发布时定为12个月后。过期后退出匹配和公开列表。"),
    )
    answer_days = serializers.IntegerField(
        min_value=1,
        max_value=MAX_ANSWER_DAYS,
        required=False,
        allow_null=True,
        help_text=_("查看全文申请的答复期限（天）；留空为平台默认。"),
    )
    contact_name = StrictCharField(max_length=32, required=False, allow_blank=True)
    contact_phone = StrictCharField(max_length=32, required=False, allow_blank=True)
    contact_email = serializers.EmailField(required=False, allow_blank=True)
    confidentiality = serializers.ChoiceField(choices=Need.Confidentiality.choices, required=False)
    terms = _text(Need, "terms", required=False, allow_blank=True)
    indicators = IndicatorInputSerializer(many=True, required=False)


class NeedBulkItemInputSerializer(NeedInputSerializer):
    """One need of a bulk import: ``external_ref`` is required (it makes re-imports idempotent);
    ``status`` ``published`` publishes the need after saving it."""

    organization = None
    external_ref = StrictCharField(max_length=64)
    status = serializers.ChoiceField(choices=IMPORT_STATUS_CHOICES, default="draft")


class NeedSummaryOutputSerializer(serializers.ModelSerializer):
    """What anyone may see of a summary-public need."""

    visibility = serializers.SerializerMethodField()
    field = FieldOutputSerializer(read_only=True)
    region = serializers.StringRelatedField(allow_null=True)

    class Meta:
        model = Need
        # Exactly what matching.catalogue.projections lets a summary-only viewer read.
        fields = ["uuid", "visibility", *NEED_SUMMARY_FIELD_ORDER[1:]]

    @extend_schema_field(serializers.ChoiceField(choices=["summary"]))
    def get_visibility(self, obj) -> str:
        return "summary"


class NeedOutputSerializer(QualityFieldMixin, serializers.ModelSerializer):
    """A need seen in full: by its organization, staff, everyone when public, approved parties."""

    quality = serializers.SerializerMethodField(
        help_text=_("信息完整度：仅发布机构和平台工作人员在单个需求的响应里可见。")
    )
    visibility = serializers.SerializerMethodField()
    organization = OrganizationBriefOutputSerializer(read_only=True)
    field = FieldOutputSerializer(read_only=True)
    region = serializers.StringRelatedField(allow_null=True)
    indicators = IndicatorOutputSerializer(many=True, read_only=True)
    trl_stage = StrictCharField(read_only=True)
    external_ref = serializers.SerializerMethodField(
        help_text=_("外部编号，仅发布机构的成员可见。")
    )

    class Meta:
        model = Need
        # Everything matching.catalogue.projections lets a full viewer read (no attachments here).
        fields = [
            "uuid",
            "visibility",
            *NEED_SUMMARY_FIELD_ORDER[1:],
            *(f for f in NEED_FULL_ONLY_FIELD_ORDER if f != "attachments"),
        ]

    @extend_schema_field(serializers.ChoiceField(choices=["full"]))
    def get_visibility(self, obj) -> str:
        return "full"

    @extend_schema_field(OpenApiTypes.STR)
    def get_external_ref(self, obj) -> str:
        member_org_ids = self.context.get("member_org_ids") or set()
        return obj.external_ref if obj.organization_id in member_org_ids else ""


# --- results ----------------------------------------------------------------------------------------


class PatentInputSerializer(RowSerializer):
    number = StrictCharField(max_length=32)
    kind = serializers.ChoiceField(choices=Patent.Kind.choices, default=Patent.Kind.INVENTION)
    status = serializers.ChoiceField(choices=Patent.Status.choices, default=Patent.Status.PENDING)
    title = _text(Patent, "title", required=False, allow_blank=True, default="")


class PatentOutputSerializer(serializers.ModelSerializer):
    class Meta:
        model = Patent
        fields = ["number", "kind", "status", "title"]


class ResultInputSerializer(serializers.Serializer):
    """Create or update (``partial=True``); ``patents``, when given, replaces the whole list."""

    organization = StrictUUIDField(
        required=False,
        help_text=_("完成单位的 uuid；用户只属于一个机构时可省略。仅创建时使用。"),
    )
    external_ref = StrictCharField(max_length=64, required=False, allow_blank=True)
    title = _text(Result, "title")
    abstract = _text(Result, "abstract")
    keywords = serializers.ListField(
        child=StrictCharField(max_length=32), required=False, max_length=30
    )
    field = FieldCodeField()
    industry_chain = StrictCharField(max_length=64, required=False, allow_blank=True)
    trl = serializers.IntegerField(min_value=1, max_value=9)
    is_service_invention = StrictBooleanField(required=False)
    transfer_modes = _coop_modes()
    price_min = _money()
    price_max = _money()
    team = _text(Result, "team", required=False, allow_blank=True)
    application_fields = serializers.ListField(
        child=StrictCharField(max_length=64), required=False, max_length=30
    )
    patents = PatentInputSerializer(many=True, required=False)
    valid_until = serializers.DateField(
        required=False,
        allow_null=True,
        help_text=_("有效期至（含当天）；留空则发布时定为12个月后。过期后退出匹配和公开列表。"),
    )


class ResultBulkItemInputSerializer(ResultInputSerializer):
    organization = None
    external_ref = StrictCharField(max_length=64)
    status = serializers.ChoiceField(choices=IMPORT_STATUS_CHOICES, default="draft")


class ResultOutputSerializer(QualityFieldMixin, serializers.ModelSerializer):
    quality = serializers.SerializerMethodField(
        help_text=_("信息完整度：仅完成单位和平台工作人员在单个成果的响应里可见。")
    )
    organization = OrganizationBriefOutputSerializer(read_only=True)
    field = FieldOutputSerializer(read_only=True)
    patents = PatentOutputSerializer(many=True, read_only=True)
    trl_stage = StrictCharField(read_only=True)
    external_ref = serializers.SerializerMethodField(
        help_text=_("外部编号，仅完成单位的成员可见。")
    )

    class Meta:
        model = Result
        fields = [
            "uuid",
            "title",
            "abstract",
            "keywords",
            "field",
            "industry_chain",
            "trl",
            "trl_stage",
            "is_service_invention",
            "transfer_modes",
            "price_min",
            "price_max",
            "team",
            "application_fields",
            "patents",
            "status",
            "organization",
            "external_ref",
            "quality",
            "published_at",
            "valid_until",
            "created_at",
            "updated_at",
        ]

    @extend_schema_field(OpenApiTypes.STR)
    def get_external_ref(self, obj) -> str:
        member_org_ids = self.context.get("member_org_ids") or set()
        return obj.external_ref if obj.organization_id in member_org_ids else ""


# --- capability profiles ----------------------------------------------------------------------------


class CapabilityInputSerializer(serializers.Serializer):
    organization = StrictUUIDField(
        required=False,
        help_text=_("所属机构的 uuid；用户只属于一个机构时可省略。仅创建时使用。"),
    )
    title = _text(CapabilityProfile, "title")
    description = _text(CapabilityProfile, "description")
    team = _text(CapabilityProfile, "team", required=False, allow_blank=True)
    equipment = _text(CapabilityProfile, "equipment", required=False, allow_blank=True)
    past_projects = _text(CapabilityProfile, "past_projects", required=False, allow_blank=True)
    is_published = StrictBooleanField(required=False)
    fields = serializers.ListField(child=FieldCodeField(), required=False, max_length=20)


class CapabilityOutputSerializer(serializers.ModelSerializer):
    organization = OrganizationBriefOutputSerializer(read_only=True)
    fields = FieldOutputSerializer(many=True, read_only=True)

    class Meta:
        model = CapabilityProfile
        fields = [
            "uuid",
            "title",
            "description",
            "team",
            "equipment",
            "past_projects",
            "fields",
            "is_published",
            "organization",
            "created_at",
            "updated_at",
        ]


# --- state changes and bulk reports -----------------------------------------------------------------


class ReasonInputSerializer(serializers.Serializer):
    reason = StrictCharField(required=False, allow_blank=True, max_length=500, default="")


class BulkItemOutputSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text=_("列表中的序号，从 1 开始。"))
    external_ref = StrictCharField()
    uuid = StrictUUIDField()
    created = serializers.BooleanField()


class BulkOutputSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    items = BulkItemOutputSerializer(many=True)


class BulkRowErrorSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text=_("出错的行号，从 1 开始。"))
    field = StrictCharField(help_text=_("出错的字段名；整行错误为 non_field_errors。"))
    message = StrictCharField()
    text = StrictCharField(help_text=_("完整的错误说明，如“第2行 预算上限：……”。"))


class BulkErrorOutputSerializer(serializers.Serializer):
    detail = StrictCharField()
    rows = BulkRowErrorSerializer(many=True)
