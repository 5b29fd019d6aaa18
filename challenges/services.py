"""Writes for challenges: setup, the state machine, bids, review, award and milestones.

Every transition checks the actor's role and the current state under a row lock on the challenge
(``_lock``), writes an audit row in the same transaction, and queues notifications that are sent after
commit. An illegal transition raises ``TransitionError`` (HTTP 409) and changes nothing; bad input
raises ``ValidationError`` with field messages (HTTP 400).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import ExpertProfile, Organization, User
from accounts.selectors import user_is_member
from challenges import notify
from challenges.models import (
    Bid,
    BidAttachment,
    BidBudgetItem,
    BidIndicatorResponse,
    BidSchedule,
    Challenge,
    ChallengeInvitation,
    ChallengeMilestone,
    ConsortiumMember,
    Contract,
    ContractMilestone,
    ExpertConflict,
    Payment,
    ReviewAssignment,
    RubricCriterion,
    Score,
)
from core.limits import LONG_TEXT, PARAGRAPH
from core.services import audit_record
from core.text import unstorable_text_message
from matching.models import Match, Need
from taxonomy.models import Region

S = Challenge.Status
CENT = Decimal("0.01")
DEFAULT_CRITERIA = (
    ("技术先进性", 30, "技术路线的先进性和创新性"),
    ("可行性", 30, "方案可行、指标可达、风险可控"),
    ("团队能力", 20, "团队经验、平台条件和已有成果"),
    ("经费合理性", 20, "预算与工作量匹配、拆分合理"),
)


class TransitionError(Exception):
    """The action is not allowed in the object's current state (HTTP 409)."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


# --- input -------------------------------------------------------------------------------------------


def _clean_text(value: Any, *, field: str, cap: int = PARAGRAPH) -> str:
    """Free text a service takes as an argument (reasons, notes, comments), stripped. Text
    PostgreSQL cannot store (core.text: a NUL, a lone surrogate) or more than ``cap`` characters is
    refused with a field message: web forms pass reasons through here unparsed."""
    text = str(value or "").strip()
    unstorable = unstorable_text_message(text)
    if unstorable:
        raise ValidationError({field: [unstorable]})
    if len(text) > cap:
        raise ValidationError(
            {field: [_("最多%(cap)d个字符，现为%(n)d个。") % {"cap": cap, "n": len(text)}]}
        )
    return text


# --- roles and locks ---------------------------------------------------------------------------------


def _require_enterprise(user: User, challenge: Challenge) -> None:
    """The challenge's own organization (出题单位) acts on it; staff do not act for it."""
    if not user_is_member(user=user, organization_id=challenge.organization_id):
        raise PermissionDenied


def _require_bidder(user: User, bid: Bid) -> None:
    if not user_is_member(user=user, organization_id=bid.organization_id):
        raise PermissionDenied


def _lock(challenge: Challenge) -> Challenge:
    """Reload the challenge under ``SELECT … FOR UPDATE``: concurrent transitions queue here and each
    sees the state the previous one committed."""
    return (
        Challenge.objects.select_for_update()
        .select_related("need", "organization")
        .get(pk=challenge.pk)
    )


def _require_state(challenge: Challenge, *allowed: str, action: str) -> None:
    if challenge.status not in allowed:
        raise TransitionError(
            _("榜单当前状态为“%(state)s”，不能%(action)s。")
            % {"state": challenge.get_status_display(), "action": action}
        )


def _transition(
    challenge: Challenge, *, to: str, actor: User | None, reason: str = "", data: dict | None = None
) -> None:
    from_state = challenge.status
    challenge.status = to
    challenge.save(update_fields=["status", "updated_at"])
    audit_record(
        actor=actor,
        action="challenge.transition",
        target=challenge,
        from_state=from_state,
        to_state=to,
        reason=reason,
        data=data,
    )


def _before_deadline(challenge: Challenge) -> None:
    """The bid guard checks the deadline itself: a challenge past it refuses bids even while its
    status still says open (beat moves it within a minute; page views never do)."""
    from challenges.selectors import bidding_closed

    if bidding_closed(challenge):
        raise TransitionError(_("揭榜已截止，方案不能再提交、修改或撤回。"))


def _set_need_status(need: Need, *, actor: User, to_status: str, reason: str) -> None:
    """Move the need along with the challenge, through matching's own service when the transition is
    allowed there (a need closed meanwhile stays closed)."""
    from matching.services import NEED_TRANSITIONS, need_set_status

    if need.status != to_status and to_status in NEED_TRANSITIONS.get(need.status, ()):
        need_set_status(need=need, actor=actor, to_status=to_status, reason=reason)


# --- challenge setup ---------------------------------------------------------------------------------

CHALLENGE_EDITABLE = (
    "title",
    "intro",
    "access",
    "reward_total",
    "reward_split",
    "no_threshold",
    "eligible_kinds",
    "required_qualifications",
    "allow_consortium",
    "consortium_max_members",
    "bid_deadline",
    "review_method",
    "award_mode",
    "race_winners",
)
CHALLENGE_RELATIONS = (
    "indicator_ids",
    "eligible_region_ids",
    "criteria",
    "milestones",
    "downselect_after_index",
)


