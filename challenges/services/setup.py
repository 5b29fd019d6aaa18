"""Setting up a challenge: create from a need, edit, publish, close bidding, cancel, invite."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Organization, User
from accounts.selectors import user_is_member
from challenges import notify
from challenges.models import (
    Bid,
    Challenge,
    ChallengeInvitation,
    ChallengeMilestone,
    Contract,
    ContractMilestone,
    RubricCriterion,
)
from challenges.services.answers import bid_answer_deadline, invitation_mark_sent
from challenges.services.common import (
    DEFAULT_CRITERIA,
    S,
    TransitionError,
    _clean_text,
    _lock,
    _require_enterprise,
    _require_state,
    _set_need_status,
    _transition,
)
from core.services import audit_record
from matching.models import Match, Need
from taxonomy.models import Region

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
    "ip_terms",
    "allow_consortium",
    "consortium_max_members",
    "bid_deadline",
    "review_method",
    "award_mode",
    "race_winners",
    "answer_days",
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
        invitation.challenge = locked
        invitation_mark_sent(invitation, now=locked.published_at)
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

    counting = bids_counting(challenge=locked)
    count = counting.count()
    # Every counting bid is now due the enterprise's answer (challenges.services.answers).
    Bid.objects.filter(pk__in=counting.values("pk"), answer_by__isnull=True).update(
        answer_by=bid_answer_deadline(locked)
    )
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
            from matching.catalogue.services import need_access_invite

            need_access_invite(need=locked.need, actor=actor, organization=organization)
        if locked.status == S.OPEN:
            invitation.challenge = locked
            invitation_mark_sent(invitation, now=timezone.now())
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
