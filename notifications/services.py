"""Writes of the notifications app: outbox rows for events, match notifications, preferences.

Every email is one ``Notification`` row created in the transaction of the event (unique on
``(event_key, recipient)``); immediate rows are handed to Celery after that transaction commits,
digest rows wait for ``notifications.digests``. Rows carry JSON data only and are rendered at send
time in the recipient's language (``notifications.emails``).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from accounts.models import Membership, User
from core.services import audit_record
from matching.catalogue.projections import explanation_for_viewer, need_shows
from matching.catalogue.visibility import NeedVisibility, need_visibility
from matching.matcher import calibration
from matching.models import Match, Need
from notifications.emails import message_id_for
from notifications.models import MatchNotice, Notification, NotificationPreference
from notifications.selectors import preference_for_user, preferences_for_users

logger = logging.getLogger(__name__)

# Templates under notifications/templates/notifications/email/.
TEMPLATE_MATCH_FOR_NEED = "match_need"  # to the enterprise: results/labs matched to its need
TEMPLATE_MATCH_FOR_CANDIDATE = "match_candidate"  # to the lab: a need matched to its result/profile
TEMPLATE_REVIEW_ASSIGNED = "review_assigned"  # to an expert: a review was assigned

MATCH_ANCHOR = "matches"


# --- The outbox -------------------------------------------------------------------------------------


def _enqueue_send(notification_id: int) -> None:
    from notifications.tasks import notification_send

    notification_send.delay(notification_id)


def enqueue_on_commit(notification_id: int) -> None:
    """Hand a row to the worker once the current transaction commits. ``robust``: a broker outage
    must not fail the event's request; the row stays pending and ``outbox_sweep`` picks it up."""
    transaction.on_commit(partial(_enqueue_send, notification_id), robust=True)


def _outbox_create(
    *,
    event_key: str,
    recipient: User,
    template: str,
    context: dict,
    link: str,
    status: str,
) -> Notification | None:
    # Fail in the caller's transaction, not in the worker, when the data is not JSON.
    json.dumps(context)
    row = Notification(
        event_key=event_key,
        recipient=recipient,
        template=template,
        context=context,
        link=link,
        status=status,
        next_attempt_at=timezone.now() if status == Notification.Status.PENDING else None,
    )
    row.message_id = message_id_for(row)
    try:
        with transaction.atomic():
            row.save(force_insert=True)
    except IntegrityError:
        if Notification.objects.filter(event_key=event_key, recipient=recipient).exists():
            return None  # this event was already recorded for this recipient
        raise
    if status == Notification.Status.PENDING:
        enqueue_on_commit(row.pk)
    return row


def _status_for(preference: NotificationPreference, recipient: User) -> str | None:
    """The new row's status under the recipient's preferences; None: send nothing."""
    if not recipient.is_active or not recipient.email:
        return None
    if preference.frequency == NotificationPreference.Frequency.NONE:
        return None
    if preference.frequency in NotificationPreference.DIGEST_FREQUENCIES:
        return Notification.Status.HELD_FOR_DIGEST
    return Notification.Status.PENDING


def notify(
    *, event_key: str, recipient: User, template: str, context: dict, link: str = ""
) -> Notification | None:
    """Call inside the transaction of the event. Creates one outbox row unique on
    ``(event_key, recipient)`` (a second call with the same pair is a no-op returning None),
    honouring the recipient's preferences (quiet → nothing; digest → held for the digest;
    immediate → sent after commit). Inactive recipients and users without an address get nothing.

    ``template`` names ``notifications/email/<template>.subject.txt``, ``.txt`` and ``.html`` (a name
    containing "/" is used as the path prefix as is). ``context`` must be JSON-serialisable; templates
    also get ``recipient``, ``link``, ``site_url``, ``unsubscribe_url`` and ``preferences_url``.
    A ``context["guard"] = {"need_id": …, "visibility": int(NeedVisibility)}`` makes the sender
    re-check, at send time, that the recipient may still see that need at that level.
    """
    status = _status_for(preference_for_user(user=recipient), recipient)
    if status is None:
        return None
    return _outbox_create(
        event_key=event_key,
        recipient=recipient,
        template=template,
        context=context,
        link=link,
        status=status,
    )