@transaction.atomic
def challenge_create_from_need(
    *, need: Need, actor: User, access: str = Challenge.Access.OPEN, **changes: Any
) -> Challenge:
    """A draft challenge for a published need, prefilled from it (title, all indicators, the default
    rubric 技术先进性30、可行性30、团队能力20、经费合理性20); ``changes`` as in ``challenge_update``.
    The reward stays empty until the enterprise types it: the need's budget may be confidential
    (摘要公开) while a challenge's reward is public."""
    if not user_is_member(user=actor, organization_id=need.organization_id):
        raise PermissionDenied
    need = Need.objects.select_for_update().get(pk=need.pk)
    if need.status not in Need.OPEN_STATUSES:
        raise ValidationError({"need": [_("只有已发布的需求才能发榜。")]})
    challenge = Challenge(
        need=need,
        organization_id=need.organization_id,
        created_by=actor,
        title=need.title[:120],
        intro=need.summary or need.description[:500],
        access=access,
        bid_deadline=timezone.now() + timezone.timedelta(days=30),
    )
    challenge.full_clean(exclude=["downselect_after"])
    challenge.save()
    challenge.indicators.set(need.indicators.all())
    RubricCriterion.objects.bulk_create(
        RubricCriterion(challenge=challenge, name=n, weight=w, description=d, position=i)
        for i, (n, w, d) in enumerate(DEFAULT_CRITERIA)
    )
    audit_record(actor=actor, action="challenge.create", target=challenge, to_state=S.DRAFT)
    if changes:
        # The row as ``challenge_update`` left it, not the one built above.
        challenge = challenge_update(challenge=challenge, actor=actor, **changes)
    return challenge


@transaction.atomic
def challenge_update(*, challenge: Challenge, actor: User, **changes: Any) -> Challenge:
    """Edit a draft's terms. ``criteria`` ([{name, weight, description}]) and ``milestones``
    ([{name, deliverable, indicator_id, criterion, due_date, share}]) replace the current rows; the
    sums are checked at publication, when the terms freeze."""
    _require_enterprise(actor, challenge)
    unknown = set(changes) - set(CHALLENGE_EDITABLE) - set(CHALLENGE_RELATIONS)
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    locked = _lock(challenge)
    _require_state(locked, S.DRAFT, action=_("修改榜单条款"))
    errors: dict[str, list[str]] = {}
    for field in CHALLENGE_EDITABLE:
        if field in changes:
            value = changes[field]
            setattr(locked, field, value.strip() if isinstance(value, str) else value)
    try:
        locked.full_clean(exclude=["downselect_after"])
    except ValidationError as exc:
        errors.update(exc.message_dict)
    need_indicators = {i.pk: i for i in locked.need.indicators.all()}
    if "indicator_ids" in changes:
        ids = [int(i) for i in changes["indicator_ids"]]
        if set(ids) - set(need_indicators):
            errors.setdefault("indicator_ids", []).append(_("只能选择该需求自己的技术指标。"))
    if "eligible_region_ids" in changes:
        region_ids = {int(i) for i in changes["eligible_region_ids"]}
        unknown_regions = region_ids - set(
            Region.objects.filter(pk__in=region_ids).values_list("pk", flat=True)
        )
        if unknown_regions:
            errors.setdefault("eligible_region_ids", []).append(
                _("没有这些地区：%(ids)s。") % {"ids": "、".join(map(str, sorted(unknown_regions)))}
            )
    criteria = _clean_criteria(changes.get("criteria"), locked, errors)
    milestones = _clean_milestones(changes.get("milestones"), locked, need_indicators, errors)
    if errors:
        raise ValidationError(errors)
    locked.save()
    if "indicator_ids" in changes:
        locked.indicators.set([need_indicators[i] for i in ids])
    if "eligible_region_ids" in changes:
        locked.eligible_regions.set(region_ids)
    if criteria is not None:
        locked.criteria.all().delete()
        RubricCriterion.objects.bulk_create(criteria)
    if milestones is not None:
        locked.downselect_after = None
        locked.save(update_fields=["downselect_after"])
        locked.milestones.all().delete()
        ChallengeMilestone.objects.bulk_create(milestones)
    index = changes.get("downselect_after_index")
    if "downselect_after_index" in changes:
        rows = list(locked.milestones.all())
        locked.downselect_after = rows[index] if index is not None and index < len(rows) else None
        locked.save(update_fields=["downselect_after"])
    audit_record(
        actor=actor,
        action="challenge.update",
        target=locked,
        data={"fields": sorted(changes)},
    )
    return locked


def _clean_criteria(
    rows: Iterable[dict] | None, challenge: Challenge, errors: dict
) -> list[RubricCriterion] | None:
    if rows is None:
        return None
    out = []
    for i, row in enumerate(rows):
        criterion = RubricCriterion(
            challenge=challenge,
            name=str(row.get("name", "")).strip(),
            weight=int(row.get("weight") or 0),
            description=str(row.get("description", "")).strip(),
            position=i,
        )
        try:
            criterion.full_clean(exclude=["challenge"])
        except ValidationError as exc:
            for messages in exc.message_dict.values():
                errors.setdefault("criteria", []).extend(
                    _("第%(row)d项：%(message)s") % {"row": i + 1, "message": m} for m in messages
                )
        out.append(criterion)
    return out


