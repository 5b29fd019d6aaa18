"""Expert review: assignment with conflict-of-interest checks, recusal, scores, submission."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import ExpertProfile, Organization, User
from challenges import notify
from challenges.models import (
    Challenge,
    ExpertConflict,
    ReviewAssignment,
    Score,
)
from challenges.services.common import (
    S,
    TransitionError,
    _lock,
    _require_enterprise,
    _require_state,
)
from challenges.services.setup import _close_bidding_if_due
from core.services import audit_record

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
