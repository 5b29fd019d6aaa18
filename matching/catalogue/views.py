"""Pages for needs (需求清单), results (科技成果), capability profiles and the organization dashboard.

Thin views: parse with ``matching.catalogue.forms``, read through ``matching.catalogue.visibility`` (home of the
confidentiality rules) / ``matching.catalogue.selectors`` (lists built on them), write through
``matching.catalogue.services``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.forms.utils import ErrorList
from django.http import (
    FileResponse,
    Http404,
    HttpResponse,
    HttpResponseBadRequest,
    JsonResponse,
)
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.models import Organization
from accounts.selectors import user_acts_for
from core.http import form_status
from core.selectors import audit_trail
from core.spreadsheet import csv_writer
from matching.catalogue import quality, services
from matching.catalogue import selectors as ws
from matching.catalogue.answers import DeclineReason
from matching.catalogue.forms import (
    AccessInviteForm,
    AccessRequestForm,
    AttachmentForm,
    CapabilityForm,
    IndicatorFormSet,
    ListFilterForm,
    NeedForm,
    PatentFormSet,
    ReasonForm,
    ResultForm,
)
from matching.catalogue.projections import need_fields
from matching.catalogue.visibility import NeedVisibility, need_get_for_viewer
from matching.models import CapabilityProfile, CoopMode, Need, NeedIndicator, Result
from taxonomy.models import Field

PAGE_SIZE = 20
EXPORT_LIMIT = 5000
INDICATOR_KEYS = ("id", "name", "operator", "target", "target_max", "unit")
PATENT_KEYS = ("number", "kind", "status", "title")


# --- helpers --------------------------------------------------------------------------------------


def _rows(formset, keys: tuple[str, ...]) -> list[dict]:
    """The rows of a formset in display order, deleted ones left out; empty rows are kept so the
    service's row numbers match what the user sees."""
    rows = []
    for form in formset.forms:
        data = getattr(form, "cleaned_data", {}) or {}
        if data.get("DELETE"):
            continue
        rows.append({key: data.get(key, "") for key in keys})
    return rows


def _initial_rows(objects, keys: tuple[str, ...]) -> list[dict]:
    return [{key: getattr(obj, key) for key in keys} for obj in objects]


def _put_service_errors(exc: ValidationError, form, formset=None, rows_key: str = "") -> None:
    if not hasattr(exc, "error_dict"):
        form.add_service_errors(exc)
        return
    errors = dict(exc.message_dict)
    if formset is not None and rows_key in errors:
        _row_errors(formset, errors.pop(rows_key))
    if "file" in errors and "attachments" in form.fields:
        form.add_error("attachments", errors.pop("file"))
    if errors:
        form.add_service_errors(ValidationError(errors))


def _row_errors(formset, errors: list[str]) -> None:
    if errors:
        formset._non_form_errors = ErrorList(errors, error_class="nonform")


def _flash_errors(request, exc: ValidationError) -> None:
    for message in exc.messages:
        messages.error(request, message)


def _pick_organization(request, kind: str):
    """The organization a new need/result/profile is for: ``?org=<uuid>`` among the user's
    organizations of ``kind``, or the only one. Returns (org, None) or (None, response)."""
    orgs = ws.user_organizations(user=request.user, kind=kind)
    wanted = request.GET.get("org")
    if wanted:
        try:
            return orgs.get(uuid=wanted), None
        except (Organization.DoesNotExist, ValueError, ValidationError) as exc:
            raise Http404 from exc
    orgs = list(orgs)
    if len(orgs) == 1:
        return orgs[0], None
    if not orgs:
        if kind == Organization.Kind.ENTERPRISE:
            messages.error(request, _("只有企业机构的成员可以发布技术需求，请先登记或加入企业。"))
        else:
            messages.error(request, _("只有高校、科研院所的成员可以发布成果和研发能力。"))
        return None, redirect("matching:dashboard")
    return None, render(request, "matching/choose_org.html", {"organizations": orgs})