# --- Match notifications --------------------------------------------------------------------------


def absolute_url(obj, anchor: str = "") -> str:
    """``settings.SITE_URL`` + the object's URL (+ ``#anchor``); the notification centre when the
    object has no page yet."""
    try:
        path = obj.get_absolute_url()
    except NoReverseMatch:
        logger.warning("no URL for %s %s; linking the notification centre", type(obj).__name__, obj)
        path, anchor = reverse("notifications:center"), ""
    return f"{settings.SITE_URL}{path}" + (f"#{anchor}" if anchor else "")


def _field_ids(fields: Iterable) -> set[int]:
    """A field and its parent: a preference for a top-level field covers its sub-fields."""
    ids: set[int] = set()
    for field in fields:
        ids.add(field.pk)
        if field.parent_id:
            ids.add(field.parent_id)
    return ids


def _wants(preference: NotificationPreference, *, match: Match, fields: Iterable) -> bool:
    """Whether this user wants an email about ``match``: strong enough (the calibrated threshold of
    its model, ``matching.matcher.calibration.alert_threshold``, and the user's own minimum) and in a field
    the user follows."""
    threshold = max(calibration.alert_threshold(match.model_version), preference.min_score)
    if match.score < threshold:
        return False
    wanted = {field.pk for field in preference.fields.all()} if preference.pk else set()
    return not wanted or bool(wanted & _field_ids(fields))


def _candidate_fields(match: Match) -> list:
    if match.result_id:
        return [match.result.field]
    return list(match.capability.fields.all())


def _explanation(match: Match, visibility: NeedVisibility) -> dict:
    """The match's reasons as far as the recipient may read the need
    (``matching.catalogue.projections.explanation_for_viewer``), trimmed for an email."""
    shown = explanation_for_viewer(match.explanation, visibility)
    return {
        "shared_terms": [str(term) for term in shown["shared_terms"]][:8],
        "fit": [{"text": str(i.get("text", "")), "ok": bool(i.get("ok"))} for i in shown["fit"]][
            :6
        ],
        "evidence": [
            {"candidate": str(e.get("candidate", "")), "need": str(e.get("need", ""))}
            for e in shown["evidence"]
        ][:3],
    }


def _match_item(match: Match, visibility: NeedVisibility) -> dict:
    candidate = match.candidate
    return {
        "id": match.pk,
        "kind": "result" if match.result_id else "capability",
        "title": candidate.title,
        "organization": candidate.organization.name,
        "score": round(float(match.score), 3),
        "url": absolute_url(candidate, MATCH_ANCHOR),
        "explanation": _explanation(match, visibility),
    }


def _need_data(need: Need, visibility: NeedVisibility) -> dict:
    """What the email may say about the need: title, field and public summary only, unless the
    recipient sees the need in full."""
    data = {
        "id": need.pk,
        "uuid": str(need.uuid),
        "title": need.title,
        "field": str(need.field),
        "summary": need.summary,
        "url": absolute_url(need),
    }
    if need_shows(visibility, "organization"):
        data["organization"] = need.organization.name
    if need_shows(visibility, "description"):
        data["description"] = need.description[:600]
    return data


def _event_key(prefix: str, matches: Sequence[Match]) -> str:
    ids = ",".join(str(pk) for pk in sorted(match.pk for match in matches))
    return f"{prefix}:{hashlib.sha256(ids.encode()).hexdigest()[:24]}"


