"""Filters of the needs, results and capability profile lists.

Need filters on columns a summary-public need hides from strangers (budget, maturity, cooperation
modes, organization) and the keyword search over confidential text only match needs the viewer sees
in full: otherwise filtering ``budget_gte=…`` would tell a stranger the budget of a need whose budget
it may not read. They rely on the ``viewer_visibility`` annotation of
``matching.catalogue.visibility.need_queryset_for_viewer``.
"""

from __future__ import annotations

import django_filters as filters
from django import forms
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from accounts.selectors import member_org_ids
from matching.catalogue.search import (
    capability_search,
    field_q,
    need_search,
    region_ids,
    result_search,
)
from matching.catalogue.visibility import need_full_text_q
from matching.models import CapabilityProfile, CoopMode, Need, Result


class _StrictBooleanField(forms.NullBooleanField):
    """``true``/``false`` (or ``1``/``0``); empty is no filter; anything else is invalid, not
    silently no filter."""

    def to_python(self, value):
        if value in (None, "", True, False, "true", "false", "True", "False", "1", "0"):
            return super().to_python(value)
        raise forms.ValidationError(_("请填写 true 或 false。"), code="invalid")


class BooleanFilter(filters.BooleanFilter):
    field_class = _StrictBooleanField

    def __init__(self, *args, **kwargs):
        # The select widget would turn an unknown value into "no choice" before the field sees it.
        kwargs.setdefault("widget", forms.TextInput)
        super().__init__(*args, **kwargs)


class IntegerFilter(filters.NumberFilter):
    """A whole number (a maturity level): ``trl_gte=0.5`` is a 400, not a silent match."""

    field_class = forms.IntegerField


class NeedFilter(filters.FilterSet):
    field = filters.CharFilter(
        method="filter_field", label=_("技术领域代码；领域代码同时匹配其下所有子领域")
    )
    region = filters.CharFilter(method="filter_region", label=_("省份名称或区域名称（如长三角）"))
    status = filters.MultipleChoiceFilter(choices=Need.Status.choices, label=_("状态，可多选"))
    coop_mode = filters.MultipleChoiceFilter(
        choices=CoopMode.choices, method="filter_coop_mode", label=_("合作方式，多选时满足其一即可")
    )
    trl_gte = IntegerFilter(method="filter_trl_gte", label=_("期望成熟度不低于"))
    trl_lte = IntegerFilter(method="filter_trl_lte", label=_("期望成熟度不高于"))
    budget_gte = filters.NumberFilter(
        method="filter_budget_gte", label=_("预算区间与之重叠：预算上限不低于（万元）")
    )
    budget_lte = filters.NumberFilter(
        method="filter_budget_lte", label=_("预算区间与之重叠：预算下限不高于（万元）")
    )
    organization = filters.UUIDFilter(method="filter_organization", label=_("发布机构 uuid"))
    mine = BooleanFilter(method="filter_mine", label=_("只看本人所在机构的需求"))
    q = filters.CharFilter(
        method="filter_q",
        label=_("关键词，多个词以空格分隔、须同时出现；支持中文子串（如“锂电池”）"),
    )

    class Meta:
        model = Need
        fields: list[str] = []

    # Conditions on confidential columns are limited to needs seen in full.
    def _full(self, queryset, condition: Q):
        return queryset.filter(need_full_text_q() & condition)

    def filter_field(self, queryset, name, value):
        return queryset.filter(field_q(value))

    def filter_region(self, queryset, name, value):
        return queryset.filter(region__in=region_ids(value))

    def filter_coop_mode(self, queryset, name, value):
        if not value:
            return queryset
        return self._full(queryset, Q(coop_modes__overlap=list(value)))

    def filter_trl_gte(self, queryset, name, value):
        return self._full(queryset, Q(trl_min__gte=value))

    def filter_trl_lte(self, queryset, name, value):
        return self._full(queryset, Q(trl_min__lte=value))

    def filter_budget_gte(self, queryset, name, value):
        # Ranges overlap; an open upper bound reaches any amount, a need with no budget (面议) none.
        return self._full(
            queryset,
            Q(budget_max__gte=value) | Q(budget_max__isnull=True, budget_min__isnull=False),
        )

    def filter_budget_lte(self, queryset, name, value):
        return self._full(
            queryset,
            Q(budget_min__lte=value) | Q(budget_min__isnull=True, budget_max__isnull=False),
        )

    def filter_organization(self, queryset, name, value):
        return self._full(queryset, Q(organization__uuid=value))

    def filter_mine(self, queryset, name, value):
        ids = member_org_ids(self.request.user)
        if value:
            return queryset.filter(organization_id__in=ids)
        return queryset.exclude(organization_id__in=ids)

    def filter_q(self, queryset, name, value):
        return need_search(queryset, value)