def _page(request, qs):
    paginator = Paginator(qs, PAGE_SIZE)
    page = paginator.get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    return page, params.urlencode()


def _filters(form: ListFilterForm) -> ws.ListFilters:
    """The form's filters; with errors, only a valid keyword is kept (the page shows the errors with
    status 400), never the raw input: a NUL in it would reach the database."""
    if not form.is_valid():
        return ws.ListFilters(q=getattr(form, "cleaned_data", {}).get("q", ""))
    data = form.cleaned_data
    return ws.ListFilters(
        q=data["q"],
        field=data["field"],
        region=data["region"].pk if data["region"] else None,
        stage=data["stage"],
        mode=data["mode"],
        amount_min=data["amount_min"],
        amount_max=data["amount_max"],
        open_only=data.get("open_only", False),
    )


def _bad_filters(form: ListFilterForm) -> HttpResponse:
    """400 naming each filter that is wrong, for a download that has no page to show them on."""
    lines = [
        f"{form.fields[name].label if name in form.fields else name}：{message}"
        for name, messages in form.errors.items()
        for message in messages
    ]
    return HttpResponseBadRequest("\n".join(lines), content_type="text/plain; charset=utf-8")


# --- needs ----------------------------------------------------------------------------------------


def need_list(request):
    form = ListFilterForm(request.GET or None, amount_label=_("预算"))
    needs = ws.need_list_for_viewer(user=request.user, filters=_filters(form))
    page, query = _page(request, needs)
    export_query = urlencode([(k, v) for k, v in request.GET.items() if k != "page"])
    context = {"form": form, "page": page, "query": query, "export_query": export_query}
    return render(request, "matching/need_list.html", context, status=form_status(form))


def need_export(request):
    """The filtered need list as CSV. A need the viewer sees only by summary carries only what a
    summary shows (title, field, region, status, public summary; "摘要公开" as its 公开方式), as in
    the API export: no organization, no publication date, none of the full-text columns."""
    form = ListFilterForm(request.GET or None)
    if form.is_bound and not form.is_valid():
        return _bad_filters(form)
    needs = ws.need_list_for_viewer(user=request.user, filters=_filters(form)).prefetch_related(
        Prefetch("indicators", queryset=NeedIndicator.objects.order_by("position", "id"))
    )[:EXPORT_LIMIT]
    modes = dict(CoopMode.choices)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    filename = f"needs-{timezone.localdate():%Y%m%d}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["X-Content-Type-Options"] = "nosniff"
    response.write("\ufeff")  # so spreadsheet programs read UTF-8
    writer = csv_writer(response)
    writer.writerow(
        [
            _("编号"),
            _("需求名称"),
            _("发布机构"),
            _("技术领域"),
            _("所在地区"),
            _("状态"),
            _("公开方式"),
            _("公开摘要"),
            _("问题描述"),
            _("应用场景"),
            _("技术指标"),
            _("预算下限（万元）"),
            _("预算上限（万元）"),
            _("合作方式"),
            _("期望成熟度（TRL）"),
            _("截止日期"),
            _("联系人"),
            _("联系电话"),
            _("联系邮箱"),
            _("发布时间"),
            _("链接"),
        ]
    )
    summary_label = Need.Confidentiality.SUMMARY.label
    keys = [
        "uuid",
        "title",
        "organization",
        "field",
        "region",
        "status",
        "confidentiality",
        "summary",
        "description",
        "scenario",
        "indicators",
        "budget_min",
        "budget_max",
        "coop_modes",
        "trl_min",
        "deadline",
        "contact_name",
        "contact_phone",
        "contact_email",
        "published_at",
    ]
    for need in needs:
        # Only the fields this viewer's level shows (matching.catalogue.projections), the rest left empty.
        shown = need_fields(NeedVisibility(need.viewer_visibility))
        values = {
            "uuid": need.uuid,
            "title": need.title,
            "organization": need.organization.name,
            "field": need.field,
            "region": need.region or "",
            "status": need.get_status_display(),
            "confidentiality": need.get_confidentiality_display(),
            "summary": need.summary,
            "description": need.description,
            "scenario": need.scenario,
            "indicators": "；".join(str(i) for i in need.indicators.all())
            if "indicators" in shown
            else "",
            "budget_min": need.budget_min,
            "budget_max": need.budget_max,
            "coop_modes": "、".join(str(modes.get(m, m)) for m in need.coop_modes),
            "trl_min": need.trl_min,
            "deadline": need.deadline or "",
            "contact_name": need.contact_name,
            "contact_phone": need.contact_phone,
            "contact_email": need.contact_email,
            "published_at": timezone.localtime(need.published_at).strftime("%Y-%m-%d")
            if need.published_at
            else "",
        }
        row = [values[key] if key in shown else "" for key in keys]
        if "confidentiality" not in shown:
            row[keys.index("confidentiality")] = summary_label
        writer.writerow([*row, request.build_absolute_uri(need.get_absolute_url())])
    return response