def _match_notification_create(
    *,
    recipient: User,
    preference: NotificationPreference,
    event_prefix: str,
    template: str,
    need: Need,
    visibility: NeedVisibility,
    matches: list[Match],
    link_anchor_obj,
) -> Notification | None:
    status = _status_for(preference, recipient)
    if status is None:
        return None
    matches = sorted(matches, key=lambda m: -m.score)
    shown = matches[: settings.NOTIFICATION_MATCHES_PER_EMAIL]
    context = {
        "need": _need_data(need, visibility),
        "visibility": int(visibility),
        "matches": [_match_item(match, visibility) for match in shown],
        "more": len(matches) - len(shown),
        "guard": {"need_id": need.pk, "visibility": int(visibility)},
    }
    row = _outbox_create(
        event_key=_event_key(event_prefix, matches),
        recipient=recipient,
        template=template,
        context=context,
        link=absolute_url(link_anchor_obj or shown[0].candidate, MATCH_ANCHOR),
        status=status,
    )
    if row is not None:
        MatchNotice.objects.bulk_create(
            [MatchNotice(match=match, recipient=recipient, notification=row) for match in matches]
        )
    return row


def match_notifications_create(*, matches: Sequence[Match]) -> int:
    """Called by the matcher inside the transaction that stores new matches (the lead's matching
    pipeline calls it with the matches that are new or newly above threshold). Decides recipients:
    the need's enterprise members (new result / lab matched to their need, above their threshold)
    and, where allowed, the result's / capability's organization members (a need they may see:
    need_visibility >= SUMMARY for that user; NEVER for private needs; SUMMARY → only title,
    field and public summary in the email). Returns the number of outbox rows created.

    A match is announced to a user once (``MatchNotice``), so calling this again with the same
    matches creates nothing. One email per need for the enterprise, one per (need, lab) for a lab.
    """
    if not matches:
        return 0
    matches = list(
        Match.objects.filter(
            pk__in=[match.pk for match in matches], need__status__in=Need.OPEN_STATUSES
        )
        .select_related(
            "need",
            "need__organization",
            "need__field",
            "need__field__parent",
            "result",
            "result__organization",
            "result__field",
            "capability",
            "capability__organization",
        )
        .prefetch_related("capability__fields")
    )
    if not matches:
        return 0

    def org_of(match: Match) -> int:
        return match.candidate.organization_id

    org_ids = {m.need.organization_id for m in matches} | {org_of(m) for m in matches}
    members: dict[int, list[User]] = defaultdict(list)
    for membership in Membership.objects.filter(
        organization_id__in=org_ids, user__is_active=True
    ).select_related("user"):
        members[membership.organization_id].append(membership.user)
    user_ids = {user.pk for users in members.values() for user in users}
    preferences = preferences_for_users(user_ids=user_ids)
    noticed = set(
        MatchNotice.objects.filter(
            match_id__in=[m.pk for m in matches], recipient_id__in=user_ids
        ).values_list("match_id", "recipient_id")
    )

    def preference_of(user: User) -> NotificationPreference:
        return preferences.get(user.pk) or NotificationPreference(user=user)

    created = 0

    # The enterprise: one email per need listing the new candidates each member wants to hear of.
    by_need: dict[int, list[Match]] = defaultdict(list)
    for match in matches:
        by_need[match.need_id].append(match)
    for need_matches in by_need.values():
        need = need_matches[0].need
        for user in members[need.organization_id]:
            preference = preference_of(user)
            wanted = [
                m
                for m in need_matches
                if (m.pk, user.pk) not in noticed
                and _wants(preference, match=m, fields=_candidate_fields(m))
            ]
            if wanted and _match_notification_create(
                recipient=user,
                preference=preference,
                event_prefix=f"match.need:{need.pk}",
                template=TEMPLATE_MATCH_FOR_NEED,
                need=need,
                visibility=NeedVisibility.FULL,
                matches=wanted,
                link_anchor_obj=need,
            ):
                created += 1

    # The lab: one email per (need, lab) listing its results/profiles the need matched, only for
    # needs the member may see, and never for private needs.
    by_need_and_org: dict[tuple[int, int], list[Match]] = defaultdict(list)
    for match in matches:
        if match.need.confidentiality == Need.Confidentiality.PRIVATE:
            continue
        by_need_and_org[(match.need_id, org_of(match))].append(match)
    for (_need_id, org_id), pair_matches in by_need_and_org.items():
        need = pair_matches[0].need
        for user in members[org_id]:
            if need.organization_id == org_id:
                continue  # its own need: already told as the enterprise
            visibility = need_visibility(need=need, user=user)
            if visibility < NeedVisibility.SUMMARY:
                continue
            preference = preference_of(user)
            wanted = [
                m
                for m in pair_matches
                if (m.pk, user.pk) not in noticed
                and _wants(preference, match=m, fields=[need.field])
            ]
            if wanted and _match_notification_create(
                recipient=user,
                preference=preference,
                event_prefix=f"match.lab:{need.pk}:{org_id}",
                template=TEMPLATE_MATCH_FOR_CANDIDATE,
                need=need,
                visibility=visibility,
                matches=wanted,
                link_anchor_obj=None,
            ):
                created += 1
    return created