class ResultFilter(filters.FilterSet):
    field = filters.CharFilter(
        method="filter_field", label=_("技术领域代码；领域代码同时匹配其下所有子领域")
    )
    region = filters.CharFilter(
        method="filter_region", label=_("完成单位所在省份或区域名称（如长三角）")
    )
    status = filters.MultipleChoiceFilter(choices=Result.Status.choices, label=_("状态，可多选"))
    transfer_mode = filters.MultipleChoiceFilter(
        choices=CoopMode.choices,
        method="filter_transfer_mode",
        label=_("转化方式，多选时满足其一即可"),
    )
    trl_gte = IntegerFilter(field_name="trl", lookup_expr="gte", label=_("成熟度不低于"))
    trl_lte = IntegerFilter(field_name="trl", lookup_expr="lte", label=_("成熟度不高于"))
    price_gte = filters.NumberFilter(
        method="filter_price_gte", label=_("意向价格区间与之重叠：价格上限不低于（万元）")
    )
    price_lte = filters.NumberFilter(
        method="filter_price_lte", label=_("意向价格区间与之重叠：价格下限不高于（万元）")
    )
    organization = filters.UUIDFilter(field_name="organization__uuid", label=_("完成单位 uuid"))
    mine = BooleanFilter(method="filter_mine", label=_("只看本人所在机构的成果"))
    q = filters.CharFilter(
        method="filter_q", label=_("关键词，多个词以空格分隔、须同时出现；支持中文子串")
    )

    class Meta:
        model = Result
        fields: list[str] = []

    def filter_field(self, queryset, name, value):
        return queryset.filter(field_q(value))

    def filter_region(self, queryset, name, value):
        return queryset.filter(organization__region__in=region_ids(value))

    def filter_transfer_mode(self, queryset, name, value):
        if not value:
            return queryset
        return queryset.filter(transfer_modes__overlap=list(value))

    def filter_price_gte(self, queryset, name, value):
        return queryset.filter(
            Q(price_max__gte=value) | Q(price_max__isnull=True, price_min__isnull=False)
        )

    def filter_price_lte(self, queryset, name, value):
        return queryset.filter(
            Q(price_min__lte=value) | Q(price_min__isnull=True, price_max__isnull=False)
        )

    def filter_mine(self, queryset, name, value):
        ids = member_org_ids(self.request.user)
        if value:
            return queryset.filter(organization_id__in=ids)
        return queryset.exclude(organization_id__in=ids)

    def filter_q(self, queryset, name, value):
        return result_search(queryset, value)


class CapabilityFilter(filters.FilterSet):
    field = filters.CharFilter(
        method="filter_field", label=_("技术领域代码；领域代码同时匹配其下所有子领域")
    )
    organization = filters.UUIDFilter(field_name="organization__uuid", label=_("所属机构 uuid"))
    mine = BooleanFilter(method="filter_mine", label=_("只看本人所在机构的研发能力"))
    q = filters.CharFilter(method="filter_q", label=_("关键词，多个词以空格分隔；支持中文子串"))

    class Meta:
        model = CapabilityProfile
        fields: list[str] = []

    def filter_field(self, queryset, name, value):
        # Through a subquery: a profile in two matching sub-fields is listed once.
        matching = CapabilityProfile.objects.filter(field_q(value, "fields")).values("pk")
        return queryset.filter(pk__in=matching)

    def filter_mine(self, queryset, name, value):
        ids = member_org_ids(self.request.user)
        if value:
            return queryset.filter(organization_id__in=ids)
        return queryset.exclude(organization_id__in=ids)

    def filter_q(self, queryset, name, value):
        return capability_search(queryset, value)
