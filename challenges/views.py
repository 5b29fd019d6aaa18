"""Web pages of challenges for the three roles: the enterprise (出题人), bidders (答题人) and experts
(阅卷人). Views parse input, call one service or selector, and render."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.models import Organization
from accounts.selectors import member_org_ids
from challenges import contract_package, selectors, services
from challenges.forms import (
    AssignExpertForm,
    AttachmentForm,
    AwardForm,
    BidForm,
    BudgetFormSet,
    ChallengeForm,
    ConsortiumFormSet,
    CriterionFormSet,
    DeclineForm,
    DownselectForm,
    InviteForm,
    MilestoneDecisionForm,
    MilestoneFormSet,
    MilestoneSubmitForm,
    ReasonForm,
    ScoreForm,
    filled,
)
from challenges.models import Bid, BidAttachment, Challenge, ContractMilestone
from challenges.selectors import NeedVisibility
from challenges.services import TransitionError
from core.selectors import audit_trail
from core.spreadsheet import csv_writer
from matching.models import Match, Need


def _act(request, action: Callable[[], object], success: str, to) -> HttpResponse:
    """Run a POSTed service call; an illegal transition or invalid input becomes an error message
    and changes nothing."""
    try:
        action()
    except TransitionError as exc:
        messages.error(request, exc.message)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, success)
    if isinstance(to, tuple):
        return redirect(to[0], uuid=to[1])
    return redirect(to)


def _render_challenge(
    request, template: str, challenge: Challenge, visibility: NeedVisibility, context: dict
) -> HttpResponse:
    """A page about one challenge: its heading comes from the viewer's projection of it."""
    public = selectors.challenge_public_fields(challenge=challenge, visibility=visibility)
    return render(request, template, {"challenge": challenge, "public": public, **context})


# --- lists -----------------------------------------------------------------------------------------


def challenge_list(request):
    rows = [
        selectors.challenge_public_fields(challenge=c, visibility=v)
        for c, v in selectors.challenge_list_open(user=request.user)
    ]
    return render(request, "challenges/list.html", {"rows": rows})


@login_required
def dashboard(request):
    user = request.user
    context = {
        "challenges": selectors.challenges_of_enterprise(user=user),
        "needs": selectors.needs_ready_for_challenge(user=user)[:20],
        "bids": selectors.bids_of_user(user=user),
        "consortium_invitations": selectors.consortium_invitations(user=user),
        # Invitations to bid awaiting this user's organizations' answer; a party sees at least
        # the summary of the challenge it was invited to.
        "invitations": [
            (
                invitation,
                selectors.challenge_public_fields(
                    challenge=invitation.challenge,
                    visibility=max(
                        selectors.challenge_visibility(challenge=invitation.challenge, user=user),
                        NeedVisibility.SUMMARY,
                    ),
                ),
            )
            for invitation in selectors.invitations_awaiting_answer(user=user)
        ],
        "assignments": selectors.assignments_for_expert(user=user),
        "milestones": selectors.milestones_of_user(user=user).exclude(
            status=ContractMilestone.Status.STOPPED
        ),
    }
    return render(request, "challenges/dashboard.html", context)


# --- the enterprise: setup and transitions -------------------------------------------------------------