# --- Preferences -----------------------------------------------------------------------------------


def _release_held(*, user: User) -> None:
    """Rows held for a digest that has not been built go out now (the user chose immediate)."""
    ids = list(
        Notification.objects.filter(
            recipient=user, status=Notification.Status.HELD_FOR_DIGEST, digest__isnull=True
        ).values_list("pk", flat=True)
    )
    Notification.objects.filter(pk__in=ids).update(
        status=Notification.Status.PENDING, next_attempt_at=timezone.now()
    )
    for pk in ids:
        enqueue_on_commit(pk)


def _cancel_unsent(*, user: User, reason: str) -> int:
    return Notification.objects.filter(
        recipient=user,
        status__in=[Notification.Status.PENDING, Notification.Status.HELD_FOR_DIGEST],
    ).update(status=Notification.Status.CANCELLED, last_error=reason, next_attempt_at=None)


@transaction.atomic
def preference_update(
    *,
    user: User,
    frequency: str | None = None,
    min_score: float | None = None,
    fields: Iterable | None = None,
) -> NotificationPreference:
    """Change the user's preferences. Switching to immediate releases held rows; switching to none
    cancels what has not been sent."""
    preference, _created = NotificationPreference.objects.select_for_update().get_or_create(
        user=user
    )
    previous = preference.frequency
    if frequency is not None:
        preference.frequency = frequency
    if min_score is not None:
        preference.min_score = min_score
    if preference.frequency != NotificationPreference.Frequency.NONE:
        preference.unsubscribed_at = None
    preference.full_clean(exclude=["user"])
    preference.save()
    if fields is not None:
        preference.fields.set(fields)
    if previous != preference.frequency:
        if preference.frequency in NotificationPreference.DIGEST_FREQUENCIES:
            # The first digest comes at the next digest time, not right away.
            preference.last_digest_at = timezone.now()
            preference.save(update_fields=["last_digest_at", "updated_at"])
        if preference.frequency == NotificationPreference.Frequency.IMMEDIATE:
            _release_held(user=user)
        elif preference.frequency == NotificationPreference.Frequency.NONE:
            _cancel_unsent(user=user, reason="quiet")
    return preference


@transaction.atomic
def preference_unsubscribe(*, user: User) -> NotificationPreference:
    """Stop every notification email to ``user`` (the one-click unsubscribe link)."""
    preference, _created = NotificationPreference.objects.select_for_update().get_or_create(
        user=user
    )
    if preference.frequency != NotificationPreference.Frequency.NONE:
        previous = preference.frequency
        preference.frequency = NotificationPreference.Frequency.NONE
        preference.unsubscribed_at = timezone.now()
        preference.save(update_fields=["frequency", "unsubscribed_at", "updated_at"])
        _cancel_unsent(user=user, reason="unsubscribed")
        audit_record(
            actor=user,
            action="notifications.unsubscribe",
            target=preference,
            from_state=previous,
            to_state=preference.frequency,
        )
    return preference


# --- Staff -----------------------------------------------------------------------------------------