def _clean_milestones(
    rows: Iterable[dict] | None, challenge: Challenge, indicators: dict, errors: dict
) -> list[ChallengeMilestone] | None:
    if rows is None:
        return None
    out = []
    for i, row in enumerate(rows):
        indicator_id = row.get("indicator_id")
        if indicator_id not in (None, "") and int(indicator_id) not in indicators:
            errors.setdefault("milestones", []).append(
                _("第%(row)d项：只能关联该需求的技术指标。") % {"row": i + 1}
            )
            indicator_id = None
        milestone = ChallengeMilestone(
            challenge=challenge,
            name=str(row.get("name", "")).strip(),
            deliverable=str(row.get("deliverable", "")).strip(),
            indicator_id=int(indicator_id) if indicator_id not in (None, "") else None,
            criterion=str(row.get("criterion", "")).strip(),
            due_date=row.get("due_date"),
            share=row.get("share"),
            position=i,
        )
        try:
            milestone.full_clean(exclude=["challenge", "indicator"])
        except ValidationError as exc:
            for messages in exc.message_dict.values():
                errors.setdefault("milestones", []).extend(
                    _("第%(row)d项：%(message)s") % {"row": i + 1, "message": m} for m in messages
                )
        out.append(milestone)
    return out


def _publication_errors(challenge: Challenge) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if challenge.reward_total is None:
        errors["reward_total"] = [_("请填写榜单总金额。")]
    criteria = list(challenge.criteria.all())
    milestones = list(challenge.milestones.all())
    if not criteria:
        errors["criteria"] = [_("请至少设置一个评审维度。")]
    elif sum(c.weight for c in criteria) != 100:
        errors["criteria"] = [
            _("评审维度的权重之和须为100，现为%(sum)d。") % {"sum": sum(c.weight for c in criteria)}
        ]
    if not milestones:
        errors["milestones"] = [_("请至少设置一个里程碑。")]
    else:
        total = sum((m.share for m in milestones), Decimal("0"))
        if total != 100:
            errors["milestones"] = [
                _("里程碑付款比例之和须为100%%，现为%(sum)s%%。") % {"sum": total.normalize()}
            ]
        deadline_day = timezone.localdate(challenge.bid_deadline)
        if any(m.due_date <= deadline_day for m in milestones):
            errors.setdefault("milestones", []).append(_("里程碑截止日期须晚于揭榜截止时间。"))
    if challenge.bid_deadline <= timezone.now():
        errors["bid_deadline"] = [_("揭榜截止时间须晚于现在。")]
    if not challenge.indicators.exists():
        errors["indicator_ids"] = [_("请选择验收将考核的技术指标。")]
    if challenge.need.status not in Need.OPEN_STATUSES:
        errors["need"] = [_("需求已不在发布状态，不能发榜。")]
    if challenge.award_mode == Challenge.AwardMode.RACE and challenge.race_winners < 2:
        errors["race_winners"] = [_("赛马制至少并行两家。")]
    return errors


@transaction.atomic
def challenge_publish(*, challenge: Challenge, actor: User) -> Challenge:
    """draft → open: the terms freeze and bidding starts; the need shows as 揭榜中."""
    _require_enterprise(actor, challenge)
    locked = _lock(challenge)
    _require_state(locked, S.DRAFT, action=_("发布"))
    errors = _publication_errors(locked)
    if errors:
        raise ValidationError(errors)
    locked.published_at = timezone.now()
    locked.save(update_fields=["published_at"])
    _transition(locked, to=S.OPEN, actor=actor)
    _set_need_status(
        locked.need, actor=actor, to_status=Need.Status.IN_CHALLENGE, reason=_("发布榜单")
    )
    for invitation in locked.invitations.select_related("organization"):
        notify.notify_invited(invitation)
    return locked


@transaction.atomic
def challenge_close_bidding(*, challenge: Challenge, actor: User | None = None) -> Challenge:
    """open → review once the deadline has passed (by beat, by the enterprise, or on the way of
    an enterprise's write that needs it, such as assigning an expert). Never by a page view."""
    if actor is not None:
        _require_enterprise(actor, challenge)
    locked = _lock(challenge)
    _require_state(locked, S.OPEN, action=_("截止揭榜"))
    if timezone.now() < locked.bid_deadline:
        raise TransitionError(_("揭榜截止时间未到。"))
    _close_bidding(locked, actor=actor)
    return locked


def _close_bidding(locked: Challenge, *, actor: User | None) -> None:
    from challenges.selectors import bids_counting

    count = bids_counting(challenge=locked).count()
    _transition(
        locked, to=S.REVIEW, actor=actor, reason=_("揭榜截止"), data={"counting_bids": count}
    )
    notify.notify_bidding_closed(locked, count=count)


def _close_bidding_if_due(locked: Challenge) -> None:
    """Inside a write that needs the review state: close bidding first when the deadline passed
    and beat has not got there yet (the locked row is updated in place)."""
    if locked.status == S.OPEN and timezone.now() >= locked.bid_deadline:
        _close_bidding(locked, actor=None)


def challenge_close_bidding_if_due(*, challenge: Challenge) -> Challenge:
    """Beat's form: move a challenge past its deadline to review; quietly do nothing otherwise."""
    if challenge.status != S.OPEN or timezone.now() < challenge.bid_deadline:
        return challenge
    try:
        updated = challenge_close_bidding(challenge=challenge)
    except TransitionError:  # another request got there first
        updated = Challenge.objects.get(pk=challenge.pk)
    challenge.status = updated.status
    return challenge