@require_POST
@login_required
def challenge_create(request, need_uuid):
    need = get_object_or_404(Need, uuid=need_uuid, organization_id__in=member_org_ids(request.user))
    try:
        challenge = services.challenge_create_from_need(need=need, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("challenges:mine")
    messages.success(request, _("已根据需求生成榜单草稿，请完善条款后发布。"))
    return redirect("challenges:edit", uuid=challenge.uuid)


@login_required
def challenge_edit(request, uuid):
    challenge, visibility = selectors.challenge_get_for_viewer(
        uuid=uuid, user=request.user, manage=True
    )
    if challenge.status != Challenge.Status.DRAFT:
        messages.error(request, _("榜单发布后条款不能再修改。"))
        return redirect(challenge)
    indicators = list(challenge.need.indicators.all())
    data = request.POST if request.method == "POST" else None
    form = ChallengeForm(data, challenge=challenge, initial=ChallengeForm.initial_for(challenge))
    criteria = CriterionFormSet(
        data,
        prefix="criteria",
        initial=None
        if data
        else [
            {"name": c.name, "weight": c.weight, "description": c.description}
            for c in challenge.criteria.all()
        ],
    )
    milestones = MilestoneFormSet(
        data,
        prefix="milestones",
        form_kwargs={"indicators": indicators},
        initial=None
        if data
        else [
            {
                "name": m.name,
                "deliverable": m.deliverable,
                "indicator_id": m.indicator_id,
                "criterion": m.criterion,
                "due_date": m.due_date,
                "share": m.share,
            }
            for m in challenge.milestones.all()
        ],
    )
    if (
        request.method == "POST"
        and form.is_valid()
        and criteria.is_valid()
        and milestones.is_valid()
    ):
        try:
            services.challenge_update(
                challenge=challenge,
                actor=request.user,
                criteria=filled(criteria),
                milestones=filled(milestones),
                **form.service_kwargs(),
            )
            if "publish" in request.POST:
                services.challenge_publish(challenge=challenge, actor=request.user)
        except ValidationError as exc:
            form.add_service_errors(exc)
        except TransitionError as exc:
            form.add_error(None, exc.message)
        else:
            if "publish" in request.POST:
                messages.success(request, _("榜单已发布，开始接受揭榜。"))
                _warn_low_quality(request, challenge)
                return redirect(challenge)
            messages.success(request, _("草稿已保存。"))
            return redirect("challenges:edit", uuid=challenge.uuid)
    context = {
        "form": form,
        "criteria": criteria,
        "milestones": milestones,
        "quality": selectors.challenge_quality(challenge=challenge, form_data=data),
    }
    return _render_challenge(request, "challenges/edit.html", challenge, visibility, context)


@require_POST
@login_required
def challenge_quality_check(request, uuid):
    """The live check of the setup form: the enterprise's own unsaved input in, its score out. A
    POST (the input is a whole form) that writes nothing."""
    challenge, _v = selectors.challenge_get_for_viewer(uuid=uuid, user=request.user, manage=True)
    report = selectors.challenge_quality(challenge=challenge, form_data=request.POST)
    html = render_to_string("matching/_quality.html", {"quality": report}, request=request)
    return JsonResponse({"quality": report, "html": html})


def challenge_detail(request, uuid):
    """Public like a need's page: what anyone sees comes from the viewer's projection."""
    challenge, visibility = selectors.challenge_get_for_viewer(uuid=uuid, user=request.user)
    is_enterprise = selectors.user_is_enterprise(user=request.user, challenge=challenge)
    full = visibility >= NeedVisibility.FULL
    context = {
        "full": full,
        "is_enterprise": is_enterprise,
        "my_bid": selectors.bid_of_org(challenge=challenge, user=request.user),
        "can_bid": full and not is_enterprise and not selectors.bidding_closed(challenge),
        "award_rows": selectors.award_result_for_viewer(challenge=challenge, user=request.user),
        "criteria": challenge.criteria.all(),
        "milestones": challenge.milestones.select_related("indicator"),
        "indicators": challenge.indicators.all(),
        "regions": challenge.eligible_regions.all(),
        "kinds": [Organization.Kind(k).label for k in challenge.eligible_kinds],
        "my_invitation": None
        if is_enterprise
        else selectors.invitation_of_user(challenge=challenge, user=request.user),
        "decline_form": DeclineForm(),
    }
    if is_enterprise:
        context |= {
            "invitations": challenge.invitations.select_related("organization"),
            "invite_form": InviteForm(),
            "cancel_form": ReasonForm(),
            "audit": audit_trail(target=challenge)[:30],
            "quality": selectors.challenge_quality(challenge=challenge),
            "bid_count": challenge.bids.exclude(status=Bid.Status.WITHDRAWN).count()
            if challenge.deadline_passed
            else None,
        }
    return _render_challenge(request, "challenges/detail.html", challenge, visibility, context)


def _warn_low_quality(request, challenge: Challenge) -> None:
    """Publishing below the quality threshold is allowed, and said (as for needs and results)."""
    report = selectors.challenge_quality(challenge=challenge)
    if report["below_threshold"]:
        gaps = "、".join(item["message"] for item in report["items"] if not item["ok"])
        messages.warning(
            request,
            _("信息完整度 %(score)d 分，低于 %(threshold)d 分，可能难以匹配：%(gaps)s")
            % {"score": report["score"], "threshold": report["threshold"], "gaps": gaps},
        )


@require_POST
@login_required
def challenge_publish(request, uuid):
    challenge, _v = selectors.challenge_get_for_viewer(uuid=uuid, user=request.user, manage=True)
    was_draft = challenge.status == Challenge.Status.DRAFT
    response = _act(
        request,
        lambda: services.challenge_publish(challenge=challenge, actor=request.user),
        _("榜单已发布，开始接受揭榜。"),
        challenge,
    )
    challenge.refresh_from_db()
    if was_draft and challenge.status == Challenge.Status.OPEN:
        _warn_low_quality(request, challenge)
    return response


@require_POST
@login_required
def challenge_cancel(request, uuid):
    challenge, _v = selectors.challenge_get_for_viewer(uuid=uuid, user=request.user, manage=True)
    return _act(
        request,
        lambda: services.challenge_cancel(
            challenge=challenge, actor=request.user, reason=request.POST.get("reason", "")
        ),
        _("榜单已取消。"),
        challenge,
    )


@require_POST
@login_required
def challenge_start(request, uuid):
    challenge, _v = selectors.challenge_get_for_viewer(uuid=uuid, user=request.user, manage=True)
    return _act(
        request,
        lambda: services.challenge_start(challenge=challenge, actor=request.user),
        _("已启动攻关，揭榜单位可以按里程碑提交成果。"),
        ("challenges:execution", challenge.uuid),
    )


@require_POST
@login_required
def challenge_invite(request, uuid):
    challenge, _v = selectors.challenge_get_for_viewer(uuid=uuid, user=request.user, manage=True)
    form = InviteForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("请选择要邀请的机构。"))
        return redirect(challenge)
    return _act(
        request,
        lambda: services.challenge_invite(
            challenge=challenge, organization=form.cleaned_data["organization"], actor=request.user
        ),
        _("已邀请该机构揭榜。"),
        challenge,
    )


