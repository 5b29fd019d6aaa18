"""Bids: create, edit, consortium, eligibility, submit, withdraw, attachments."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Organization, User
from accounts.selectors import user_is_member
from challenges import notify
from challenges.models import (
    Bid,
    BidAttachment,
    BidBudgetItem,
    BidIndicatorResponse,
    BidSchedule,
    Challenge,
    ConsortiumMember,
)
from challenges.services.answers import invitation_accept_by_bidding
from challenges.services.common import (
    TransitionError,
    _before_deadline,
    _clean_text,
    _lock,
    _require_bidder,
)
from core.services import audit_record

# --- bids ---------------------------------------------------------------------------------------------

BID_FIELDS = ("technical_approach", "team", "qualification_statement")
BID_RELATIONS = (
    "indicator_responses",
    "budget_items",
    "schedule",
    "result_ids",
    "patent_ids",
    "consortium",
)


@transaction.atomic
def bid_create(
    *,
    challenge: Challenge,
    organization: Organization,
    actor: User,
    submit: bool = False,
    **data: Any,
) -> Bid:
    """A draft bid of ``organization``; ``data`` as in ``bid_update``. With ``submit`` it is submitted
    in the same transaction, so a refused submission leaves no draft behind."""
    if not user_is_member(user=actor, organization_id=organization.pk):
        raise PermissionDenied
    locked = _lock(challenge)
    _before_deadline(locked)
    from challenges.selectors import ChallengeVisibility, challenge_visibility

    if challenge_visibility(challenge=locked, user=actor) < ChallengeVisibility.FULL:
        raise ValidationError({"organization": [_("需先获得需求方授权查看榜单全文，才能揭榜。")]})
    if organization.pk == locked.organization_id:
        raise ValidationError({"organization": [_("出题单位不能揭自己的榜。")]})
    if (
        Bid.objects.filter(challenge=locked, organization=organization)
        .exclude(status=Bid.Status.WITHDRAWN)
        .exists()
    ):
        raise ValidationError({"organization": [_("本单位已有一份揭榜方案，请修改它。")]})
    bid = Bid(
        challenge=locked,
        organization=organization,
        created_by=actor,
        technical_approach=str(data.get("technical_approach", "")).strip(),
        team=str(data.get("team", "")).strip(),
        qualification_statement=str(data.get("qualification_statement", "")).strip(),
    )
    bid.full_clean()
    bid.save()
    ConsortiumMember.objects.create(
        bid=bid,
        organization=organization,
        is_lead=True,
        role=_("牵头单位"),
        share=Decimal("100"),
        confirmed_at=timezone.now(),
        confirmed_by=actor,
    )
    audit_record(actor=actor, action="bid.create", target=bid, to_state=Bid.Status.DRAFT)
    invitation_accept_by_bidding(challenge=locked, organization=organization, actor=actor)
    _apply_bid_relations(bid, locked, actor, data)
    if submit:
        bid = bid_submit(bid=bid, actor=actor)
    return bid


@transaction.atomic
def bid_update(*, bid: Bid, actor: User, **data: Any) -> Bid:
    """Revise a bid until the deadline. ``indicator_responses`` [{indicator_id, approach,
    expected_value}], ``budget_items`` [{item, amount, note}], ``schedule`` [{milestone_id,
    planned_date, plan}], ``result_ids``, ``patent_ids`` and ``consortium`` [{organization, role,
    share}] (members other than the lead; lead share is the rest) replace the current rows. A
    submitted bid stays submitted and is checked again; changing the consortium asks every member
    to confirm again."""
    _require_bidder(actor, bid)
    unknown = set(data) - set(BID_FIELDS) - set(BID_RELATIONS)
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    challenge = _lock(bid.challenge)
    _before_deadline(challenge)
    bid = Bid.objects.select_for_update().get(pk=bid.pk)
    if bid.status == Bid.Status.WITHDRAWN:
        raise TransitionError(_("方案已撤回，不能再修改。"))
    for field in BID_FIELDS:
        if field in data:
            setattr(bid, field, str(data[field]).strip())
    bid.full_clean()
    bid.save()
    _apply_bid_relations(bid, challenge, actor, data)
    if bid.status == Bid.Status.SUBMITTED:
        reasons = bid_eligibility_errors(bid=bid)
        if reasons:
            raise ValidationError({"__all__": reasons})
    audit_record(actor=actor, action="bid.update", target=bid, data={"fields": sorted(data)})
    return bid


def _apply_bid_relations(bid: Bid, challenge: Challenge, actor: User, data: dict) -> None:
    errors: dict[str, list[str]] = {}
    if "indicator_responses" in data:
        allowed = set(challenge.indicators.values_list("pk", flat=True))
        rows = []
        for row in data["indicator_responses"]:
            indicator_id = int(row["indicator_id"])
            approach = str(row.get("approach", "")).strip()
            if indicator_id not in allowed:
                errors.setdefault("indicator_responses", []).append(_("指标不属于该榜单。"))
            elif approach:
                response = BidIndicatorResponse(
                    bid=bid,
                    indicator_id=indicator_id,
                    approach=approach,
                    expected_value=str(row.get("expected_value", "")).strip()[:64],
                )
                _collect_row_errors(response, "indicator_responses", errors)
                rows.append(response)
        bid.indicator_responses.all().delete()
        BidIndicatorResponse.objects.bulk_create(rows)
    if "budget_items" in data:
        rows = []
        for i, row in enumerate(data["budget_items"]):
            item = BidBudgetItem(
                bid=bid,
                item=str(row.get("item", "")).strip(),
                amount=row.get("amount"),
                note=str(row.get("note", "")).strip(),
                position=i,
            )
            try:
                item.full_clean(exclude=["bid"])
            except ValidationError as exc:
                for messages in exc.message_dict.values():
                    errors.setdefault("budget_items", []).extend(
                        _("第%(row)d行：%(message)s") % {"row": i + 1, "message": m}
                        for m in messages
                    )
            rows.append(item)
        bid.budget_items.all().delete()
        BidBudgetItem.objects.bulk_create(rows)
    if "schedule" in data:
        allowed = set(challenge.milestones.values_list("pk", flat=True))
        rows = []
        for row in data["schedule"]:
            milestone_id = int(row["milestone_id"])
            if milestone_id not in allowed:
                errors.setdefault("schedule", []).append(_("里程碑不属于该榜单。"))
            elif row.get("planned_date"):
                planned = BidSchedule(
                    bid=bid,
                    milestone_id=milestone_id,
                    planned_date=row["planned_date"],
                    plan=str(row.get("plan", "")).strip(),
                )
                _collect_row_errors(planned, "schedule", errors)
                rows.append(planned)
        bid.schedule.all().delete()
        BidSchedule.objects.bulk_create(rows)
    if "consortium" in data:
        _apply_consortium(bid, challenge, data["consortium"], errors)
    # Only published results (and their patents) of the lead and of members that confirmed: the
    # lead must not cite, and so disclose, another organization's drafts.
    from challenges.selectors import bid_linkable_org_ids, patents_linkable, results_linkable

    linkable = bid_linkable_org_ids(bid=bid)
    if "result_ids" in data:
        wanted = set(data["result_ids"])
        results = list(results_linkable(org_ids=linkable).filter(pk__in=wanted))
        if len(results) != len(wanted):
            errors.setdefault("result_ids", []).append(
                _("只能关联揭榜单位或已确认的联合体成员已发布的科技成果。")
            )
        bid.results.set(results)
    if "patent_ids" in data:
        wanted = set(data["patent_ids"])
        patents = list(patents_linkable(org_ids=linkable).filter(pk__in=wanted))
        if len(patents) != len(wanted):
            errors.setdefault("patent_ids", []).append(
                _("只能关联揭榜单位或已确认的联合体成员已发布成果中的专利。")
            )
        bid.patents.set(patents)
    if errors:
        raise ValidationError(errors)


def _collect_row_errors(row, key: str, errors: dict) -> None:
    """Model validation of one related row (sizes, blanks) under ``key``; the relations are
    checked by the caller."""
    try:
        row.full_clean(
            exclude=["bid", "indicator", "milestone"],
            validate_unique=False,
            validate_constraints=False,
        )
    except ValidationError as exc:
        for messages in exc.message_dict.values():
            errors.setdefault(key, []).extend(messages)


def _apply_consortium(bid: Bid, challenge: Challenge, rows: Sequence[dict], errors: dict) -> None:
    current = {m.organization_id: m for m in bid.members.filter(is_lead=False)}
    wanted: list[ConsortiumMember] = []
    seen = {bid.organization_id}
    for i, row in enumerate(rows):
        org = row["organization"]
        if org.pk in seen:
            errors.setdefault("consortium", []).append(
                _("第%(row)d行：成员单位重复或与牵头单位相同。") % {"row": i + 1}
            )
            continue
        if org.pk == challenge.organization_id:
            errors.setdefault("consortium", []).append(_("出题单位不能加入联合体。"))
            continue
        seen.add(org.pk)
        member = ConsortiumMember(
            bid=bid,
            organization=org,
            role=str(row.get("role", "")).strip(),
            share=Decimal(str(row.get("share", "0"))),
        )
        try:
            member.full_clean(exclude=["bid", "organization"])
        except ValidationError as exc:
            for messages in exc.message_dict.values():
                errors.setdefault("consortium", []).extend(
                    _("第%(row)d行：%(message)s") % {"row": i + 1, "message": m} for m in messages
                )
        wanted.append(member)
    lead_share = Decimal("100") - sum((m.share for m in wanted), Decimal("0"))
    if lead_share <= 0:
        errors.setdefault("consortium", []).append(
            _("成员经费份额之和须小于100%，余下为牵头单位。")
        )
    if errors:
        return
    # A member whose role and share are unchanged keeps its confirmation; any change to its part
    # must be confirmed again by that organization.
    for member in wanted:
        previous = current.get(member.organization_id)
        if previous and (previous.role, previous.share) == (member.role, member.share):
            member.confirmed_at, member.confirmed_by_id = (
                previous.confirmed_at,
                previous.confirmed_by_id,
            )
    bid.members.filter(is_lead=False).delete()
    ConsortiumMember.objects.bulk_create(wanted)
    bid.members.filter(is_lead=True).update(share=lead_share)
    bid.is_consortium = bool(wanted)
    bid.save(update_fields=["is_consortium", "updated_at"])
    if bid.status == Bid.Status.SUBMITTED:
        for member in wanted:
            if member.confirmed_at is None:
                notify.notify_consortium_invite(bid, member)


def bid_eligibility_errors(*, bid: Bid) -> list[str]:
    """Why the bid may not be submitted, in words the bidder understands; empty when it may."""
    challenge = bid.challenge
    org = bid.organization
    reasons: list[str] = []
    if not org.is_verified:
        reasons.append(_("揭榜单位尚未通过平台认证。"))
    if (
        challenge.access == Challenge.Access.INVITED
        and not challenge.invitations.filter(organization=org).exists()
    ):
        reasons.append(_("本榜单为定向邀请，揭榜单位不在邀请名单中。"))
    if not challenge.no_threshold:
        if challenge.eligible_kinds and org.kind not in challenge.eligible_kinds:
            allowed = "、".join(str(Organization.Kind(k).label) for k in challenge.eligible_kinds)
            reasons.append(
                _("本榜单只接受以下类型的机构牵头揭榜：%(kinds)s；贵单位为“%(kind)s”。")
                % {"kinds": allowed, "kind": org.get_kind_display()}
            )
        regions = list(challenge.eligible_regions.all())
        if regions and org.region_id not in {r.pk for r in regions}:
            reasons.append(
                _("本榜单只接受以下地区的机构牵头揭榜：%(regions)s。")
                % {"regions": "、".join(r.name for r in regions)}
            )
        if challenge.required_qualifications.strip() and not bid.qualification_statement.strip():
            reasons.append(_("本榜单有资质要求，请在“资质说明”中说明贵单位如何满足。"))
    members = list(bid.members.all())
    if bid.is_consortium:
        if not challenge.allow_consortium:
            reasons.append(_("本榜单不接受创新联合体揭榜。"))
        elif len(members) > challenge.consortium_max_members:
            reasons.append(
                _("联合体成员（含牵头单位）最多%(max)d家，现为%(n)d家。")
                % {"max": challenge.consortium_max_members, "n": len(members)}
            )
    if sum((m.share for m in members), Decimal("0")) != 100:
        reasons.append(_("联合体各成员经费份额之和须为100%。"))
    if not bid.technical_approach.strip():
        reasons.append(_("请填写技术路线。"))
    answered = set(bid.indicator_responses.values_list("indicator_id", flat=True))
    missing = [str(i) for i in challenge.indicators.all() if i.pk not in answered]
    if missing:
        reasons.append(_("请逐项说明如何达到以下指标：%(items)s。") % {"items": "；".join(missing)})
    planned = set(bid.schedule.values_list("milestone_id", flat=True))
    unplanned = [m.name for m in challenge.milestones.all() if m.pk not in planned]
    if unplanned:
        reasons.append(
            _("请为以下里程碑填写进度计划：%(items)s。") % {"items": "、".join(unplanned)}
        )
    budget = bid.budget_items.aggregate(total=Sum("amount"))["total"]
    if budget is None:
        reasons.append(_("请填写经费预算明细。"))
    elif budget > challenge.reward_total:
        reasons.append(
            _("预算合计%(budget)s万元，超过榜单总金额%(reward)s万元。")
            % {"budget": budget.normalize(), "reward": challenge.reward_total.normalize()}
        )
    return reasons


@transaction.atomic
def bid_submit(*, bid: Bid, actor: User) -> Bid:
    """draft → submitted after the eligibility check; consortium members are asked to confirm."""
    _require_bidder(actor, bid)
    challenge = _lock(bid.challenge)
    _before_deadline(challenge)
    bid = Bid.objects.select_for_update().select_related("organization", "challenge").get(pk=bid.pk)
    if bid.status != Bid.Status.DRAFT:
        raise TransitionError(
            _("方案当前状态为“%(state)s”，不能提交。") % {"state": bid.get_status_display()}
        )
    reasons = bid_eligibility_errors(bid=bid)
    if reasons:
        raise ValidationError({"__all__": reasons})
    bid.status = Bid.Status.SUBMITTED
    bid.submitted_at = timezone.now()
    bid.save(update_fields=["status", "submitted_at", "updated_at"])
    audit_record(
        actor=actor,
        action="bid.transition",
        target=bid,
        from_state=Bid.Status.DRAFT,
        to_state=Bid.Status.SUBMITTED,
    )
    for member in bid.members.filter(is_lead=False, confirmed_at__isnull=True):
        notify.notify_consortium_invite(bid, member)
    return bid


@transaction.atomic
def bid_withdraw(*, bid: Bid, actor: User, reason: str = "") -> Bid:
    _require_bidder(actor, bid)
    reason = _clean_text(reason, field="reason")
    challenge = _lock(bid.challenge)
    _before_deadline(challenge)
    bid = Bid.objects.select_for_update().get(pk=bid.pk)
    if bid.status == Bid.Status.WITHDRAWN:
        raise TransitionError(_("方案已撤回。"))
    from_state = bid.status
    bid.status = Bid.Status.WITHDRAWN
    bid.withdrawn_at = timezone.now()
    bid.save(update_fields=["status", "withdrawn_at", "updated_at"])
    audit_record(
        actor=actor,
        action="bid.transition",
        target=bid,
        from_state=from_state,
        to_state=Bid.Status.WITHDRAWN,
        reason=reason,
    )
    return bid


@transaction.atomic
def consortium_confirm(*, member: ConsortiumMember, actor: User) -> ConsortiumMember:
    """A member of the invited organization confirms its participation before the deadline."""
    if not user_is_member(user=actor, organization_id=member.organization_id):
        raise PermissionDenied
    challenge = _lock(member.bid.challenge)
    _before_deadline(challenge)
    member = ConsortiumMember.objects.select_for_update().select_related("bid").get(pk=member.pk)
    if member.bid.status == Bid.Status.WITHDRAWN:
        raise TransitionError(_("方案已撤回。"))
    if member.confirmed_at is None:
        member.confirmed_at = timezone.now()
        member.confirmed_by = actor
        member.save(update_fields=["confirmed_at", "confirmed_by"])
        audit_record(
            actor=actor,
            action="bid.consortium_confirm",
            target=member.bid,
            data={"organization": str(member.organization.uuid)},
        )
    return member


@transaction.atomic
def bid_attachment_add(*, bid: Bid, actor: User, upload) -> BidAttachment:
    """Attach a PDF/DOCX/PNG/JPEG to a bid before the deadline (matching's upload validation)."""
    from matching.catalogue.services import validate_upload

    _require_bidder(actor, bid)
    _before_deadline(_lock(bid.challenge))
    mime = validate_upload(upload)
    name = (upload.name or "file").replace("\\", "/").rsplit("/", 1)[-1][:200]
    attachment = BidAttachment(
        bid=bid, original_name=name, content_type=mime, size=upload.size, uploaded_by=actor
    )
    attachment.file.save(name, upload, save=False)
    try:
        attachment.save()
        audit_record(actor=actor, action="bid.attachment_add", target=bid, data={"name": name})
    except Exception:
        attachment.file.storage.delete(attachment.file.name)
        raise
    return attachment
