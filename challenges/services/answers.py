"""Coded answers with deadlines in challenges, on the rule of ``matching.catalogue.answers`` (the
decline reasons, the deadline, the reminder window live there, once):

- an invitation to bid (定向邀请) is due the invited organization's answer within the challenge's
  ``answer_days`` of being sent (never later than the bid deadline): accept, or decline with a
  reason, which the enterprise is told;
- a counting bid is due the enterprise's answer within ``answer_days`` of the bid deadline: a
  decline with a reason (未入选) before the award, or the award itself;
- the beat sweep reminds the side that owes an answer before the deadline and records "no answer"
  once after it; missed answers count on that organization's responsiveness record
  (``challenges.selectors.answer_rows``, registered with matching at start-up).
"""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Organization, User
from accounts.selectors import user_is_member
from challenges import notify
from challenges.models import Bid, Challenge, ChallengeInvitation
from challenges.services.common import (
    S,
    TransitionError,
    _lock,
    _require_enterprise,
    _require_state,
)
from core.services import audit_record
from matching.catalogue import answers

INV = ChallengeInvitation.Status


def invitation_deadline(challenge: Challenge, sent_at: dt.datetime) -> dt.datetime:
    """An invitation sent at ``sent_at`` is due by the challenge's answer period, and never after
    its bid deadline (an answer after it could not lead to a bid)."""
    return min(answers.answer_deadline(sent_at, days=challenge.answer_days), challenge.bid_deadline)


def bid_answer_deadline(challenge: Challenge) -> dt.datetime:
    """The enterprise answers every counting bid within its answer period after the bid deadline."""
    return answers.answer_deadline(challenge.bid_deadline, days=challenge.answer_days)


def invitation_mark_sent(invitation: ChallengeInvitation, *, now: dt.datetime) -> bool:
    """Start the answer clock of an invitation being sent (once; inside the sender's transaction).
    Returns whether it was sent now."""
    if invitation.sent_at is not None:
        return False
    invitation.sent_at = now
    invitation.respond_by = invitation_deadline(invitation.challenge, now)
    invitation.save(update_fields=["sent_at", "respond_by"])
    return True


@transaction.atomic
def invitation_answer(
    *,
    invitation: ChallengeInvitation,
    actor: User,
    accept: bool,
    reason: str = "",
    note: str = "",
) -> ChallengeInvitation:
    """The invited organization accepts (and goes on to bid) or declines with one reason from
    ``DeclineReason`` (words for "其他"); a decline is told to the enterprise. Allowed while the
    challenge takes bids; an answer after the deadline is recorded, late."""
    if not user_is_member(user=actor, organization_id=invitation.organization_id):
        raise PermissionDenied
    if not accept:
        reason, note = answers.clean_decline(reason=reason, note=note)
    locked = _lock(invitation.challenge)
    _require_state(locked, S.OPEN, action=_("答复邀请"))
    invitation = (
        ChallengeInvitation.objects.select_for_update()
        .select_related("organization")
        .get(pk=invitation.pk)
    )
    invitation.challenge = locked
    if invitation.status != INV.PENDING:
        raise TransitionError(_("该邀请已答复。"))
    _answer_invitation(
        invitation, actor=actor, to=INV.ACCEPTED if accept else INV.DECLINED, reason=reason
    )
    invitation.decline_note = "" if accept else note
    invitation.save(update_fields=["decline_note"])
    if not accept:
        notify.notify_invitation_declined(invitation)
    return invitation


def _answer_invitation(
    invitation: ChallengeInvitation, *, actor: User, to: str, reason: str = ""
) -> None:
    invitation.status = to
    invitation.answered_at = timezone.now()
    invitation.answered_by = actor
    invitation.decline_reason = reason if to == INV.DECLINED else ""
    invitation.save(update_fields=["status", "answered_at", "answered_by", "decline_reason"])
    audit_record(
        actor=actor,
        action="challenge.invitation_answer",
        target=invitation.challenge,
        from_state=INV.PENDING,
        to_state=to,
        data={"organization": str(invitation.organization.uuid), "reason": reason},
    )


def invitation_accept_by_bidding(
    *, challenge: Challenge, organization: Organization, actor: User
) -> None:
    """Starting a bid answers a pending invitation of the bidding organization: accepted."""
    invitation = (
        ChallengeInvitation.objects.select_for_update()
        .select_related("organization", "challenge")
        .filter(challenge=challenge, organization=organization, status=INV.PENDING)
        .first()
    )
    if invitation is not None:
        _answer_invitation(invitation, actor=actor, to=INV.ACCEPTED)