@require_POST
@login_required
def invitation_answer(request, uuid):
    """The invited organization accepts (then bids) or declines with a coded reason."""
    challenge, _v = selectors.challenge_get_for_viewer(uuid=uuid, user=request.user)
    invitation = selectors.invitation_of_user(challenge=challenge, user=request.user)
    if invitation is None:
        raise Http404
    form = DeclineForm(request.POST)
    form.is_valid()
    accept = request.POST.get("decision") == "accept"
    return _act(
        request,
        lambda: services.invitation_answer(
            invitation=invitation,
            actor=request.user,
            accept=accept,
            reason=form.cleaned_data.get("reason", ""),
            note=form.cleaned_data.get("note", ""),
        ),
        _("已接受邀请，请提交揭榜方案。") if accept else _("已婉拒邀请，出题单位会看到您的原因。"),
        ("challenges:bid-edit", challenge.uuid) if accept else challenge,
    )


@require_POST
@login_required
def invite_from_match(request, match_id: int):
    """邀请揭榜 from a matcher suggestion: for the need's organization only (404 for anyone else)."""
    match = get_object_or_404(
        Match.objects.select_related("need", "result__organization", "capability__organization"),
        pk=match_id,
        need__organization_id__in=member_org_ids(request.user),
    )
    try:
        challenge, created = services.challenge_invite_from_match(match=match, actor=request.user)
    except (TransitionError, ValidationError) as exc:
        messages.error(request, getattr(exc, "message", None) or " ".join(exc.messages))
        return redirect(match.need)
    org = match.candidate.organization
    if created:
        messages.success(
            request,
            _("已为该需求生成定向邀请榜单草稿，并邀请%(org)s；完善条款并发布后对方会收到邀请。")
            % {"org": org.name},
        )
        return redirect("challenges:edit", uuid=challenge.uuid)
    messages.success(request, _("已邀请%(org)s揭榜。") % {"org": org.name})
    return redirect(challenge)


# --- the enterprise: bids received, review, award, execution ------------------------------------------