def need_detail(request, uuid):
    need, visibility = need_get_for_viewer(uuid=uuid, user=request.user)
    can_manage = user_acts_for(user=request.user, organization_id=need.organization_id)
    full = visibility == NeedVisibility.FULL
    context = {
        "need": need,
        "full": full,
        "can_manage": can_manage,
        "indicators": need.indicators.all() if full else [],
        "attachments": need.attachments.order_by("created_at") if full else [],
    }
    if not full:
        context.update(_access_context(request, need))
    if can_manage:
        transitions = services.NEED_TRANSITIONS[need.status]
        context.update(
            {
                "can_publish": Need.Status.PUBLISHED in transitions,
                "can_withdraw": Need.Status.WITHDRAWN in transitions,
                "can_close": Need.Status.CLOSED in transitions,
                "can_renew": need.status in (Need.Status.PUBLISHED, Need.Status.EXPIRED),
                "can_edit": need.status not in services.NEED_FROZEN_STATUSES,
                "accesses": ws.need_accesses_for_owner(need=need),
                "invite_form": AccessInviteForm(organizations=ws.invitable_organizations(need=need))
                if need.confidentiality == Need.Confidentiality.SUMMARY
                else None,
                "attachment_form": AttachmentForm(),
                "reason_form": ReasonForm(),
                "audit": audit_trail(target=need)[:50],
                "quality": quality.quality_of(need),
                "decline_reasons": DeclineReason.choices,
            }
        )
    return render(request, "matching/need_detail.html", context)


def _access_context(request, need: Need, form: AccessRequestForm | None = None) -> dict:
    """What a summary-only viewer sees about asking for the full text."""
    if not request.user.is_authenticated:
        return {"access_login": True}
    orgs = ws.user_organizations(user=request.user).exclude(pk=need.organization_id)
    accesses = list(ws.need_accesses_for_viewer(need=need, user=request.user))
    pending = [a for a in accesses if a.status == a.Status.REQUESTED]
    invited = [a for a in accesses if a.status == a.Status.APPROVED and not a.terms_accepted_at]
    rejected = [a for a in accesses if a.status == a.Status.REJECTED]
    waiting_ids = {a.organization_id for a in pending}
    can_request = orgs.exclude(pk__in=waiting_ids)
    if form is None and can_request.exists():
        initial = {"organization": invited[0].organization} if invited else {}
        form = AccessRequestForm(organizations=can_request, initial=initial)
    return {
        "access_form": form if can_request.exists() else None,
        "access_pending": pending,
        "access_invited": invited,
        "access_rejected": rejected,
        "access_no_org": not orgs.exists(),
    }


