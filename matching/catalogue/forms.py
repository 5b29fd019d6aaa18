"""Forms of the needs/results/capabilities pages. They only parse input; ``matching.catalogue.services``
validates and its ``ValidationError`` is put back on the form (and the row formsets)."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from accounts.forms import ServiceErrorsMixin
from core.text import NUL_MESSAGE
from matching.catalogue import services
from matching.models import CapabilityProfile, CoopMode, Need, NeedIndicator, Patent, Result
from taxonomy.models import Field, Region

UPLOAD_ACCEPT = ".pdf,.docx,.png,.jpg,.jpeg"
# Same wording as matching.catalogue.services, so the form and the service say the same thing.
TRL_MESSAGE = _("成熟度（TRL）应为1到9之间的整数。")
TRL_ERRORS = {"min_value": TRL_MESSAGE, "max_value": TRL_MESSAGE, "invalid": TRL_MESSAGE}


def field_choices(*, blank: str | None = None, whole_label: bool = False) -> list:
    """Technology fields grouped under their top-level field, by code."""
    fields = list(Field.objects.select_related("parent").order_by("position", "code"))
    children: dict[int, list[Field]] = {}
    for f in fields:
        if f.parent_id:
            children.setdefault(f.parent_id, []).append(f)
    choices: list = [("", blank)] if blank is not None else []
    for top in (f for f in fields if not f.parent_id):
        label = _("全部：%(name)s") % {"name": top.name} if whole_label else top.name
        options = [(top.code, label)] + [(c.code, c.name) for c in children.get(top.pk, [])]
        choices.append((top.name, options))
    return choices


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one input; each is checked by ``services.validate_upload``."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": UPLOAD_ACCEPT}))
        kwargs.setdefault("required", False)
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, list | tuple):
            files = [single(d, initial) for d in data if d]
        else:
            files = [single(data, initial)] if data else []
        if self.required and not files:
            raise ValidationError(self.error_messages["required"], code="required")
        errors = []
        for upload in files:
            try:
                services.validate_upload(upload)
            except ValidationError as exc:
                errors.extend(
                    _("%(name)s：%(message)s") % {"name": upload.name, "message": message}
                    for message in exc.message_dict.get("file", exc.messages)
                )
        if errors:
            raise ValidationError(errors)
        return files


class _ServiceModelForm(ServiceErrorsMixin, forms.ModelForm):
    """A ModelForm that only parses; the model is validated by the service."""

    def _post_clean(self):
        pass

    def service_data(self) -> dict:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}


class NeedForm(_ServiceModelForm):
    field = forms.ChoiceField(label=_("技术领域"))
    coop_modes = forms.MultipleChoiceField(
        label=_("合作方式"),
        choices=CoopMode.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    trl_min = forms.IntegerField(
        label=_("期望成熟度（TRL）"),
        required=False,
        min_value=1,
        max_value=9,
        error_messages=TRL_ERRORS,
        help_text=_("1–3 实验室，4–5 小试，6–7 中试，8–9 产业化。"),
    )
    region = forms.ModelChoiceField(
        label=_("所在地区"), queryset=Region.objects.all(), required=False
    )
    attachments = MultipleFileField(
        label=_("附件"), help_text=_("PDF、DOCX、PNG 或 JPEG，可多选；仅能查看全文者可下载。")
    )

    class Meta:
        model = Need
        fields = [
            "title",
            "field",
            "region",
            "industry_chain",
            "confidentiality",
            "summary",
            "terms",
            "description",
            "scenario",
            "budget_min",
            "budget_max",
            "funding_mode",
            "coop_modes",
            "trl_min",
            "deadline",
            "valid_until",
            "answer_days",
            "contact_name",
            "contact_phone",
            "contact_email",
        ]
        widgets = {
            "summary": forms.Textarea(attrs={"rows": 3}),
            "terms": forms.Textarea(attrs={"rows": 3}),
            "description": forms.Textarea(attrs={"rows": 6}),
            "scenario": forms.Textarea(attrs={"rows": 3}),
            "deadline": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "valid_until": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "confidentiality": forms.RadioSelect,
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["field"].choices = field_choices(blank="---------")
        if self.instance.pk and self.instance.field_id:
            self.initial["field"] = self.instance.field.code
        for name in ("budget_min", "budget_max"):
            self.fields[name].widget.attrs["min"] = 0


class IndicatorForm(forms.Form):
    # The indicator a row edits, so it is updated in place (bids answer it by id).
    id = forms.IntegerField(required=False, widget=forms.HiddenInput)
    name = forms.CharField(
        label=_("指标"), required=False, max_length=NeedIndicator._meta.get_field("name").max_length
    )
    operator = forms.ChoiceField(
        label=_("关系"),
        choices=NeedIndicator.Operator.choices,
        required=False,
        initial=NeedIndicator.Operator.GE,
    )
    target = forms.CharField(label=_("目标值"), required=False, max_length=32)
    target_max = forms.CharField(label=_("上限"), required=False, max_length=32)
    unit = forms.CharField(label=_("单位"), required=False, max_length=16)


IndicatorFormSet = forms.formset_factory(IndicatorForm, extra=1, can_delete=True, max_num=30)


class ResultForm(_ServiceModelForm):
    field = forms.ChoiceField(label=_("技术领域"))
    transfer_modes = forms.MultipleChoiceField(
        label=_("转化方式"),
        choices=CoopMode.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    trl = forms.IntegerField(
        label=_("成熟度（TRL）"),
        min_value=1,
        max_value=9,
        error_messages=TRL_ERRORS,
        help_text=_("1–3 实验室，4–5 小试，6–7 中试，8–9 产业化。"),
    )
    keywords = forms.CharField(
        label=_("关键词"), required=False, help_text=_("用逗号或顿号分隔，如：锂电池、隔膜")
    )
    application_fields = forms.CharField(
        label=_("应用领域"), required=False, help_text=_("用逗号或顿号分隔。")
    )
    attachments = MultipleFileField(
        label=_("附件"), help_text=_("PDF、DOCX、PNG 或 JPEG，可多选。")
    )

    class Meta:
        model = Result
        fields = [
            "title",
            "field",
            "industry_chain",
            "abstract",
            "keywords",
            "application_fields",
            "trl",
            "is_service_invention",
            "transfer_modes",
            "price_min",
            "price_max",
            "team",
            "valid_until",
        ]
        widgets = {
            "abstract": forms.Textarea(attrs={"rows": 6}),
            "team": forms.Textarea(attrs={"rows": 3}),
            "valid_until": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["field"].choices = field_choices(blank="---------")
        if self.instance.pk:
            if self.instance.field_id:
                self.initial["field"] = self.instance.field.code
            self.initial["keywords"] = "、".join(self.instance.keywords)
            self.initial["application_fields"] = "、".join(self.instance.application_fields)
        for name in ("price_min", "price_max"):
            self.fields[name].widget.attrs["min"] = 0


class PatentForm(forms.Form):
    number = forms.CharField(label=_("申请号/登记号"), required=False, max_length=40)
    kind = forms.ChoiceField(
        label=_("类型"), choices=Patent.Kind.choices, required=False, initial=Patent.Kind.INVENTION
    )
    status = forms.ChoiceField(
        label=_("法律状态"),
        choices=Patent.Status.choices,
        required=False,
        initial=Patent.Status.PENDING,
    )
    title = forms.CharField(
        label=_("名称"), required=False, max_length=Patent._meta.get_field("title").max_length
    )


PatentFormSet = forms.formset_factory(PatentForm, extra=1, can_delete=True, max_num=50)


class CapabilityForm(_ServiceModelForm):
    fields_ = forms.MultipleChoiceField(
        label=_("技术领域"),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 8}),
        help_text=_("按住 Ctrl 或 ⌘ 可多选。"),
    )

    class Meta:
        model = CapabilityProfile
        fields = ["title", "description", "team", "equipment", "past_projects", "is_published"]
        widgets = {
            "description": forms.Textarea(attrs={"rows": 5}),
            "team": forms.Textarea(attrs={"rows": 3}),
            "equipment": forms.Textarea(attrs={"rows": 3}),
            "past_projects": forms.Textarea(attrs={"rows": 3}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["fields_"].choices = field_choices()
        if self.instance.pk:
            self.initial["fields_"] = [f.code for f in self.instance.fields.all()]

    def add_service_errors(self, exc) -> None:
        if hasattr(exc, "error_dict") and "fields" in exc.error_dict:
            self.add_error("fields_", exc.message_dict["fields"])
            exc = ValidationError({k: v for k, v in exc.message_dict.items() if k != "fields"})
            if not exc.error_dict:
                return
        super().add_service_errors(exc)


# --- lists ----------------------------------------------------------------------------------------

STAGE_CHOICES = [
    ("", _("不限")),
    ("lab", _("实验室（TRL 1–3）")),
    ("small", _("小试（TRL 4–5）")),
    ("pilot", _("中试（TRL 6–7）")),
    ("industrial", _("产业化（TRL 8–9）")),
]


class ListFilterForm(forms.Form):
    q = forms.CharField(
        label=_("关键词"),
        required=False,
        max_length=100,
        error_messages={"null_characters_not_allowed": NUL_MESSAGE},
    )
    field = forms.ChoiceField(label=_("技术领域"), required=False)
    region = forms.ModelChoiceField(
        label=_("地区"), queryset=Region.objects.all(), required=False, empty_label=_("不限")
    )
    stage = forms.ChoiceField(label=_("成熟度"), choices=STAGE_CHOICES, required=False)
    mode = forms.ChoiceField(
        label=_("合作方式"), choices=[("", _("不限")), *CoopMode.choices], required=False
    )
    amount_min = forms.DecimalField(label=_("金额下限（万元）"), required=False, min_value=0)
    amount_max = forms.DecimalField(label=_("金额上限（万元）"), required=False, min_value=0)
    open_only = forms.BooleanField(label=_("只看进行中"), required=False)

    def __init__(self, *args, amount_label=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["field"].choices = field_choices(blank=str(_("不限")), whole_label=True)
        if amount_label:
            self.fields["amount_min"].label = _("%(what)s下限（万元）") % {"what": amount_label}
            self.fields["amount_max"].label = _("%(what)s上限（万元）") % {"what": amount_label}


# --- need actions ---------------------------------------------------------------------------------


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("原因"), required=False, max_length=500)


class AccessRequestForm(ServiceErrorsMixin, forms.Form):
    organization = forms.ModelChoiceField(label=_("以机构名义申请"), queryset=None)
    accept_terms = forms.BooleanField(
        label=_("我已阅读并接受需求方的保密条款，代表本机构承诺对全文内容保密"), required=False
    )

    def __init__(self, *args, organizations=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organization"].queryset = organizations
        self.fields["organization"].empty_label = None


class AccessInviteForm(ServiceErrorsMixin, forms.Form):
    organization = forms.ModelChoiceField(label=_("邀请机构"), queryset=None)

    def __init__(self, *args, organizations=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organization"].queryset = organizations


class AttachmentForm(ServiceErrorsMixin, forms.Form):
    attachments = MultipleFileField(label=_("上传附件"), required=True)

    def add_service_errors(self, exc) -> None:
        if hasattr(exc, "error_dict") and "file" in exc.error_dict:
            self.add_error("attachments", exc.message_dict["file"])
        else:
            super().add_service_errors(exc)