def challenges_close_due() -> int:
    """Beat: close bidding of every open challenge whose deadline has passed."""
    closed = 0
    for challenge in Challenge.objects.filter(status=S.OPEN, bid_deadline__lte=timezone.now()):
        challenge_close_bidding_if_due(challenge=challenge)
        closed += challenge.status == S.REVIEW
    return closed


@transaction.atomic
def challenge_cancel(*, challenge: Challenge, actor: User, reason: str) -> Challenge:
    """Any non-final state → cancelled, with a reason; running contracts stop and the need reopens."""
    _require_enterprise(actor, challenge)
    reason = _clean_text(reason, field="reason")
    if not reason:
        raise ValidationError({"reason": [_("请填写取消原因。")]})
    locked = _lock(challenge)
    _require_state(locked, S.DRAFT, S.OPEN, S.REVIEW, S.AWARDED, S.IN_PROGRESS, action=_("取消"))
    was_published = locked.status != S.DRAFT
    now = timezone.now()
    ContractMilestone.objects.filter(
        contract__challenge=locked, status__in=ContractMilestone.OPEN_STATUSES
    ).update(status=ContractMilestone.Status.STOPPED)
    locked.contracts.filter(status=Contract.Status.ACTIVE).update(
        status=Contract.Status.CANCELLED, stopped_at=now
    )
    locked.cancel_reason = reason
    locked.save(update_fields=["cancel_reason"])
    _transition(locked, to=S.CANCELLED, actor=actor, reason=reason)
    if was_published and locked.need.status == Need.Status.IN_CHALLENGE:
        _set_need_status(
            locked.need, actor=actor, to_status=Need.Status.PUBLISHED, reason=_("榜单取消")
        )
    if was_published:
        notify.notify_cancelled(locked)
    return locked


# --- invitations --------------------------------------------------------------------------------------


@transaction.atomic
def challenge_invite(
    *, challenge: Challenge, organization: Organization, actor: User, match: Match | None = None
) -> ChallengeInvitation:
    """Invite an organization to bid (idempotent). Invitations to a draft are emailed at publication."""
    _require_enterprise(actor, challenge)
    locked = _lock(challenge)
    _require_state(locked, S.DRAFT, S.OPEN, action=_("邀请揭榜"))
    if organization.pk == locked.organization_id:
        raise ValidationError({"organization": [_("不能邀请本单位揭榜。")]})
    invitation, created = ChallengeInvitation.objects.get_or_create(
        challenge=locked,
        organization=organization,
        defaults={"invited_by": actor, "match": match},
    )
    if created:
        audit_record(
            actor=actor,
            action="challenge.invite",
            target=locked,
            data={"organization": str(organization.uuid), "match": match.pk if match else None},
        )
        if locked.need.confidentiality != Need.Confidentiality.PUBLIC:
            # The invited party still has to accept the need's terms to read the full text.
            from matching.services import need_access_invite

            need_access_invite(need=locked.need, actor=actor, organization=organization)
        if locked.status == S.OPEN:
            notify.notify_invited(invitation)
    return invitation


@transaction.atomic
def challenge_invite_from_match(*, match: Match, actor: User) -> tuple[Challenge, bool]:
    """The need's organization invites the matched result's or capability's organization to the
    need's challenge, creating a draft (定向邀请) when the need has none that still takes bids.
    Returns the challenge and whether it was created."""
    need = match.need
    if not user_is_member(user=actor, organization_id=need.organization_id):
        raise PermissionDenied
    challenge = (
        Challenge.objects.filter(need=need, status__in=[S.DRAFT, S.OPEN])
        .order_by("-created_at")
        .first()
    )
    created = challenge is None
    if created:
        if need.challenges.filter(status__in=[S.REVIEW, S.AWARDED, S.IN_PROGRESS]).exists():
            raise TransitionError(_("该需求的榜单已截止揭榜，不能再邀请。"))
        challenge = challenge_create_from_need(
            need=need, actor=actor, access=Challenge.Access.INVITED
        )
    challenge_invite(
        challenge=challenge, organization=match.candidate.organization, actor=actor, match=match
    )
    return challenge, created


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
    from matching.services import validate_upload

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


# --- review -------------------------------------------------------------------------------------------


def _conflict_text(conflicts: Sequence[tuple[Organization, str]]) -> str:
    return "、".join(f"{org.name}（{ExpertConflict.Kind(kind).label}）" for org, kind in conflicts)


def _require_no_conflict(challenge: Challenge, expert: ExpertProfile) -> None:
    """Refuse an expert's review step when a conflict of interest exists now: memberships and
    declared affiliations may have changed since the assignment."""
    from challenges.selectors import expert_conflicts

    conflicts = expert_conflicts(challenge=challenge, expert=expert)
    if conflicts:
        raise TransitionError(
            _("评审专家%(expert)s与%(orgs)s存在利益冲突，须回避，不能评分或提交。")
            % {"expert": expert.user.name, "orgs": _conflict_text(conflicts)}
        )


def _record_conflicts(
    challenge: Challenge,
    expert: ExpertProfile,
    conflicts: Sequence[tuple[Organization, str]],
    actor: User,
) -> list[ExpertConflict]:
    rows = []
    for org, kind in conflicts:
        row, _created = ExpertConflict.objects.get_or_create(
            challenge=challenge,
            expert=expert,
            organization=org,
            kind=kind,
            defaults={"recorded_by": actor},
        )
        rows.append(row)
    return rows