@require_POST
@login_required
def need_access_request(request, uuid):
    need, visibility = need_get_for_viewer(uuid=uuid, user=request.user)
    if visibility == NeedVisibility.FULL:
        return redirect(need)
    orgs = ws.user_organizations(user=request.user).exclude(pk=need.organization_id)
    form = AccessRequestForm(request.POST, organizations=orgs)
    if form.is_valid():
        try:
            access = services.need_access_request(
                need=need,
                actor=request.user,
                organization=form.cleaned_data["organization"],
                accept_terms=form.cleaned_data["accept_terms"],
            )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            if access.grants_full_text:
                messages.success(request, _("已接受保密条款，现在可以查看需求全文。"))
            else:
                messages.success(request, _("申请已提交，需求方审批后即可查看全文。"))
            return redirect(need)
    context = {"need": need, "full": False, "can_manage": False}
    context.update(_access_context(request, need, form=form))
    return render(request, "matching/need_detail.html", context, status=400)


@require_POST
@login_required
def need_access_decide(request, pk: int):
    access = ws.need_access_get_for_owner(pk=pk, user=request.user)
    approve = request.POST.get("decision") == "approve"
    try:
        services.need_access_decide(
            access=access,
            actor=request.user,
            approve=approve,
            reason=request.POST.get("reason", ""),
            note=request.POST.get("note", ""),
        )
    except ValidationError as exc:
        _flash_errors(request, exc)
    else:
        if approve:
            messages.success(
                request,
                _("已批准 %(org)s 查看全文。") % {"org": access.organization.name},
            )
        else:
            messages.success(
                request, _("已拒绝 %(org)s 的申请。") % {"org": access.organization.name}
            )
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = access.need.get_absolute_url()
    return redirect(target)


@require_POST
@login_required
def need_access_invite(request, uuid):
    need = ws.need_get_for_manager(uuid=uuid, user=request.user)
    form = AccessInviteForm(request.POST, organizations=ws.invitable_organizations(need=need))
    if form.is_valid():
        org = form.cleaned_data["organization"]
        try:
            services.need_access_invite(need=need, actor=request.user, organization=org)
        except ValidationError as exc:
            _flash_errors(request, exc)
        else:
            messages.success(
                request,
                _("已邀请 %(org)s；对方接受保密条款后即可查看全文。") % {"org": org.name},
            )
    else:
        messages.error(request, _("请选择要邀请的机构。"))
    return redirect(need)


@dataclass(frozen=True)
class _PostingForm:
    """What differs between the need and the result form pages: the form, its rows (indicators or
    patents), the services that save, validate rows and publish, the template and the message."""

    name: str  # the object's name in the services' arguments and the template context
    form: type
    formset: type
    prefix: str
    keys: tuple
    initial: Callable
    save: Callable
    validate_rows: Callable
    publish: Callable
    template: str
    saved_message: str


def _posting_form_page(request, spec: _PostingForm, *, obj, org: Organization):
    """Create or edit a need or a result: the form and its rows, saved (and maybe published)
    together; service errors go back to the fields and rows they name."""
    initial_rows = _initial_rows(spec.initial(obj), spec.keys) if obj else []
    form = spec.form(request.POST or None, request.FILES or None, instance=obj)
    formset = spec.formset(request.POST or None, prefix=spec.prefix, initial=initial_rows)
    if request.method == "POST" and form.is_valid() and formset.is_valid():
        try:
            saved = spec.save(
                actor=request.user,
                organization=org,
                data=form.service_data(),
                uploads=form.cleaned_data["attachments"],
                **{spec.name: obj, spec.prefix: _rows(formset, spec.keys)},
            )
        except ValidationError as exc:
            _put_service_errors(exc, form, formset, spec.prefix)
        else:
            messages.success(request, spec.saved_message)
            if "publish" in request.POST:
                _publish(request, spec.publish, **{spec.name: saved})
            return redirect(saved)
    elif request.method == "POST" and formset.is_valid():
        # The form has errors of its own; show the row errors now too, not after the next submit.
        _row_errors(formset, spec.validate_rows(_rows(formset, spec.keys)))
    context = {"form": form, "formset": formset, spec.name: obj, "org": org}
    return render(request, spec.template, context, status=form_status(form, formset))