@login_required
def bids_received(request, uuid):
    challenge, visibility = selectors.challenge_get_for_viewer(
        uuid=uuid, user=request.user, manage=True
    )
    bids = selectors.bids_received(challenge=challenge, user=request.user)
    return _render_challenge(request, "challenges/bids.html", challenge, visibility, {"bids": bids})


@login_required
def bids_export(request, uuid):
    """CSV of the bids received: empty before the deadline (bids are sealed)."""
    challenge, _v = selectors.challenge_get_for_viewer(uuid=uuid, user=request.user, manage=True)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="bids-{challenge.uuid}.csv"'
    response.write("\ufeff")
    writer = csv_writer(response)
    writer.writerow(
        [_("揭榜单位"), _("联合体"), _("提交时间"), _("预算合计（万元）"), _("技术路线"), _("排名")]
    )
    for bid in selectors.bids_received(challenge=challenge, user=request.user):
        writer.writerow(
            [
                bid.organization.name,
                "、".join(m.organization.name for m in bid.members.all() if not m.is_lead),
                bid.submitted_at.isoformat() if bid.submitted_at else "",
                bid.budget_total,
                bid.technical_approach,
                bid.rank or "",
            ]
        )
    return response


@login_required
def review_manage(request, uuid):
    challenge, visibility = selectors.challenge_get_for_viewer(
        uuid=uuid, user=request.user, manage=True
    )
    if request.method == "POST":
        form = AssignExpertForm(request.POST)
        if form.is_valid():
            try:
                assignment, conflicts = services.review_assign_expert(
                    challenge=challenge, expert=form.cleaned_data["expert"], actor=request.user
                )
            except (TransitionError, ValidationError) as exc:
                messages.error(request, getattr(exc, "message", None) or " ".join(exc.messages))
            else:
                if conflicts:
                    messages.error(
                        request,
                        _("该专家与揭榜单位存在利益冲突（%(orgs)s），已回避并记录。")
                        % {
                            "orgs": "、".join(
                                f"{c.organization.name}：{c.get_kind_display()}" for c in conflicts
                            )
                        },
                    )
                else:
                    messages.success(request, _("已指派评审专家。"))
        return redirect("challenges:review-manage", uuid=challenge.uuid)
    in_review = selectors.challenge_shown_status(challenge) == Challenge.Status.REVIEW
    ranking = selectors.challenge_ranking(challenge=challenge) if challenge.deadline_passed else []
    criteria = list(challenge.criteria.all())
    context = {
        "in_review": in_review,
        "suggestions": selectors.expert_suggestions(challenge=challenge) if in_review else [],
        "assign_form": AssignExpertForm(),
        "progress": selectors.review_progress(challenge=challenge),
        "conflicts": challenge.conflicts.select_related("expert__user", "organization"),
        "ranking": ranking,
        "criteria": criteria,
        "award_form": AwardForm(bids=selectors.bids_counting(challenge=challenge)),
    }
    return _render_challenge(
        request, "challenges/review_manage.html", challenge, visibility, context
    )


@require_POST
@login_required
def review_recuse(request, uuid, assignment_uuid):
    """Remove an assigned expert who has a conflict of interest now (with the scores given)."""
    challenge, _v = selectors.challenge_get_for_viewer(uuid=uuid, user=request.user, manage=True)
    assignment = selectors.assignment_get_for_enterprise(challenge=challenge, uuid=assignment_uuid)
    return _act(
        request,
        lambda: services.review_recuse_expert(assignment=assignment, actor=request.user),
        _("该专家已回避，其评分不再计入。"),
        ("challenges:review-manage", challenge.uuid),
    )


@require_POST
@login_required
def challenge_award(request, uuid):
    challenge, _v = selectors.challenge_get_for_viewer(uuid=uuid, user=request.user, manage=True)
    form = AwardForm(request.POST, bids=selectors.bids_counting(challenge=challenge))
    if not form.is_valid():
        messages.error(request, _("请选择揭榜单位并填写定榜理由。"))
        return redirect("challenges:review-manage", uuid=challenge.uuid)
    return _act(
        request,
        lambda: services.challenge_award(
            challenge=challenge,
            actor=request.user,
            winners=list(form.cleaned_data["winners"]),
            reason=form.cleaned_data["reason"],
            decline_reason=form.cleaned_data["decline_reason"],
            decline_note=form.cleaned_data["decline_note"],
        ),
        _("已定榜，并已通知所有揭榜单位。"),
        challenge,
    )