@transaction.atomic
def review_assign_expert(
    *, challenge: Challenge, expert: ExpertProfile, actor: User
) -> tuple[ReviewAssignment | None, list[ExpertConflict]]:
    """Assign an expert to review the bids, after the deadline. An expert with a conflict of interest
    is not assigned; the block is recorded (ExpertConflict rows and an audit entry) and returned."""
    _require_enterprise(actor, challenge)
    locked = _lock(challenge)
    _close_bidding_if_due(locked)
    _require_state(locked, S.REVIEW, action=_("指派评审专家"))
    if not expert.is_active:
        raise ValidationError({"expert": [_("该专家暂不接受评审邀请。")]})
    existing = locked.assignments.filter(expert=expert).first()
    if existing:
        return existing, []
    from challenges.selectors import expert_conflicts

    conflicts = _record_conflicts(
        locked, expert, expert_conflicts(challenge=locked, expert=expert), actor
    )
    if conflicts:
        audit_record(
            actor=actor,
            action="challenge.expert_blocked",
            target=locked,
            reason=_("利益冲突回避"),
            data={
                "expert": expert.pk,
                "conflicts": [
                    {"organization": str(c.organization.uuid), "kind": c.kind} for c in conflicts
                ],
            },
        )
        return None, conflicts
    assignment = ReviewAssignment.objects.create(challenge=locked, expert=expert, assigned_by=actor)
    audit_record(
        actor=actor, action="challenge.expert_assign", target=locked, data={"expert": expert.pk}
    )
    notify.notify_review_assigned(assignment)
    return assignment, []


def _require_reviewer(actor: User, assignment: ReviewAssignment) -> None:
    if actor is None or assignment.expert.user_id != actor.pk:
        raise PermissionDenied


def _lock_assignment(assignment: ReviewAssignment) -> ReviewAssignment:
    return (
        ReviewAssignment.objects.select_for_update(of=("self",))
        .select_related("challenge", "challenge__organization", "expert__user")
        .get(pk=assignment.pk)
    )


@transaction.atomic
def review_recuse_expert(*, assignment: ReviewAssignment, actor: User) -> None:
    """The enterprise removes an assigned expert who has a conflict of interest now (one who joined
    or declared a tie with a bidder, or the enterprise, after being assigned). The expert's scores
    go with the assignment; the conflict is recorded and audited. An expert without a conflict
    cannot be removed, so that no one is dropped for the scores they gave."""
    _require_enterprise(actor, assignment.challenge)
    locked = _lock(assignment.challenge)
    _require_state(locked, S.REVIEW, action=_("回避评审专家"))
    assignment = _lock_assignment(assignment)
    from challenges.selectors import expert_conflicts

    found = expert_conflicts(challenge=locked, expert=assignment.expert)
    if not found:
        raise TransitionError(
            _("评审专家%(expert)s没有利益冲突，不能移除。")
            % {"expert": assignment.expert.user.name}
        )
    conflicts = _record_conflicts(locked, assignment.expert, found, actor)
    audit_record(
        actor=actor,
        action="challenge.expert_recused",
        target=locked,
        reason=_("利益冲突回避"),
        data={
            "expert": assignment.expert_id,
            "submitted": assignment.submitted_at is not None,
            "conflicts": [
                {"organization": str(c.organization.uuid), "kind": c.kind} for c in conflicts
            ],
        },
    )
    assignment.delete()


@transaction.atomic
def review_save_scores(
    *, assignment: ReviewAssignment, actor: User, scores: Iterable[dict]
) -> ReviewAssignment:
    """Save (insert or replace) the expert's scores: [{bid_id, criterion_id, value, comment}]."""
    _require_reviewer(actor, assignment)
    locked = _lock_assignment(assignment)
    _require_state(locked.challenge, S.REVIEW, action=_("评分"))
    if locked.submitted_at is not None:
        raise TransitionError(_("评分已提交，不能再修改。"))
    _require_no_conflict(locked.challenge, locked.expert)
    from challenges.selectors import bids_counting

    bid_ids = set(bids_counting(challenge=locked.challenge).values_list("pk", flat=True))
    criterion_ids = set(locked.challenge.criteria.values_list("pk", flat=True))
    errors: list[str] = []
    for row in scores:
        bid_id, criterion_id = int(row["bid_id"]), int(row["criterion_id"])
        if bid_id not in bid_ids or criterion_id not in criterion_ids:
            errors.append(_("评分对象不属于该榜单。"))
            continue
        value = row.get("value")
        if value in (None, ""):
            Score.objects.filter(
                assignment=locked, bid_id=bid_id, criterion_id=criterion_id
            ).delete()
            continue
        value = int(value)
        if not 0 <= value <= 100:
            errors.append(_("分数须在0到100之间。"))
            continue
        Score.objects.update_or_create(
            assignment=locked,
            bid_id=bid_id,
            criterion_id=criterion_id,
            defaults={"value": value, "comment": str(row.get("comment", "")).strip()[:500]},
        )
    if errors:
        raise ValidationError({"scores": sorted(set(errors))})
    return locked