def _need_form_page(request, *, need: Need | None, org: Organization):
    spec = _PostingForm(
        name="need",
        form=NeedForm,
        formset=IndicatorFormSet,
        prefix="indicators",
        keys=INDICATOR_KEYS,
        initial=lambda need: need.indicators.all(),
        save=services.need_save,
        validate_rows=services.validate_indicator_rows,
        publish=services.need_publish,
        template="matching/need_form.html",
        saved_message=_("需求已保存。"),
    )
    return _posting_form_page(request, spec, obj=need, org=org)


def _publish(request, service, **kwargs) -> None:
    try:
        published = service(actor=request.user, **kwargs)
    except ValidationError as exc:
        _flash_errors(request, exc)
    else:
        messages.success(request, _("已发布，系统正在计算匹配。"))
        _warn_low_quality(request, published)


def _warn_low_quality(request, obj: Need | Result) -> None:
    """Publishing below the quality threshold is allowed, and said."""
    report = quality.quality_of(obj)
    if report["below_threshold"]:
        gaps = "、".join(item["message"] for item in report["items"] if not item["ok"])
        messages.warning(
            request,
            _("信息完整度 %(score)d 分，低于 %(threshold)d 分，可能难以匹配：%(gaps)s")
            % {"score": report["score"], "threshold": report["threshold"], "gaps": gaps},
        )


# The live check of the need and result forms: the caller's own unsaved input in, its score out.
# A POST (the input is a whole form) that writes nothing.


@require_POST
@login_required
def need_quality_check(request):
    return _quality_response(
        request, quality.need_quality(quality.need_draft_from_form(request.POST))
    )


@require_POST
@login_required
def result_quality_check(request):
    report = quality.result_quality(quality.result_draft_from_form(request.POST))
    return _quality_response(request, report)


def _quality_response(request, report: dict) -> JsonResponse:
    """The report, and the panel the form shows rendered from it (one template for the form and
    the detail pages)."""
    html = render_to_string("matching/_quality.html", {"quality": report}, request=request)
    return JsonResponse({"quality": report, "html": html})


@login_required
def need_create(request):
    org, response = _pick_organization(request, Organization.Kind.ENTERPRISE)
    if response is not None:
        return response
    return _need_form_page(request, need=None, org=org)


@login_required
def need_edit(request, uuid):
    need = ws.need_get_for_manager(uuid=uuid, user=request.user)
    if need.status in services.NEED_FROZEN_STATUSES:
        messages.error(request, _("已关闭或已撤回的需求不能再编辑。"))
        return redirect(need)
    return _need_form_page(request, need=need, org=need.organization)


NEED_ACTIONS = {
    "publish": Need.Status.PUBLISHED,
    "withdraw": Need.Status.WITHDRAWN,
    "close": Need.Status.CLOSED,
}
NEED_ACTION_DONE = {
    "publish": _("需求已发布，系统正在计算匹配。"),
    "withdraw": _("需求已撤回。"),
    "close": _("需求已关闭。"),
}


@require_POST
@login_required
def need_status(request, uuid, action: str):
    need = ws.need_get_for_manager(uuid=uuid, user=request.user)
    if action not in NEED_ACTIONS:
        raise Http404
    form = ReasonForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    try:
        services.need_set_status(
            need=need, actor=request.user, to_status=NEED_ACTIONS[action], reason=reason
        )
    except ValidationError as exc:
        _flash_errors(request, exc)
    else:
        messages.success(request, NEED_ACTION_DONE[action])
        if action == "publish":
            _warn_low_quality(request, need)
    return redirect(need)