@transaction.atomic
def bid_decline(*, bid: Bid, actor: User, reason: str, note: str = "") -> Bid:
    """The enterprise declines a counting bid during review (未入选) with one reason from
    ``DeclineReason``; the bidder is told the reason. A declined bid cannot win."""
    _require_enterprise(actor, bid.challenge)
    reason, note = answers.clean_decline(reason=reason, note=note)
    locked = _lock(bid.challenge)
    _require_state(locked, S.REVIEW, action=_("答复揭榜方案"))
    from challenges.selectors import bids_counting

    bid = bids_counting(challenge=locked).select_for_update(of=("self",)).filter(pk=bid.pk).first()
    if bid is None:
        raise ValidationError({"bid": [_("只能答复有效的揭榜方案。")]})
    if bid.outcome != Bid.Outcome.PENDING:
        raise TransitionError(_("该方案已答复。"))
    bid.outcome = Bid.Outcome.LOST
    bid.answered_at = timezone.now()
    bid.decline_reason, bid.decline_note = reason, note
    bid.save(
        update_fields=["outcome", "answered_at", "decline_reason", "decline_note", "updated_at"]
    )
    audit_record(
        actor=actor,
        action="bid.decline",
        target=bid,
        from_state=Bid.Outcome.PENDING,
        to_state=Bid.Outcome.LOST,
        data={"reason": reason},
    )
    notify.notify_bid_declined(bid)
    return bid


# --- the beat sweep ---------------------------------------------------------------------------------


def challenge_answers_sweep(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Remind invited organizations and enterprises of answers due within
    ``ANSWER_REMINDER_HOURS``, and record "no answer" on those past their deadline. Idempotent:
    each row is claimed by a filtered update only one run can win."""
    now = now or timezone.now()
    soon = answers.reminder_due_before(now)
    counts = {"reminded": 0, "no_answer": 0}

    pending_invitations = ChallengeInvitation.objects.filter(
        status=INV.PENDING, no_answer_at__isnull=True, respond_by__isnull=False
    ).exclude(challenge__status__in=(S.DRAFT, S.CANCELLED))
    due_soon = pending_invitations.filter(
        respond_by__gt=now, respond_by__lte=soon, reminded_at__isnull=True, challenge__status=S.OPEN
    )
    for pk in list(due_soon.values_list("pk", flat=True)):
        with transaction.atomic():
            if pending_invitations.filter(pk=pk, reminded_at__isnull=True).update(reminded_at=now):
                notify.notify_invitation_reminder(_invitation(pk))
                counts["reminded"] += 1
    for pk in list(pending_invitations.filter(respond_by__lte=now).values_list("pk", flat=True)):
        with transaction.atomic():
            if pending_invitations.filter(pk=pk).update(no_answer_at=now):
                invitation = _invitation(pk)
                audit_record(
                    actor=None,
                    action="challenge.invitation_no_answer",
                    target=invitation.challenge,
                    data={"organization": str(invitation.organization.uuid)},
                )
                notify.notify_invitation_no_answer(invitation)
                counts["no_answer"] += 1

    pending_bids = Bid.objects.filter(
        status=Bid.Status.SUBMITTED,
        outcome=Bid.Outcome.PENDING,
        answered_at__isnull=True,
        no_answer_at__isnull=True,
        answer_by__isnull=False,
        challenge__status=S.REVIEW,
    )
    due_soon_bids = pending_bids.filter(
        Q(answer_by__gt=now) & Q(answer_by__lte=soon), answer_reminded_at__isnull=True
    )
    for challenge_id in sorted(set(due_soon_bids.values_list("challenge_id", flat=True))):
        # One reminder per challenge, however many of its bids wait.
        with transaction.atomic():
            claimed = due_soon_bids.filter(challenge_id=challenge_id).update(answer_reminded_at=now)
            if claimed:
                challenge = Challenge.objects.select_related("organization").get(pk=challenge_id)
                notify.notify_bids_answer_reminder(
                    challenge, count=claimed, respond_by=bid_answer_deadline(challenge)
                )
                counts["reminded"] += 1
    for pk in list(pending_bids.filter(answer_by__lte=now).values_list("pk", flat=True)):
        with transaction.atomic():
            if pending_bids.filter(pk=pk).update(no_answer_at=now):
                bid = Bid.objects.select_related("challenge", "organization").get(pk=pk)
                audit_record(
                    actor=None,
                    action="bid.no_answer",
                    target=bid,
                )
                notify.notify_bid_no_answer(bid)
                counts["no_answer"] += 1
    return counts


def _invitation(pk: int) -> ChallengeInvitation:
    return ChallengeInvitation.objects.select_related(
        "challenge", "challenge__organization", "organization"
    ).get(pk=pk)