@transaction.atomic
def review_submit(*, assignment: ReviewAssignment, actor: User) -> ReviewAssignment:
    """Submit the expert's scores (every bid on every criterion); after this they are final and the
    expert may see the other experts' submitted scores."""
    _require_reviewer(actor, assignment)
    locked = _lock_assignment(assignment)
    _require_state(locked.challenge, S.REVIEW, action=_("提交评分"))
    if locked.submitted_at is not None:
        raise TransitionError(_("评分已提交。"))
    _require_no_conflict(locked.challenge, locked.expert)
    from challenges.selectors import bids_counting

    needed = bids_counting(challenge=locked.challenge).count() * locked.challenge.criteria.count()
    if locked.scores.count() < needed:
        raise ValidationError({"scores": [_("请为每份方案的每个评审维度打分后再提交。")]})
    locked.submitted_at = timezone.now()
    locked.save(update_fields=["submitted_at"])
    audit_record(
        actor=actor,
        action="review.transition",
        target=locked,
        from_state="assigned",
        to_state="submitted",
    )
    return locked


# --- award and execution ------------------------------------------------------------------------------


@transaction.atomic
def challenge_award(
    *, challenge: Challenge, actor: User, winners: Sequence[Bid], reason: str
) -> Challenge:
    """review → awarded: the enterprise picks the winner (or the N 赛马 winners) with a written reason.
    Ranks every counting bid by its weighted total, creates a contract with milestones per winner and
    notifies winners and losers."""
    _require_enterprise(actor, challenge)
    reason = _clean_text(reason, field="reason")
    if not reason:
        raise ValidationError({"reason": [_("请填写定榜理由。")]})
    locked = _lock(challenge)
    _require_state(locked, S.REVIEW, action=_("定榜"))
    from challenges.selectors import bids_counting, challenge_ranking

    counting = {b.pk: b for b in bids_counting(challenge=locked)}
    winner_ids = list(dict.fromkeys(b.pk for b in winners))
    if len(winner_ids) != locked.winners_wanted:
        raise ValidationError(
            {"winners": [_("请选择%(n)d家揭榜单位。") % {"n": locked.winners_wanted}]}
        )
    if any(pk not in counting for pk in winner_ids):
        raise ValidationError({"winners": [_("只能从有效的揭榜方案中选择。")]})
    assignments = list(locked.assignments.select_related("expert__user"))
    if not assignments or any(a.submitted_at is None for a in assignments):
        raise TransitionError(_("所有评审专家提交评分后才能定榜。"))
    from challenges.selectors import expert_conflicts

    conflicted = [
        (a.expert, found)
        for a in assignments
        if (found := expert_conflicts(challenge=locked, expert=a.expert))
    ]
    if conflicted:
        raise TransitionError(
            _(
                "以下评审专家现与揭榜单位或出题单位存在利益冲突，其评分不能计入定榜：%(experts)s。请先将其回避。"
            )
            % {
                "experts": "；".join(
                    f"{expert.user.name}：{_conflict_text(found)}" for expert, found in conflicted
                )
            }
        )
    ranking = challenge_ranking(challenge=locked)
    for position, row in enumerate(ranking, start=1):
        bid = row.bid
        bid.rank = position
        bid.score = row.total
        bid.outcome = Bid.Outcome.WON if bid.pk in winner_ids else Bid.Outcome.LOST
        bid.save(update_fields=["rank", "score", "outcome", "updated_at"])
    share = (locked.reward_total / len(winner_ids)).quantize(CENT)
    milestones = list(locked.milestones.all())
    for pk in winner_ids:
        bid = counting[pk]
        contract = Contract.objects.create(
            challenge=locked, bid=bid, organization_id=bid.organization_id, amount=share
        )
        ContractMilestone.objects.bulk_create(
            ContractMilestone(contract=contract, milestone=m) for m in milestones
        )
    # Rounding an equal split must not make the contracts add up to more than the reward.
    excess = share * len(winner_ids) - locked.reward_total
    if excess > 0:
        last = locked.contracts.order_by("-pk").first()
        last.amount -= excess
        last.save(update_fields=["amount"])
    locked.award_reason = reason
    locked.awarded_at = timezone.now()
    locked.save(update_fields=["award_reason", "awarded_at"])
    _transition(
        locked,
        to=S.AWARDED,
        actor=actor,
        reason=reason,
        data={"winners": [str(counting[pk].uuid) for pk in winner_ids]},
    )
    _set_need_status(locked.need, actor=actor, to_status=Need.Status.MATCHED, reason=_("榜单定榜"))
    notify.notify_award(locked)
    return locked


@transaction.atomic
def challenge_start(*, challenge: Challenge, actor: User) -> Challenge:
    """awarded → in_progress: contracts signed, work starts."""
    _require_enterprise(actor, challenge)
    locked = _lock(challenge)
    _require_state(locked, S.AWARDED, action=_("启动攻关"))
    _transition(locked, to=S.IN_PROGRESS, actor=actor, reason=_("合同签订，开始攻关"))
    return locked


def contract_paid(contract: Contract) -> Decimal:
    return contract.payments.aggregate(total=Sum("amount"))["total"] or Decimal("0")


