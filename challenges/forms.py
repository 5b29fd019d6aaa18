"""Forms parse input only; the services validate and write."""

from __future__ import annotations

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.forms import ServiceErrorsMixin
from accounts.models import ExpertProfile, Organization
from challenges import selectors
from challenges.models import Challenge
from core.limits import LONG_TEXT, PARAGRAPH
from matching.catalogue.answers import MAX_ANSWER_DAYS, DeclineReason
from taxonomy.models import Region

TEXTAREA = forms.Textarea(attrs={"rows": 3})


class ChallengeForm(ServiceErrorsMixin, forms.Form):
    title = forms.CharField(label=_("榜单名称"), max_length=120)
    intro = forms.CharField(
        label=_("榜单说明"), widget=TEXTAREA, required=False, max_length=LONG_TEXT
    )
    access = forms.ChoiceField(label=_("揭榜方式"), choices=Challenge.Access.choices)
    reward_total = forms.DecimalField(
        label=_("榜单总金额（万元）"),
        max_digits=10,
        decimal_places=2,
        min_value=0,
        required=False,
        help_text=_("发布前须填写；不会自动取自需求预算。"),
    )
    reward_split = forms.CharField(
        label=_("经费拆分说明"),
        widget=TEXTAREA,
        required=False,
        max_length=PARAGRAPH,
        help_text=_("按里程碑付款比例拨付；可在此补充说明。"),
    )
    indicator_ids = forms.TypedMultipleChoiceField(
        label=_("验收将考核的技术指标"),
        coerce=int,
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    no_threshold = forms.BooleanField(
        label=_("不论资历、不设门槛"),
        required=False,
        help_text=_("勾选后不限机构类型、地区和资质。"),
    )
    eligible_kinds = forms.MultipleChoiceField(
        label=_("允许牵头揭榜的机构类型（不选为不限）"),
        choices=[c for c in Organization.Kind.choices if c[0] != Organization.Kind.OPERATOR],
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    eligible_region_ids = forms.ModelMultipleChoiceField(
        label=_("允许的地区（不选为不限）"),
        queryset=Region.objects.all(),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 6}),
    )
    required_qualifications = forms.CharField(
        label=_("资质要求"), widget=TEXTAREA, required=False, max_length=PARAGRAPH
    )
    ip_terms = forms.CharField(
        label=_("知识产权归属"),
        widget=TEXTAREA,
        required=False,
        max_length=PARAGRAPH,
        help_text=_("攻关中产生的专利、软件著作权、技术秘密归谁所有，双方可如何使用。"),
    )
    allow_consortium = forms.BooleanField(label=_("允许创新联合体揭榜"), required=False)
    consortium_max_members = forms.IntegerField(
        label=_("联合体成员上限（含牵头单位）"), min_value=2, max_value=20, initial=3
    )
    bid_deadline = forms.DateTimeField(
        label=_("揭榜截止时间"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
    )
    review_method = forms.ChoiceField(label=_("评审方式"), choices=Challenge.ReviewMethod.choices)
    award_mode = forms.ChoiceField(label=_("定榜方式"), choices=Challenge.AwardMode.choices)
    race_winners = forms.IntegerField(label=_("赛马并行家数"), min_value=2, max_value=10, initial=2)
    downselect_after_index = forms.IntegerField(
        label=_("计划在第几个里程碑验收后择优（赛马制）"), min_value=1, required=False
    )
    answer_days = forms.IntegerField(
        label=_("答复期限（天）"),
        min_value=1,
        max_value=MAX_ANSWER_DAYS,
        required=False,
        help_text=_(
            "受邀机构须在收到邀请后此天数内答复（不晚于揭榜截止）；本单位须在揭榜截止后此天数内答复每份方案。留空为平台默认。"
        ),
    )

    def __init__(self, *args, challenge: Challenge, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["indicator_ids"].choices = [
            (i.pk, str(i)) for i in challenge.need.indicators.all()
        ]

    @staticmethod
    def initial_for(challenge: Challenge) -> dict:
        milestones = list(challenge.milestones.all())
        index = next(
            (i + 1 for i, m in enumerate(milestones) if m.pk == challenge.downselect_after_id), None
        )
        return {
            "title": challenge.title,
            "intro": challenge.intro,
            "access": challenge.access,
            "reward_total": challenge.reward_total,
            "reward_split": challenge.reward_split,
            "indicator_ids": [i.pk for i in challenge.indicators.all()],
            "no_threshold": challenge.no_threshold,
            "eligible_kinds": challenge.eligible_kinds,
            "eligible_region_ids": list(challenge.eligible_regions.all()),
            "required_qualifications": challenge.required_qualifications,
            "ip_terms": challenge.ip_terms,
            "allow_consortium": challenge.allow_consortium,
            "consortium_max_members": challenge.consortium_max_members,
            "bid_deadline": timezone.localtime(challenge.bid_deadline),
            "review_method": challenge.review_method,
            "award_mode": challenge.award_mode,
            "race_winners": challenge.race_winners,
            "downselect_after_index": index,
            "answer_days": challenge.answer_days,
        }

    def service_kwargs(self) -> dict:
        data = dict(self.cleaned_data)
        data["eligible_region_ids"] = [r.pk for r in data["eligible_region_ids"]]
        index = data.pop("downselect_after_index")
        data["downselect_after_index"] = index - 1 if index else None
        return data


class CriterionForm(forms.Form):
    name = forms.CharField(label=_("评审维度"), max_length=32)
    weight = forms.IntegerField(label=_("权重（%）"), min_value=1, max_value=100)
    description = forms.CharField(label=_("评分要点"), max_length=200, required=False)


class MilestoneForm(forms.Form):
    name = forms.CharField(label=_("里程碑"), max_length=64)
    deliverable = forms.CharField(label=_("交付物"), max_length=200)
    indicator_id = forms.TypedChoiceField(
        label=_("对应指标"), coerce=int, required=False, empty_value=None
    )
    criterion = forms.CharField(label=_("验收标准"), max_length=200)
    due_date = forms.DateField(label=_("截止日期"), widget=forms.DateInput(attrs={"type": "date"}))
    share = forms.DecimalField(
        label=_("付款比例（%）"), max_digits=5, decimal_places=2, min_value=0
    )

    def __init__(self, *args, indicators=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["indicator_id"].choices = [("", "—")] + [(i.pk, str(i)) for i in indicators]


CriterionFormSet = forms.formset_factory(CriterionForm, extra=1, can_delete=True)
MilestoneFormSet = forms.formset_factory(MilestoneForm, extra=1, can_delete=True)


def filled(formset) -> list[dict]:
    """The rows that were filled in and not marked for deletion, without the DELETE flag."""
    return [
        {k: v for k, v in f.cleaned_data.items() if k != "DELETE"}
        for f in formset.forms
        if f.cleaned_data and not f.cleaned_data.get("DELETE")
    ]


class ReasonForm(ServiceErrorsMixin, forms.Form):
    reason = forms.CharField(label=_("原因"), widget=TEXTAREA, max_length=PARAGRAPH)


class DeclineForm(forms.Form):
    """A coded decline (matching.catalogue.answers.clean_decline validates it in the service)."""

    reason = forms.ChoiceField(
        label=_("婉拒原因（对方会看到）"),
        choices=[("", "---------"), *DeclineReason.choices],
        required=False,
    )
    note = forms.CharField(label=_("说明（选“其他”时必填）"), max_length=500, required=False)


class InviteForm(forms.Form):
    organization = forms.ModelChoiceField(
        label=_("邀请机构"),
        queryset=Organization.objects.exclude(kind=Organization.Kind.OPERATOR).order_by("name"),
    )


class AssignExpertForm(forms.Form):
    expert = forms.ModelChoiceField(
        label=_("评审专家"),
        queryset=ExpertProfile.objects.filter(is_active=True).select_related("user"),
    )


class AwardForm(ServiceErrorsMixin, forms.Form):
    winners = forms.ModelMultipleChoiceField(
        label=_("揭榜单位"), queryset=None, widget=forms.CheckboxSelectMultiple
    )
    reason = forms.CharField(label=_("定榜理由"), widget=TEXTAREA, max_length=PARAGRAPH)
    decline_reason = forms.ChoiceField(
        label=_("未入选方案的原因（未单独答复的方案，对方会看到）"),
        choices=[("", "---------"), *DeclineReason.choices],
        required=False,
    )
    decline_note = forms.CharField(
        label=_("说明（选“其他”时必填）"), max_length=500, required=False
    )

    def __init__(self, *args, bids, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["winners"].queryset = bids
        self.fields["winners"].label_from_instance = lambda b: b.organization.name


class DownselectForm(ServiceErrorsMixin, forms.Form):
    keep = forms.ModelChoiceField(label=_("保留的揭榜单位"), queryset=None)
    after_milestone = forms.ModelChoiceField(label=_("依据的里程碑"), queryset=None)
    reason = forms.CharField(label=_("择优理由"), widget=TEXTAREA, max_length=PARAGRAPH)

    def __init__(self, *args, challenge: Challenge, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["keep"].queryset = challenge.contracts.filter(status="active").select_related(
            "organization"
        )
        self.fields["keep"].label_from_instance = lambda c: c.organization.name
        self.fields["after_milestone"].queryset = challenge.milestones.all()
        self.fields["after_milestone"].initial = challenge.downselect_after_id


class MilestoneSubmitForm(ServiceErrorsMixin, forms.Form):
    note = forms.CharField(label=_("交付说明"), widget=TEXTAREA, max_length=LONG_TEXT)
    measured_value = forms.CharField(label=_("实测指标值"), max_length=64, required=False)


class MilestoneDecisionForm(ServiceErrorsMixin, forms.Form):
    decision = forms.ChoiceField(
        label=_("验收结论"), choices=[("accept", _("通过")), ("reject", _("不通过"))]
    )
    comment = forms.CharField(
        label=_("验收意见"), widget=TEXTAREA, required=False, max_length=PARAGRAPH
    )


# --- bids ---------------------------------------------------------------------------------------------


class BidForm(ServiceErrorsMixin, forms.Form):
    organization = forms.ModelChoiceField(label=_("揭榜单位（牵头）"), queryset=None)
    technical_approach = forms.CharField(
        label=_("技术路线"), widget=forms.Textarea(attrs={"rows": 6}), max_length=LONG_TEXT
    )
    team = forms.CharField(label=_("团队"), widget=TEXTAREA, max_length=PARAGRAPH)
    qualification_statement = forms.CharField(
        label=_("资质说明"), widget=TEXTAREA, required=False, max_length=PARAGRAPH
    )
    result_ids = forms.ModelMultipleChoiceField(
        label=_("关联成果"), queryset=None, required=False, widget=forms.CheckboxSelectMultiple
    )
    patent_ids = forms.ModelMultipleChoiceField(
        label=_("关联专利"), queryset=None, required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, challenge: Challenge, orgs, bid=None, **kwargs):
        super().__init__(*args, **kwargs)
        org_ids = [o.pk for o in orgs]
        if bid is not None:
            org_ids = list(selectors.bid_linkable_org_ids(bid=bid))
            del self.fields["organization"]
        else:
            self.fields["organization"].queryset = Organization.objects.filter(pk__in=org_ids)
            if len(org_ids) == 1:
                self.fields["organization"].initial = org_ids[0]
        self.fields["result_ids"].queryset = selectors.results_linkable(org_ids=org_ids)
        self.fields["patent_ids"].queryset = selectors.patents_linkable(org_ids=org_ids)
        self.indicators = list(challenge.indicators.all())
        self.milestones = list(challenge.milestones.all())
        for ind in self.indicators:
            self.fields[f"ind_{ind.pk}_approach"] = forms.CharField(
                label=str(ind),
                widget=forms.Textarea(attrs={"rows": 2}),
                required=False,
                max_length=PARAGRAPH,
            )
            self.fields[f"ind_{ind.pk}_value"] = forms.CharField(
                label=_("预期达到值"), max_length=64, required=False
            )
        for ms in self.milestones:
            self.fields[f"ms_{ms.pk}_date"] = forms.DateField(
                label=ms.name, required=False, widget=forms.DateInput(attrs={"type": "date"})
            )
            self.fields[f"ms_{ms.pk}_plan"] = forms.CharField(
                label=_("工作内容"),
                required=False,
                widget=forms.Textarea(attrs={"rows": 2}),
                max_length=PARAGRAPH,
            )

    def indicator_rows(self):
        return [
            (ind, self[f"ind_{ind.pk}_approach"], self[f"ind_{ind.pk}_value"])
            for ind in self.indicators
        ]

    def milestone_rows(self):
        return [(ms, self[f"ms_{ms.pk}_date"], self[f"ms_{ms.pk}_plan"]) for ms in self.milestones]

    @staticmethod
    def initial_for(bid) -> dict:
        initial = {
            "technical_approach": bid.technical_approach,
            "team": bid.team,
            "qualification_statement": bid.qualification_statement,
            "result_ids": list(bid.results.all()),
            "patent_ids": list(bid.patents.all()),
        }
        for r in bid.indicator_responses.all():
            initial[f"ind_{r.indicator_id}_approach"] = r.approach
            initial[f"ind_{r.indicator_id}_value"] = r.expected_value
        for s in bid.schedule.all():
            initial[f"ms_{s.milestone_id}_date"] = s.planned_date
            initial[f"ms_{s.milestone_id}_plan"] = s.plan
        return initial

    def service_kwargs(self) -> dict:
        d = self.cleaned_data
        return {
            "technical_approach": d["technical_approach"],
            "team": d["team"],
            "qualification_statement": d["qualification_statement"],
            "result_ids": [r.pk for r in d["result_ids"]],
            "patent_ids": [p.pk for p in d["patent_ids"]],
            "indicator_responses": [
                {
                    "indicator_id": ind.pk,
                    "approach": d[f"ind_{ind.pk}_approach"],
                    "expected_value": d[f"ind_{ind.pk}_value"],
                }
                for ind in self.indicators
            ],
            "schedule": [
                {
                    "milestone_id": ms.pk,
                    "planned_date": d[f"ms_{ms.pk}_date"],
                    "plan": d[f"ms_{ms.pk}_plan"],
                }
                for ms in self.milestones
            ],
        }


class BudgetItemForm(forms.Form):
    item = forms.CharField(label=_("科目"), max_length=64)
    amount = forms.DecimalField(
        label=_("金额（万元）"), max_digits=10, decimal_places=2, min_value=0
    )
    note = forms.CharField(label=_("说明"), max_length=200, required=False)


class ConsortiumMemberForm(forms.Form):
    organization = forms.ModelChoiceField(
        label=_("成员单位"),
        queryset=Organization.objects.exclude(kind=Organization.Kind.OPERATOR).order_by("name"),
    )
    role = forms.CharField(label=_("分工"), max_length=120)
    share = forms.DecimalField(
        label=_("经费份额（%）"), max_digits=5, decimal_places=2, min_value=0
    )


BudgetFormSet = forms.formset_factory(BudgetItemForm, extra=2, can_delete=True)
ConsortiumFormSet = forms.formset_factory(ConsortiumMemberForm, extra=1, can_delete=True)


class AttachmentForm(forms.Form):
    file = forms.FileField(label=_("附件（PDF、DOCX、PNG、JPEG）"))


class ScoreForm(forms.Form):
    """One number per (bid, criterion) and an optional comment per bid."""

    def __init__(self, *args, bids, criteria, **kwargs):
        super().__init__(*args, **kwargs)
        self.bids, self.criteria = bids, criteria
        for bid in bids:
            for c in criteria:
                self.fields[f"s_{bid.pk}_{c.pk}"] = forms.IntegerField(
                    label=c.name,
                    min_value=0,
                    max_value=100,
                    required=False,
                    widget=forms.NumberInput(attrs={"min": 0, "max": 100, "step": 1}),
                )
            self.fields[f"c_{bid.pk}"] = forms.CharField(
                label=_("评语"),
                required=False,
                max_length=500,
                widget=forms.Textarea(attrs={"rows": 2}),
            )

    def rows(self):
        return [
            (bid, [self[f"s_{bid.pk}_{c.pk}"] for c in self.criteria], self[f"c_{bid.pk}"])
            for bid in self.bids
        ]

    def scores(self) -> list[dict]:
        d = self.cleaned_data
        return [
            {
                "bid_id": bid.pk,
                "criterion_id": c.pk,
                "value": d[f"s_{bid.pk}_{c.pk}"],
                "comment": d[f"c_{bid.pk}"],
            }
            for bid in self.bids
            for c in self.criteria
        ]