@login_required
def execution(request, uuid):
    challenge, visibility = selectors.challenge_get_for_viewer(uuid=uuid, user=request.user)
    is_enterprise = selectors.user_is_enterprise(user=request.user, challenge=challenge)
    org_ids = member_org_ids(request.user)
    contracts = [
        c
        for c in selectors.contracts_of_challenge(challenge=challenge)
        if is_enterprise or c.organization_id in org_ids
    ]
    if not is_enterprise and not contracts:
        raise Http404
    context = {
        "is_enterprise": is_enterprise,
        "contracts": contracts,
        "org_ids": org_ids,
        "submit_form": MilestoneSubmitForm(),
        "decision_form": MilestoneDecisionForm(),
        "downselect_form": DownselectForm(challenge=challenge)
        if is_enterprise
        and challenge.award_mode == Challenge.AwardMode.RACE
        and challenge.status == Challenge.Status.IN_PROGRESS
        and len([c for c in contracts if c.status == "active"]) > 1
        else None,
        "paid_total": sum((p.amount for c in contracts for p in c.payments.all()), 0),
        "contract_type": contract_package.contract_type_for(challenge),
        "contract_types": contract_package.ContractType.choices,
    }
    return _render_challenge(request, "challenges/execution.html", challenge, visibility, context)


@require_POST
@login_required
def challenge_downselect(request, uuid):
    challenge, _v = selectors.challenge_get_for_viewer(uuid=uuid, user=request.user, manage=True)
    form = DownselectForm(request.POST, challenge=challenge)
    if not form.is_valid():
        messages.error(request, _("请选择保留的揭榜单位、依据的里程碑并填写理由。"))
        return redirect("challenges:execution", uuid=challenge.uuid)
    return _act(
        request,
        lambda: services.challenge_downselect(
            challenge=challenge, actor=request.user, **form.cleaned_data
        ),
        _("赛马择优完成，其余揭榜单位停止攻关。"),
        ("challenges:execution", challenge.uuid),
    )


@require_POST
@login_required
def milestone_submit(request, uuid):
    cm = selectors.contract_milestone_get_for_viewer(uuid=uuid, user=request.user)
    form = MilestoneSubmitForm(request.POST)
    form.is_valid()
    return _act(
        request,
        lambda: services.milestone_submit(
            cm=cm,
            actor=request.user,
            note=form.cleaned_data.get("note", ""),
            measured_value=form.cleaned_data.get("measured_value", ""),
        ),
        _("里程碑成果已提交，等待验收。"),
        ("challenges:execution", cm.contract.challenge.uuid),
    )


@require_POST
@login_required
def milestone_decide(request, uuid):
    cm = selectors.contract_milestone_get_for_viewer(uuid=uuid, user=request.user)
    form = MilestoneDecisionForm(request.POST)
    form.is_valid()
    comment = form.cleaned_data.get("comment", "")
    if form.cleaned_data.get("decision") == "accept":
        action, done = (
            lambda: services.milestone_accept(cm=cm, actor=request.user, comment=comment),
            _("已验收通过，并记录拨付。"),
        )
    else:
        action, done = (
            lambda: services.milestone_reject(cm=cm, actor=request.user, comment=comment),
            _("已退回，揭榜单位可修改后重新提交。"),
        )
    return _act(request, action, done, ("challenges:execution", cm.contract.challenge.uuid))


# --- bidders -------------------------------------------------------------------------------------------