def _milestone_payment(cm: ContractMilestone) -> Decimal:
    """What accepting ``cm`` releases: the contract's unpaid amount spread over its unpaid milestones
    in proportion to their shares. The last one pays exactly the rest, so a contract never pays more
    than its amount, also after a 赛马 down-selection raised it."""
    contract = cm.contract
    unpaid = ContractMilestone.objects.filter(contract=contract, payment__isnull=True).exclude(
        status=ContractMilestone.Status.STOPPED
    )
    unpaid_shares = sum((m.milestone.share for m in unpaid.select_related("milestone")), Decimal(0))
    remaining = contract.amount - contract_paid(contract)
    if unpaid_shares <= 0 or remaining <= 0:
        return Decimal("0")
    amount = (remaining * cm.milestone.share / unpaid_shares).quantize(CENT, ROUND_HALF_UP)
    return min(amount, remaining)


def _lock_milestone(cm: ContractMilestone) -> tuple[Challenge, ContractMilestone]:
    challenge = _lock(cm.contract.challenge)
    locked = (
        ContractMilestone.objects.select_for_update(of=("self",))
        .select_related("contract", "milestone", "contract__organization")
        .get(pk=cm.pk)
    )
    return challenge, locked


@transaction.atomic
def milestone_submit(
    *, cm: ContractMilestone, actor: User, note: str, measured_value: str = ""
) -> ContractMilestone:
    """The winner submits a milestone's deliverable (again, after a rejection)."""
    if not user_is_member(user=actor, organization_id=cm.contract.organization_id):
        raise PermissionDenied
    challenge, locked = _lock_milestone(cm)
    _require_state(challenge, S.IN_PROGRESS, action=_("提交里程碑成果"))
    if locked.contract.status != Contract.Status.ACTIVE:
        raise TransitionError(_("合同已终止，不能再提交。"))
    if locked.status not in (ContractMilestone.Status.PENDING, ContractMilestone.Status.REJECTED):
        raise TransitionError(
            _("里程碑当前状态为“%(state)s”，不能提交。") % {"state": locked.get_status_display()}
        )
    note = _clean_text(note, field="note", cap=LONG_TEXT)
    measured_value = _clean_text(
        measured_value,
        field="measured_value",
        cap=ContractMilestone._meta.get_field("measured_value").max_length,
    )
    if not note:
        raise ValidationError({"note": [_("请说明交付内容。")]})
    from_state = locked.status
    locked.status = ContractMilestone.Status.SUBMITTED
    locked.deliverable_note = note
    locked.measured_value = measured_value
    locked.submitted_at = timezone.now()
    locked.submitted_by = actor
    locked.save()
    audit_record(
        actor=actor,
        action="milestone.transition",
        target=locked,
        from_state=from_state,
        to_state=locked.status,
    )
    notify.notify_milestone_submitted(locked)
    return locked


@transaction.atomic
def milestone_accept(*, cm: ContractMilestone, actor: User, comment: str = "") -> ContractMilestone:
    """The enterprise accepts a submitted milestone against its criterion; its payment is recorded.
    Payments never exceed the contract's amount nor, over all contracts, the reward."""
    _require_enterprise(actor, cm.contract.challenge)
    challenge, locked = _lock_milestone(cm)
    _require_state(challenge, S.IN_PROGRESS, action=_("验收里程碑"))
    if locked.status != ContractMilestone.Status.SUBMITTED:
        raise TransitionError(
            _("里程碑当前状态为“%(state)s”，不能验收。") % {"state": locked.get_status_display()}
        )
    amount = _milestone_payment(locked)
    paid_total = Payment.objects.filter(contract__challenge=challenge).aggregate(t=Sum("amount"))[
        "t"
    ] or Decimal("0")
    if paid_total + amount > challenge.reward_total:
        raise TransitionError(_("拨付总额将超过榜单总金额，已拒绝。"))
    locked.status = ContractMilestone.Status.ACCEPTED
    locked.decision_comment = _clean_text(comment, field="comment")
    locked.decided_at = timezone.now()
    locked.decided_by = actor
    locked.save()
    Payment.objects.create(
        contract_milestone=locked, contract=locked.contract, amount=amount, released_by=actor
    )
    audit_record(
        actor=actor,
        action="milestone.transition",
        target=locked,
        from_state=ContractMilestone.Status.SUBMITTED,
        to_state=locked.status,
        reason=locked.decision_comment,
        data={"payment": str(amount)},
    )
    notify.notify_milestone_decision(locked)
    _complete_if_done(challenge, locked.contract, actor)
    return locked


def _complete_if_done(challenge: Challenge, contract: Contract, actor: User) -> None:
    if contract.milestones.exclude(status=ContractMilestone.Status.ACCEPTED).exists():
        return
    contract.status = Contract.Status.COMPLETED
    contract.save(update_fields=["status"])
    if not challenge.contracts.filter(status=Contract.Status.ACTIVE).exists():
        _transition(challenge, to=S.COMPLETED, actor=actor, reason=_("全部里程碑验收通过"))


