"""Reads of notifications and preferences."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import QuerySet

from notifications.models import Notification, NotificationPreference


def preference_for_user(*, user) -> NotificationPreference:
    """The user's preferences; an unsaved default (immediate, every score, every field) if none."""
    try:
        return NotificationPreference.objects.prefetch_related("fields").get(user=user)
    except NotificationPreference.DoesNotExist:
        return NotificationPreference(user=user)


def preferences_for_users(*, user_ids: Iterable[int]) -> dict[int, NotificationPreference]:
    """Preferences by user id, with ``fields`` prefetched; users without a row are absent."""
    rows = NotificationPreference.objects.filter(user_id__in=set(user_ids)).prefetch_related(
        "fields"
    )
    return {row.user_id: row for row in rows}


def notification_list_for_user(*, user, limit: int = 50) -> QuerySet[Notification]:
    """The user's recent notifications for the notification centre; digest container rows (their
    items are listed) and cancelled rows are left out."""
    return (
        Notification.objects.filter(recipient=user)
        .exclude(template=Notification.DIGEST_TEMPLATE)
        .exclude(status=Notification.Status.CANCELLED)
        .order_by("-created_at")[:limit]
    )


def notification_centre_entries(*, user, limit: int = 50) -> list[dict]:
    """The notification centre: recent rows with their subject in the active language. Rows about
    a need the user may no longer see (at the level they were written for) are left out, and so
    are cancelled rows."""
    from matching.catalogue.visibility import need_visibility
    from matching.models import Need
    from notifications.emails import render_subject

    rows = list(notification_list_for_user(user=user, limit=limit))
    need_ids = {
        (row.context or {}).get("guard", {}).get("need_id")
        for row in rows
        if (row.context or {}).get("guard")
    }
    needs = {need.pk: need for need in Need.objects.filter(pk__in=need_ids)}
    visibility = {pk: need_visibility(need=need, user=user) for pk, need in needs.items()}
    entries = []
    for row in rows:
        row.recipient = user
        guard = (row.context or {}).get("guard")
        if guard:
            need_id = guard.get("need_id")
            if need_id not in visibility or visibility[need_id] < int(guard.get("visibility", 2)):
                continue
            if (
                row.template == "match_candidate"
                and needs[need_id].confidentiality == Need.Confidentiality.PRIVATE
            ):
                continue
        try:
            subject = render_subject(row)
        except Exception:  # noqa: BLE001 - a broken template must not break the page
            subject = row.template
        entries.append({"notification": row, "subject": subject})
    return entries
