"""Award and execution: award (one winner or 赛马), start, milestones and payments, down-selection,
the periodic overdue and deadline reminders."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.selectors import user_is_member
from challenges import notify
from challenges.models import (
    Bid,
    Challenge,
    ChallengeMilestone,
    Contract,
    ContractMilestone,
    Payment,
)
from challenges.services.common import (
    CENT,
    S,
    TransitionError,
    _clean_text,
    _lock,
    _require_enterprise,
    _require_state,
    _set_need_status,
    _transition,
)
from challenges.services.review import _conflict_text
from core.limits import LONG_TEXT
from core.services import audit_record
from matching.catalogue import answers
from matching.models import Need

# --- award and execution ------------------------------------------------------------------------------


@transaction.atomic
def challenge_award(
    *,
    challenge: Challenge,
    actor: User,
    winners: Sequence[Bid],
    reason: str,
    decline_reason: str = "",
    decline_note: str = "",
) -> Challenge:
    """review → awarded: the enterprise picks the winner (or the N 赛马 winners) with a written reason.
    Ranks every counting bid by its weighted total, creates a contract with milestones per winner and
    notifies winners and losers. The award answers every counting bid (``answered_at``): bids not
    selected and not declined before get ``decline_reason`` (one of ``DeclineReason``, required
    when there are such bids) and ``decline_note``."""
    _require_enterprise(actor, challenge)
    reason = _clean_text(reason, field="reason")
    if not reason:
        raise ValidationError({"reason": [_("请填写定榜理由。")]})
    if decline_reason or decline_note:
        decline_reason, decline_note = answers.clean_decline(
            reason=decline_reason, note=decline_note
        )
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
    if any(counting[pk].decline_reason for pk in winner_ids):
        raise ValidationError({"winners": [_("已答复未入选的方案不能定为揭榜单位。")]})
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
    not_selected = [
        bid for pk, bid in counting.items() if pk not in winner_ids and not bid.decline_reason
    ]
    if not_selected and not decline_reason:
        # Marking a bid not selected is an answer: it names a reason from the fixed set.
        raise ValidationError(
            {"decline_reason": [_("请为未入选的方案选择原因（揭榜单位会看到）。")]}
        )
    ranking = challenge_ranking(challenge=locked)
    now = timezone.now()
    for position, row in enumerate(ranking, start=1):
        bid = row.bid
        bid.rank = position
        bid.score = row.total
        bid.outcome = Bid.Outcome.WON if bid.pk in winner_ids else Bid.Outcome.LOST
        bid.answered_at = bid.answered_at or now
        if bid.outcome == Bid.Outcome.LOST and not bid.decline_reason and decline_reason:
            bid.decline_reason, bid.decline_note = decline_reason, decline_note
        bid.save(
            update_fields=[
                "rank",
                "score",
                "outcome",
                "answered_at",
                "decline_reason",
                "decline_note",
                "updated_at",
            ]
        )
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
