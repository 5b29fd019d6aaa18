"""Emails about coded answers to access requests (matching.catalogue.answers): the requester is
told a decline with its reason and a missed deadline; the enterprise is reminded before the
deadline. Called inside the transaction of the change; event keys are fixed per event and
recipient, so a retried transaction or a second sweep never emails twice."""

from __future__ import annotations

from accounts.models import Membership
from matching.catalogue.visibility import NeedVisibility
from notifications.services import absolute_url, notify

TEMPLATES = {
    "declined": "access_declined",
    "reminder": "access_answer_reminder",
    "no_answer": "access_no_answer",
}


def _members(org_id: int):
    return [
        m.user
        for m in Membership.objects.filter(organization_id=org_id, user__is_active=True)
        .select_related("user")
        .order_by("pk")
    ]


def access_answer_notify(*, event: str, access) -> int:
    need = access.need
    if event == "reminder":
        recipients = _members(need.organization_id)
        link = absolute_url(need, "accesses")
        guard = None
    else:
        recipients = _members(access.organization_id)
        link = absolute_url(need)
        # The requester sees the need's title and summary; check again at send time.
        guard = {"need_id": need.pk, "visibility": int(NeedVisibility.SUMMARY)}
    context = {
        "need_title": need.title,
        "organization": access.organization.name,
        "reason": access.get_decline_reason_display() if access.decline_reason else "",
        "note": access.decline_note,
        "respond_by": access.respond_by.isoformat() if access.respond_by else "",
    }
    if guard:
        context["guard"] = guard
    sent = 0
    for user in recipients:
        if notify(
            event_key=f"access:{access.pk}:{event}:{access.decided_at or access.respond_by}",
            recipient=user,
            template=TEMPLATES[event],
            context=context,
            link=link,
        ):
            sent += 1
    return sent