@require_POST
@login_required
def need_renew(request, uuid):
    need = ws.need_get_for_manager(uuid=uuid, user=request.user)
    try:
        services.need_renew(need=need, actor=request.user)
    except ValidationError as exc:
        _flash_errors(request, exc)
    else:
        messages.success(
            request,
            _("需求已续期，有效期至 %(date)s。") % {"date": need.valid_until.isoformat()},
        )
    return redirect(need)


def _attachments_upload(request, owner):
    form = AttachmentForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            services.attachments_add(
                owner=owner, actor=request.user, uploads=form.cleaned_data["attachments"]
            )
        except ValidationError as exc:
            _flash_errors(request, exc)
        else:
            messages.success(request, _("附件已上传。"))
    else:
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
    return redirect(owner)


@require_POST
@login_required
def need_attachments(request, uuid):
    need = ws.need_get_for_manager(uuid=uuid, user=request.user)
    return _attachments_upload(request, need)


# --- results --------------------------------------------------------------------------------------


def result_list(request):
    form = ListFilterForm(request.GET or None, amount_label=_("价格"))
    if "open_only" in form.fields:
        del form.fields["open_only"]
    results = ws.result_list_for_viewer(user=request.user, filters=_filters(form))
    page, query = _page(request, results)
    return render(
        request,
        "matching/result_list.html",
        {"form": form, "page": page, "query": query},
        status=form_status(form),
    )


def result_detail(request, uuid):
    result = ws.result_get_for_viewer(uuid=uuid, user=request.user)
    can_manage = user_acts_for(user=request.user, organization_id=result.organization_id)
    context = {
        "result": result,
        "can_manage": can_manage,
        "patents": result.patents.order_by("id"),
        "attachments": result.attachments.order_by("created_at"),
    }
    if can_manage:
        transitions = services.RESULT_TRANSITIONS[result.status]
        context.update(
            {
                "can_publish": Result.Status.PUBLISHED in transitions,
                "can_withdraw": Result.Status.WITHDRAWN in transitions,
                "can_renew": result.status in (Result.Status.PUBLISHED, Result.Status.EXPIRED),
                "can_edit": result.status != Result.Status.WITHDRAWN,
                "attachment_form": AttachmentForm(),
                "reason_form": ReasonForm(),
                "audit": audit_trail(target=result)[:50],
                "quality": quality.quality_of(result),
            }
        )
    return render(request, "matching/result_detail.html", context)


def _result_form_page(request, *, result: Result | None, org: Organization):
    spec = _PostingForm(
        name="result",
        form=ResultForm,
        formset=PatentFormSet,
        prefix="patents",
        keys=PATENT_KEYS,
        initial=lambda result: result.patents.order_by("id"),
        save=services.result_save,
        validate_rows=services.validate_patent_rows,
        publish=services.result_publish,
        template="matching/result_form.html",
        saved_message=_("成果已保存。"),
    )
    return _posting_form_page(request, spec, obj=result, org=org)


@login_required
def result_create(request):
    org, response = _pick_organization(request, Organization.Kind.INSTITUTION)
    if response is not None:
        return response
    return _result_form_page(request, result=None, org=org)


@login_required
def result_edit(request, uuid):
    result = ws.result_get_for_manager(uuid=uuid, user=request.user)
    if result.status == Result.Status.WITHDRAWN:
        messages.error(request, _("已撤回的成果不能再编辑。"))
        return redirect(result)
    return _result_form_page(request, result=result, org=result.organization)


RESULT_ACTIONS = {"publish": Result.Status.PUBLISHED, "withdraw": Result.Status.WITHDRAWN}


@require_POST
@login_required
def result_status(request, uuid, action: str):
    result = ws.result_get_for_manager(uuid=uuid, user=request.user)
    if action not in RESULT_ACTIONS:
        raise Http404
    form = ReasonForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    try:
        services.result_set_status(
            result=result, actor=request.user, to_status=RESULT_ACTIONS[action], reason=reason
        )
    except ValidationError as exc:
        _flash_errors(request, exc)
    else:
        messages.success(
            request,
            _("成果已发布，系统正在计算匹配。") if action == "publish" else _("成果已撤回。"),
        )
        if action == "publish":
            _warn_low_quality(request, result)
    return redirect(result)