@transaction.atomic
def milestone_reject(*, cm: ContractMilestone, actor: User, comment: str) -> ContractMilestone:
    """The enterprise rejects a submitted milestone with comments; the winner may submit again."""
    _require_enterprise(actor, cm.contract.challenge)
    comment = _clean_text(comment, field="comment")
    if not comment:
        raise ValidationError({"comment": [_("请写明未通过的原因。")]})
    challenge, locked = _lock_milestone(cm)
    _require_state(challenge, S.IN_PROGRESS, action=_("验收里程碑"))
    if locked.status != ContractMilestone.Status.SUBMITTED:
        raise TransitionError(
            _("里程碑当前状态为“%(state)s”，不能验收。") % {"state": locked.get_status_display()}
        )
    locked.status = ContractMilestone.Status.REJECTED
    locked.decision_comment = comment
    locked.decided_at = timezone.now()
    locked.decided_by = actor
    locked.save()
    audit_record(
        actor=actor,
        action="milestone.transition",
        target=locked,
        from_state=ContractMilestone.Status.SUBMITTED,
        to_state=locked.status,
        reason=comment,
    )
    notify.notify_milestone_decision(locked)
    return locked


@transaction.atomic
def challenge_downselect(
    *,
    challenge: Challenge,
    actor: User,
    keep: Contract,
    after_milestone: ChallengeMilestone,
    reason: str,
) -> Challenge:
    """赛马制: after ``after_milestone`` (accepted for the kept racer) the enterprise keeps one racer;
    the others stop. The kept contract's amount becomes the reward minus what the stopped racers were
    paid, so payments still never exceed the reward."""
    _require_enterprise(actor, challenge)
    reason = _clean_text(reason, field="reason")
    if not reason:
        raise ValidationError({"reason": [_("请填写择优理由。")]})
    locked = _lock(challenge)
    _require_state(locked, S.IN_PROGRESS, action=_("赛马择优"))
    if locked.award_mode != Challenge.AwardMode.RACE:
        raise TransitionError(_("只有赛马制榜单才能择优。"))
    active = list(locked.contracts.filter(status=Contract.Status.ACTIVE))
    if len(active) < 2:
        raise TransitionError(_("已完成择优，只剩一家在攻关。"))
    if keep.pk not in {c.pk for c in active} or after_milestone.challenge_id != locked.pk:
        raise ValidationError({"keep": [_("请选择仍在攻关的一家。")]})
    if not keep.milestones.filter(
        milestone=after_milestone, status=ContractMilestone.Status.ACCEPTED
    ).exists():
        raise TransitionError(
            _("“%(name)s”验收通过后才能据此择优。") % {"name": after_milestone.name}
        )
    now = timezone.now()
    stopped = [c for c in active if c.pk != keep.pk]
    for contract in stopped:
        contract.status = Contract.Status.STOPPED
        contract.stopped_at = now
        contract.save(update_fields=["status", "stopped_at"])
        contract.milestones.filter(status__in=ContractMilestone.OPEN_STATUSES).update(
            status=ContractMilestone.Status.STOPPED
        )
    paid_elsewhere = Payment.objects.filter(contract__challenge=locked).exclude(
        contract=keep
    ).aggregate(t=Sum("amount"))["t"] or Decimal("0")
    keep.amount = locked.reward_total - paid_elsewhere
    keep.save(update_fields=["amount"])
    locked.downselect_after = after_milestone
    locked.downselect_reason = reason
    locked.downselected_at = now
    locked.save(update_fields=["downselect_after", "downselect_reason", "downselected_at"])
    audit_record(
        actor=actor,
        action="challenge.downselect",
        target=locked,
        reason=reason,
        data={
            "kept": str(keep.uuid),
            "stopped": [str(c.uuid) for c in stopped],
            "after_milestone": after_milestone.pk,
        },
    )
    notify.notify_downselect(locked, keep=keep, stopped=stopped)
    _complete_if_done(locked, keep, actor)
    return locked


def milestones_flag_overdue(*, today: date | None = None) -> int:
    """Beat: flag open milestones of running contracts past their due date, once each (the filtered
    update claims the row, so overlapping runs never flag or notify twice)."""
    today = today or timezone.localdate()
    candidates = ContractMilestone.objects.filter(
        overdue_at__isnull=True,
        status__in=ContractMilestone.OPEN_STATUSES,
        contract__status=Contract.Status.ACTIVE,
        contract__challenge__status=S.IN_PROGRESS,
        milestone__due_date__lt=today,
    ).values_list("pk", flat=True)
    flagged = 0
    for pk in list(candidates):
        with transaction.atomic():
            now = timezone.now()
            if (
                ContractMilestone.objects.filter(pk=pk, overdue_at__isnull=True).update(
                    overdue_at=now
                )
                != 1
            ):
                continue
            cm = ContractMilestone.objects.select_related(
                "contract__challenge", "contract__organization", "milestone"
            ).get(pk=pk)
            audit_record(
                actor=None,
                action="milestone.overdue",
                target=cm,
                from_state=cm.status,
                to_state=cm.status,
                data={"due_date": cm.milestone.due_date.isoformat()},
            )
            notify.notify_milestone_overdue(cm)
            flagged += 1
    return flagged


def challenges_remind_deadlines(*, within_hours: int = 24, now: datetime | None = None) -> int:
    """Beat: remind bidders whose draft or unconfirmed consortium bid would not count at a deadline
    less than ``within_hours`` away (once per challenge and recipient: deterministic event keys)."""
    now = now or timezone.now()
    soon = Challenge.objects.filter(
        status=S.OPEN,
        bid_deadline__gt=now,
        bid_deadline__lte=now + timezone.timedelta(hours=within_hours),
    )
    reminded = 0
    for challenge in soon:
        with transaction.atomic():
            reminded += notify.notify_bid_deadline_reminder(challenge)
    return reminded