def notifications_requeue(*, ids: Iterable[int]) -> int:
    """Staff: send failed or cancelled rows again (e.g. after a template was fixed)."""
    with transaction.atomic():
        rows = list(
            Notification.objects.filter(
                pk__in=list(ids),
                status__in=[Notification.Status.FAILED, Notification.Status.CANCELLED],
            ).values_list("pk", flat=True)
        )
        Notification.objects.filter(pk__in=rows).update(
            status=Notification.Status.PENDING,
            attempts=0,
            last_error="",
            claimed_at=None,
            next_attempt_at=timezone.now(),
        )
        for pk in rows:
            enqueue_on_commit(pk)
    return len(rows)


# --- Digests --------------------------------------------------------------------------------------


def digest_boundary(*, frequency: str, now: datetime) -> datetime:
    """The latest digest time at or before ``now``: today's (or yesterday's) NOTIFICATION_DIGEST_HOUR
    for daily digests, that hour on the latest Monday for weekly ones (local time)."""
    local = timezone.localtime(now)
    boundary = local.replace(
        hour=settings.NOTIFICATION_DIGEST_HOUR, minute=0, second=0, microsecond=0
    )
    if boundary > local:
        boundary -= timedelta(days=1)
    if frequency == NotificationPreference.Frequency.WEEKLY:
        boundary -= timedelta(days=boundary.weekday())
    return boundary


def _digest_build_for_user(*, user_id: int, frequency: str, now: datetime) -> Notification | None:
    boundary = digest_boundary(frequency=frequency, now=now)
    with transaction.atomic():
        preference = (
            NotificationPreference.objects.select_for_update()
            .select_related("user")
            .filter(user_id=user_id, frequency=frequency)
            .first()
        )
        if preference is None or (
            preference.last_digest_at and preference.last_digest_at >= boundary
        ):
            return None
        items = list(
            Notification.objects.select_for_update()
            .filter(
                recipient_id=user_id,
                status=Notification.Status.HELD_FOR_DIGEST,
                digest__isnull=True,
            )
            .order_by("created_at", "pk")
        )
        if not items:
            return None
        digest = _outbox_create(
            event_key=f"digest:{frequency}:{items[0].pk}-{items[-1].pk}",
            recipient=preference.user,
            template=Notification.DIGEST_TEMPLATE,
            context={
                "frequency": frequency,
                "count": len(items),
                "since": preference.last_digest_at.isoformat()
                if preference.last_digest_at
                else None,
            },
            link=f"{settings.SITE_URL}{reverse('notifications:center')}",
            status=Notification.Status.PENDING,
        )
        if digest is None:
            return None
        Notification.objects.filter(pk__in=[item.pk for item in items]).update(
            digest=digest, updated_at=now
        )
        preference.last_digest_at = now
        preference.save(update_fields=["last_digest_at", "updated_at"])
    return digest


def digests_build(*, frequency: str | None = None, now: datetime | None = None) -> int:
    """Group every held row of each user whose digest is due into one digest email (one
    transaction per user). Safe to run any number of times: a user's rows join one digest only, and
    a user gets one digest per period. Returns the number of digests created."""
    now = now or timezone.now()
    frequencies = [frequency] if frequency else list(NotificationPreference.DIGEST_FREQUENCIES)
    created = 0
    for freq in frequencies:
        boundary = digest_boundary(frequency=freq, now=now)
        due_users = (
            NotificationPreference.objects.filter(frequency=freq)
            .filter(Q(last_digest_at__isnull=True) | Q(last_digest_at__lt=boundary))
            .values("user_id")
        )
        user_ids = (
            Notification.objects.filter(
                status=Notification.Status.HELD_FOR_DIGEST,
                digest__isnull=True,
                recipient_id__in=due_users,
            )
            .values_list("recipient_id", flat=True)
            .distinct()
        )
        for user_id in list(user_ids):
            if _digest_build_for_user(user_id=user_id, frequency=freq, now=now):
                created += 1
    return created
