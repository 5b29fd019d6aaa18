"""Every notification a challenge sends, in one place.

Each function is called inside the transaction of the change it reports. ``notifications.notify``
writes one outbox row per (event_key, recipient) and sends after commit, so event keys are
deterministic per event and recipient: a retried transaction never emails twice.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections.abc import Iterable, Iterator

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership, User
from matching.catalogue.visibility import NeedVisibility
from notifications import services as notification_services

_state = threading.local()


@contextlib.contextmanager
def muted() -> Iterator[None]:
    """Send nothing inside the block (demo data must not email the demo users)."""
    _state.muted = True
    try:
        yield
    finally:
        _state.muted = False


def _send(
    *,
    event_key: str,
    challenge,
    recipients: Iterable[User],
    template: str,
    context: dict,
    link: str,
) -> int:
    """One notification per recipient. The challenge's heading (title, enterprise, deadline) comes
    from the projection at that recipient's visibility, so a summary-public challenge's email
    names no enterprise to someone who may not see it."""
    if getattr(_state, "muted", False):
        return 0
    url = f"{settings.SITE_URL}{link}" if link.startswith("/") else link
    sent = 0
    for user in {u.pk: u for u in recipients}.values():
        if notification_services.notify(
            event_key=event_key,
            recipient=user,
            template=template,
            context={**_base(challenge, user), **context, "link": url},
            link=url,
        ):
            sent += 1
    return sent


def _digest(*parts) -> str:
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:12]


def _members(*org_ids: int) -> list[User]:
    return [
        m.user
        for m in Membership.objects.filter(organization_id__in=org_ids, user__is_active=True)
        .select_related("user")
        .order_by("pk")
    ]


def _base(challenge, user: User) -> dict:
    from challenges.selectors import challenge_public_fields, challenge_visibility

    # Everyone notified is a party to the challenge; the summary is the least they may see.
    visibility = max(challenge_visibility(challenge=challenge, user=user), NeedVisibility.SUMMARY)
    public = challenge_public_fields(challenge=challenge, visibility=visibility)
    return {
        "challenge_title": public.title,
        "enterprise": public.enterprise_label,
        "deadline": timezone.localtime(public.bid_deadline).strftime("%Y-%m-%d %H:%M"),
    }


def notify_invited(invitation) -> int:
    challenge = invitation.challenge
    return _send(
        challenge=challenge,
        event_key=f"challenge:{challenge.pk}:invited:{invitation.organization_id}",
        recipients=_members(invitation.organization_id),
        template="challenge_invited",
        context={
            "organization": invitation.organization.name,
            "respond_by": _when(invitation.respond_by),
        },
        link=challenge.get_absolute_url(),
    )


def notify_consortium_invite(bid, member) -> int:
    return _send(
        challenge=bid.challenge,
        # A changed role or share is a new request to confirm, hence a new event.
        event_key=f"bid:{bid.pk}:consortium:{member.organization_id}:{_digest(member.role, member.share)}",
        recipients=_members(member.organization_id),
        template="challenge_consortium_invite",
        context={
            "lead": bid.organization.name,
            "role": member.role,
            "share": str(member.share),
        },
        # Not the bid: the organization reads it only once it has confirmed, from this list.
        link=reverse("challenges:mine"),
    )


def notify_bid_deadline_reminder(challenge) -> int:
    """Bidders whose bid would not count at the deadline: drafts, unconfirmed consortium places."""
    from challenges.models import Bid, ConsortiumMember

    org_ids = set(
        Bid.objects.filter(challenge=challenge, status=Bid.Status.DRAFT).values_list(
            "organization_id", flat=True
        )
    )
    org_ids |= set(
        ConsortiumMember.objects.filter(
            bid__challenge=challenge,
            bid__status=Bid.Status.SUBMITTED,
            confirmed_at__isnull=True,
        ).values_list("organization_id", flat=True)
    )
    if not org_ids:
        return 0
    return _send(
        challenge=challenge,
        event_key=f"challenge:{challenge.pk}:deadline-reminder",
        recipients=_members(*org_ids),
        template="challenge_bid_deadline_reminder",
        context={},
        link=reverse("challenges:mine"),
    )


def notify_bidding_closed(challenge, *, count: int) -> int:
    return _send(
        challenge=challenge,
        event_key=f"challenge:{challenge.pk}:bidding-closed",
        recipients=_members(challenge.organization_id),
        template="challenge_bidding_closed",
        context={"count": count},
        link=reverse("challenges:review-manage", kwargs={"uuid": challenge.uuid}),
    )


def notify_review_assigned(assignment) -> int:
    challenge = assignment.challenge
    return _send(
        challenge=challenge,
        event_key=f"challenge:{challenge.pk}:review-assigned",
        recipients=[assignment.expert.user],
        # The notifications app's own template for an expert's review invitation.
        template="review_assigned",
        context={"title": challenge.title, "deadline": ""},
        link=assignment.get_absolute_url(),
    )


def notify_award(challenge) -> int:
    """Winners and losing bidders (every member organization of each counting bid)."""
    from challenges.models import Bid

    sent = 0
    for outcome, template in (
        (Bid.Outcome.WON, "challenge_awarded"),
        (Bid.Outcome.LOST, "challenge_not_awarded"),
    ):
        bids = Bid.objects.filter(challenge=challenge, outcome=outcome).prefetch_related("members")
        org_ids = {m.organization_id for b in bids for m in b.members.all()}
        if org_ids:
            sent += _send(
                challenge=challenge,
                event_key=f"challenge:{challenge.pk}:{'awarded' if outcome == Bid.Outcome.WON else 'not-awarded'}",
                recipients=_members(*org_ids),
                template=template,
                context={"reason": challenge.award_reason},
                link=challenge.get_absolute_url(),
            )
    return sent


def notify_milestone_submitted(cm) -> int:
    challenge = cm.contract.challenge
    return _send(
        challenge=challenge,
        event_key=f"milestone:{cm.pk}:submitted:{cm.submitted_at.isoformat()}",
        recipients=_members(challenge.organization_id),
        template="challenge_milestone_submitted",
        context={
            "milestone": cm.milestone.name,
            "bidder": cm.contract.organization.name,
        },
        link=reverse("challenges:execution", kwargs={"uuid": challenge.uuid}),
    )


def notify_milestone_decision(cm) -> int:
    challenge = cm.contract.challenge
    return _send(
        challenge=challenge,
        event_key=f"milestone:{cm.pk}:{cm.status}:{cm.decided_at.isoformat()}",
        recipients=_members(cm.contract.organization_id),
        template="challenge_milestone_decision",
        context={
            "milestone": cm.milestone.name,
            "accepted": cm.status == "accepted",
            "comment": cm.decision_comment,
        },
        link=reverse("challenges:execution", kwargs={"uuid": challenge.uuid}),
    )


def notify_milestone_overdue(cm) -> int:
    challenge = cm.contract.challenge
    return _send(
        challenge=challenge,
        event_key=f"milestone:{cm.pk}:overdue",
        recipients=_members(cm.contract.organization_id, challenge.organization_id),
        template="challenge_milestone_overdue",
        context={
            "milestone": cm.milestone.name,
            "bidder": cm.contract.organization.name,
            "due_date": cm.milestone.due_date.isoformat(),
        },
        link=reverse("challenges:execution", kwargs={"uuid": challenge.uuid}),
    )


def notify_downselect(challenge, *, keep, stopped) -> int:
    sent = _send(
        challenge=challenge,
        event_key=f"challenge:{challenge.pk}:downselect:kept",
        recipients=_members(keep.organization_id),
        template="challenge_downselected",
        context={"kept": True, "reason": challenge.downselect_reason},
        link=challenge.get_absolute_url(),
    )
    if stopped:
        sent += _send(
            challenge=challenge,
            event_key=f"challenge:{challenge.pk}:downselect:stopped",
            recipients=_members(*[c.organization_id for c in stopped]),
            template="challenge_downselected",
            context={"kept": False, "reason": challenge.downselect_reason},
            link=challenge.get_absolute_url(),
        )
    return sent


def notify_cancelled(challenge) -> int:
    from challenges.models import Bid

    org_ids = set(
        Bid.objects.filter(challenge=challenge)
        .exclude(status=Bid.Status.WITHDRAWN)
        .values_list("members__organization_id", flat=True)
    )
    org_ids |= set(challenge.invitations.values_list("organization_id", flat=True))
    org_ids.discard(None)
    if not org_ids:
        return 0
    return _send(
        challenge=challenge,
        event_key=f"challenge:{challenge.pk}:cancelled",
        recipients=_members(*org_ids),
        template="challenge_cancelled",
        context={"reason": challenge.cancel_reason},
        link=challenge.get_absolute_url(),
    )


# --- coded answers (challenges.services.answers) ------------------------------------------------------


def _bid_org_ids(bid) -> list[int]:
    """The lead and every consortium member organization of a bid."""
    return sorted({bid.organization_id, *bid.members.values_list("organization_id", flat=True)})


def _reason_context(obj) -> dict:
    return {
        "reason": obj.get_decline_reason_display() if obj.decline_reason else "",
        "note": obj.decline_note,
    }


def notify_invitation_declined(invitation) -> int:
    """The enterprise is told which invited organization declined, and why."""
    challenge = invitation.challenge
    return _send(
        challenge=challenge,
        event_key=f"invitation:{invitation.pk}:declined",
        recipients=_members(challenge.organization_id),
        template="challenge_answer_declined",
        context={"kind": "invitation", "organization": invitation.organization.name}
        | _reason_context(invitation),
        link=challenge.get_absolute_url(),
    )


def notify_bid_declined(bid) -> int:
    """The bidder (every organization of the bid) is told its bid was not selected, and why."""
    challenge = bid.challenge
    return _send(
        challenge=challenge,
        event_key=f"bid:{bid.pk}:declined",
        recipients=_members(*_bid_org_ids(bid)),
        template="challenge_answer_declined",
        context={"kind": "bid", "organization": bid.organization.name} | _reason_context(bid),
        link=bid.get_absolute_url(),
    )


def _when(value) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""


def notify_invitation_reminder(invitation) -> int:
    """The invited organization: its answer is due soon."""
    challenge = invitation.challenge
    return _send(
        challenge=challenge,
        event_key=f"invitation:{invitation.pk}:reminder",
        recipients=_members(invitation.organization_id),
        template="challenge_answer_reminder",
        context={
            "kind": "invitation",
            "organization": invitation.organization.name,
            "respond_by": _when(invitation.respond_by),
        },
        link=challenge.get_absolute_url(),
    )


def notify_bids_answer_reminder(challenge, *, count: int, respond_by) -> int:
    """The enterprise: ``count`` bids still wait for its answer, due by ``respond_by``."""
    return _send(
        challenge=challenge,
        event_key=f"challenge:{challenge.pk}:bids-answer-reminder",
        recipients=_members(challenge.organization_id),
        template="challenge_answer_reminder",
        context={
            "kind": "bid",
            "count": count,
            "respond_by": _when(respond_by),
        },
        link=reverse("challenges:bids", kwargs={"uuid": challenge.uuid}),
    )


def notify_invitation_no_answer(invitation) -> int:
    """The enterprise: the invited organization let its deadline pass."""
    challenge = invitation.challenge
    return _send(
        challenge=challenge,
        event_key=f"invitation:{invitation.pk}:no-answer",
        recipients=_members(challenge.organization_id),
        template="challenge_answer_missed",
        context={
            "kind": "invitation",
            "organization": invitation.organization.name,
            "respond_by": _when(invitation.respond_by),
        },
        link=challenge.get_absolute_url(),
    )


def notify_bid_no_answer(bid) -> int:
    """The bidder: the enterprise let its answer deadline pass (recorded on its record)."""
    challenge = bid.challenge
    return _send(
        challenge=challenge,
        event_key=f"bid:{bid.pk}:no-answer",
        recipients=_members(*_bid_org_ids(bid)),
        template="challenge_answer_missed",
        context={
            "kind": "bid",
            "organization": bid.organization.name,
            "respond_by": _when(bid.answer_by),
        },
        link=bid.get_absolute_url(),
    )
