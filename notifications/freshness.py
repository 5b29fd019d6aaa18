"""Emails about the validity of needs and results (matching.catalogue.freshness): the owning
organization's members are reminded before the last valid day, with the one-click renewal, and
told when the item expired. Called inside the transaction of the sweep; event keys are fixed per
item, validity date and event, so a second sweep never emails twice, and a renewed item gets a new
reminder before its new end."""

from __future__ import annotations

from accounts.models import Membership
from matching.models import Need
from notifications.services import absolute_url, notify

TEMPLATES = {"reminder": "listing_expiry_reminder", "expired": "listing_expired"}


def listing_expiry_notify(*, event: str, item) -> int:
    kind = "need" if isinstance(item, Need) else "result"
    members = (
        Membership.objects.filter(organization_id=item.organization_id, user__is_active=True)
        .select_related("user")
        .order_by("pk")
    )
    context = {
        "kind": kind,
        "title": item.title,
        "valid_until": item.valid_until.isoformat() if item.valid_until else "",
    }
    sent = 0
    for membership in members:
        if notify(
            event_key=f"{kind}:{item.pk}:{event}:{context['valid_until']}",
            recipient=membership.user,
            template=TEMPLATES[event],
            context=context,
            link=absolute_url(item, "renew"),
        ):
            sent += 1
    return sent