@login_required
def bid_edit(request, uuid):
    """Create or revise the user's organization's bid on a challenge."""
    challenge, visibility = selectors.challenge_get_for_viewer(
        uuid=uuid, user=request.user, minimum=NeedVisibility.FULL
    )
    bid = selectors.bid_of_org(challenge=challenge, user=request.user)
    orgs = Organization.objects.filter(pk__in=member_org_ids(request.user)).exclude(
        pk=challenge.organization_id
    )
    if bid is None and not orgs:
        messages.error(request, _("请先创建或加入一个机构，再以机构名义揭榜。"))
        return redirect(challenge)
    data = request.POST if request.method == "POST" else None
    form = BidForm(
        data,
        challenge=challenge,
        orgs=orgs,
        bid=bid,
        initial=BidForm.initial_for(bid) if bid else {},
    )
    budget = BudgetFormSet(
        data,
        prefix="budget",
        initial=None
        if data
        else [
            {"item": b.item, "amount": b.amount, "note": b.note}
            for b in (bid.budget_items.all() if bid else [])
        ],
    )
    consortium = ConsortiumFormSet(
        data,
        prefix="consortium",
        initial=None
        if data
        else [
            {"organization": m.organization, "role": m.role, "share": m.share}
            for m in (bid.members.filter(is_lead=False) if bid else [])
        ],
    )
    if request.method == "POST" and form.is_valid() and budget.is_valid() and consortium.is_valid():
        kwargs = form.service_kwargs()
        kwargs["budget_items"] = filled(budget)
        kwargs["consortium"] = filled(consortium)
        try:
            if bid is None:
                bid = services.bid_create(
                    challenge=challenge,
                    organization=form.cleaned_data["organization"],
                    actor=request.user,
                    **kwargs,
                )
            else:
                services.bid_update(bid=bid, actor=request.user, **kwargs)
            if "submit" in request.POST and bid.status == Bid.Status.DRAFT:
                services.bid_submit(bid=bid, actor=request.user)
        except ValidationError as exc:
            form.add_service_errors(exc)
        except TransitionError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(
                request,
                _("揭榜方案已提交。截止前仍可修改或撤回。")
                if "submit" in request.POST
                else _("方案已保存。"),
            )
            return redirect(bid)
    context = {
        "bid": bid,
        "form": form,
        "budget": budget,
        "consortium": consortium,
    }
    return _render_challenge(request, "challenges/bid_form.html", challenge, visibility, context)


@login_required
def bid_detail(request, uuid):
    bid = selectors.bid_detail(bid=selectors.bid_get_for_viewer(uuid=uuid, user=request.user))
    org_ids = member_org_ids(request.user)
    is_bidder = bid.organization_id in org_ids
    context = {
        "bid": bid,
        "challenge": bid.challenge,
        "is_bidder": is_bidder,
        "my_memberships": [m for m in bid.members.all() if m.organization_id in org_ids],
        "bidding_open": not selectors.bidding_closed(bid.challenge),
        "editable": is_bidder
        and bid.status != Bid.Status.WITHDRAWN
        and not selectors.bidding_closed(bid.challenge),
        "eligibility": services.bid_eligibility_errors(bid=bid)
        if is_bidder and bid.status == Bid.Status.DRAFT
        else [],
        "attachment_form": AttachmentForm(),
        "can_decline": selectors.user_is_enterprise(user=request.user, challenge=bid.challenge)
        and bid.challenge.status == Challenge.Status.REVIEW
        and bid.status == Bid.Status.SUBMITTED
        and bid.outcome == Bid.Outcome.PENDING,
        "decline_form": DeclineForm(),
    }
    return render(request, "challenges/bid_detail.html", context)


@require_POST
@login_required
def bid_decline(request, uuid):
    """The enterprise answers a bid during review: not selected, with a coded reason."""
    bid = selectors.bid_get_for_viewer(uuid=uuid, user=request.user)
    if not selectors.user_is_enterprise(user=request.user, challenge=bid.challenge):
        raise Http404
    form = DeclineForm(request.POST)
    form.is_valid()
    return _act(
        request,
        lambda: services.bid_decline(
            bid=bid,
            actor=request.user,
            reason=form.cleaned_data.get("reason", ""),
            note=form.cleaned_data.get("note", ""),
        ),
        _("已答复该方案未入选，揭榜单位会看到您的原因。"),
        bid.get_absolute_url(),
    )


@require_POST
@login_required
def bid_submit(request, uuid):
    bid = selectors.bid_get_for_viewer(uuid=uuid, user=request.user)
    return _act(
        request,
        lambda: services.bid_submit(bid=bid, actor=request.user),
        _("揭榜方案已提交。截止前仍可修改或撤回。"),
        bid,
    )