@require_POST
@login_required
def result_renew(request, uuid):
    result = ws.result_get_for_manager(uuid=uuid, user=request.user)
    try:
        services.result_renew(result=result, actor=request.user)
    except ValidationError as exc:
        _flash_errors(request, exc)
    else:
        messages.success(
            request,
            _("成果已续期，有效期至 %(date)s。") % {"date": result.valid_until.isoformat()},
        )
    return redirect(result)


@require_POST
@login_required
def result_attachments(request, uuid):
    result = ws.result_get_for_manager(uuid=uuid, user=request.user)
    return _attachments_upload(request, result)


# --- attachments ----------------------------------------------------------------------------------


def attachment_download(request, uuid):
    attachment = ws.attachment_get_for_download(uuid=uuid, user=request.user)
    try:
        handle = attachment.file.open("rb")
    except FileNotFoundError as exc:
        raise Http404 from exc
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=attachment.original_name,
        content_type=attachment.content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@require_POST
@login_required
def attachment_delete(request, uuid):
    attachment = ws.attachment_get_for_manager(uuid=uuid, user=request.user)
    owner = attachment.need or attachment.result
    services.attachment_delete(attachment=attachment, actor=request.user)
    messages.success(request, _("附件已删除。"))
    return redirect(owner)


# --- capability profiles --------------------------------------------------------------------------


def capability_detail(request, uuid):
    profile = ws.capability_get_for_viewer(uuid=uuid, user=request.user)
    can_manage = user_acts_for(user=request.user, organization_id=profile.organization_id)
    context = {
        "profile": profile,
        "fields": profile.fields.select_related("parent"),
        "can_manage": can_manage,
        "audit": audit_trail(target=profile)[:30] if can_manage else None,
    }
    return render(request, "matching/capability_detail.html", context)


def _capability_form_page(request, *, profile: CapabilityProfile | None, org: Organization):
    form = CapabilityForm(request.POST or None, instance=profile)
    if request.method == "POST" and form.is_valid():
        fields = list(Field.objects.filter(code__in=form.cleaned_data["fields_"]))
        try:
            if profile is None:
                saved = services.capability_create(
                    actor=request.user, organization=org, data=form.service_data(), fields=fields
                )
            else:
                saved = services.capability_update(
                    profile=profile, actor=request.user, data=form.service_data(), fields=fields
                )
        except ValidationError as exc:
            form.add_service_errors(exc)
        else:
            messages.success(request, _("研发能力已保存。"))
            return redirect(saved)
    context = {"form": form, "profile": profile, "org": org}
    return render(request, "matching/capability_form.html", context, status=form_status(form))


@login_required
def capability_create(request):
    org, response = _pick_organization(request, Organization.Kind.INSTITUTION)
    if response is not None:
        return response
    return _capability_form_page(request, profile=None, org=org)


@login_required
def capability_edit(request, uuid):
    profile = ws.capability_get_for_manager(uuid=uuid, user=request.user)
    return _capability_form_page(request, profile=profile, org=profile.organization)


@require_POST
@login_required
def capability_delete(request, uuid):
    profile = ws.capability_get_for_manager(uuid=uuid, user=request.user)
    services.capability_delete(profile=profile, actor=request.user)
    messages.success(request, _("研发能力“%(title)s”已删除。") % {"title": profile.title})
    return redirect("matching:dashboard")


# --- dashboard ------------------------------------------------------------------------------------


@login_required
def dashboard(request):
    boards = ws.dashboards_for_user(user=request.user)
    return render(
        request,
        "matching/dashboard.html",
        {
            "boards": boards,
            "next": reverse("matching:dashboard"),
            "decline_reasons": DeclineReason.choices,
        },
    )