@require_POST
@login_required
def bid_withdraw(request, uuid):
    bid = selectors.bid_get_for_viewer(uuid=uuid, user=request.user)
    return _act(
        request,
        lambda: services.bid_withdraw(
            bid=bid, actor=request.user, reason=request.POST.get("reason", "")
        ),
        _("方案已撤回。"),
        bid,
    )


@require_POST
@login_required
def consortium_confirm(request, pk: int):
    member = selectors.consortium_member_get_for_user(pk=pk, user=request.user)
    return _act(
        request,
        lambda: services.consortium_confirm(member=member, actor=request.user),
        _("已确认加入该创新联合体。"),
        member.bid,
    )


@require_POST
@login_required
def bid_attachment_add(request, uuid):
    bid = selectors.bid_get_for_viewer(uuid=uuid, user=request.user)
    form = AttachmentForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, _("请选择文件。"))
        return redirect(bid)
    return _act(
        request,
        lambda: services.bid_attachment_add(
            bid=bid, actor=request.user, upload=form.cleaned_data["file"]
        ),
        _("附件已上传。"),
        bid,
    )


@login_required
def bid_attachment(request, uuid, attachment_uuid):
    bid = selectors.bid_get_for_viewer(uuid=uuid, user=request.user)
    attachment = get_object_or_404(BidAttachment, bid=bid, uuid=attachment_uuid)
    return FileResponse(
        attachment.file.open("rb"),
        as_attachment=True,
        filename=attachment.original_name,
        content_type=attachment.content_type,
    )


# --- experts ---------------------------------------------------------------------------------------------


@login_required
def review(request, uuid):
    assignment = selectors.assignment_get_for_expert(uuid=uuid, user=request.user)
    challenge = assignment.challenge
    bids = list(
        selectors.bids_received(challenge=challenge, user=request.user).prefetch_related(
            "indicator_responses__indicator", "schedule__milestone", "results", "patents"
        )
    )
    criteria = list(challenge.criteria.all())
    own = selectors.own_scores(assignment=assignment)
    initial = {}
    for (bid_id, criterion_id), s in own.items():
        initial[f"s_{bid_id}_{criterion_id}"] = s.value
        initial[f"c_{bid_id}"] = s.comment
    form = ScoreForm(
        request.POST if request.method == "POST" else None,
        bids=bids,
        criteria=criteria,
        initial=initial,
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.review_save_scores(
                assignment=assignment, actor=request.user, scores=form.scores()
            )
            if "submit" in request.POST:
                services.review_submit(assignment=assignment, actor=request.user)
        except ValidationError as exc:
            form.add_error(None, exc.messages)
        except TransitionError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(
                request,
                _("评分已提交，现在可以查看其他专家已提交的评分。")
                if "submit" in request.POST
                else _("评分已暂存。"),
            )
            return redirect(assignment)
    peers = selectors.peer_scores(assignment=assignment)
    context = {
        "assignment": assignment,
        "challenge": challenge,
        "criteria": criteria,
        "form": form,
        "bids": bids,
        "peers": peers,
        "editable": assignment.submitted_at is None and challenge.status == Challenge.Status.REVIEW,
    }
    return render(request, "challenges/review.html", context)


@login_required
def contract_file(request, uuid, fmt: str):
    """The contract package of an awarded bid: the 技术合同 draft (DOCX, PDF) in the type derived from
    the need or picked with ``?type=``, and the 认定登记 data (XLSX). The parties and staff only."""
    contract = selectors.contract_get_for_party(uuid=uuid, user=request.user)
    try:
        rendered = contract_package.render_contract_file(contract, fmt, request.GET.get("type", ""))
    except contract_package.FontMissing:
        return HttpResponse(
            _("服务器未安装生成 PDF 所需的中文字体，请联系平台管理员。"),
            status=503,
            content_type="text/plain; charset=utf-8",
        )
    response = HttpResponse(rendered.content, content_type=rendered.content_type)
    response["Content-Disposition"] = f'attachment; filename="{rendered.filename}"'
    return response
