"""Fresh listings (rules in ``matching.catalogue.freshness``): the validity date set at
publication, the one-click renewal, and the beat sweep that reminds owners before the end and marks
expired items. Expired items keep their rows; their status takes them out of matching (the
matcher's status filters) and public lists (``LISTED_STATUSES`` / published-only queries)."""

from __future__ import annotations

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.selectors import require_acts_for
from core.services import audit_record
from matching.catalogue import freshness
from matching.catalogue.services.common import Errors, _add, _schedule_matching
from matching.models import Need, Result

# The statuses that age: a need held by a running challenge, or already matched, does not expire.
_MODELS = {"need": Need, "result": Result}


def check_valid_until(obj, changed: list[str], errors: Errors) -> None:
    """A validity date set by the owner lies in the future (today counts: valid through today)."""
    if "valid_until" not in changed or not obj.valid_until:
        return
    try:
        obj.valid_until = obj._meta.get_field("valid_until").to_python(obj.valid_until)
    except ValidationError:
        return  # reported by the model validation
    if obj.valid_until < timezone.localdate():
        _add(errors, "valid_until", _("有效期不能早于今天。"))


def valid_until_on_publish(obj) -> bool:
    """Give an item being published its default validity if it has none (or one already past).
    Returns whether ``valid_until`` changed (the caller saves it)."""
    today = timezone.localdate()
    if obj.valid_until is None or obj.valid_until < today:
        obj.valid_until = freshness.default_valid_until(today)
        obj.expiry_reminded_at = None
        return True
    return False


def _renew(kind: str, obj, actor: User):
    model = _MODELS[kind]
    require_acts_for(user=actor, org=obj.organization)
    locked = model.objects.select_for_update().select_related("organization").get(pk=obj.pk)
    from_status = locked.status
    if from_status not in (model.Status.PUBLISHED, model.Status.EXPIRED):
        raise ValidationError({"status": [_("只有已发布或已过期的条目可以续期。")]})
    if from_status == model.Status.EXPIRED and not locked.organization.is_verified:
        raise ValidationError({"organization": [_("机构尚未通过平台认证，认证后才能续期。")]})
    today = timezone.localdate()
    old = locked.valid_until
    locked.valid_until = freshness.default_valid_until(today)
    locked.expiry_reminded_at = None
    locked.status = model.Status.PUBLISHED
    locked.save(update_fields=["valid_until", "expiry_reminded_at", "status", "updated_at"])
    audit_record(
        actor=actor,
        action=f"{kind}.renew",
        target=locked,
        from_state=from_status,
        to_state=locked.status,
        data={"valid_until": [old.isoformat() if old else "", locked.valid_until.isoformat()]},
    )
    if from_status == model.Status.EXPIRED:
        _schedule_matching(kind, locked.pk)
    obj.status, obj.valid_until, obj.expiry_reminded_at = (
        locked.status,
        locked.valid_until,
        None,
    )
    return locked


@transaction.atomic
def need_renew(*, need: Need, actor: User) -> Need:
    """One click: the need is valid for another ``LISTING_VALIDITY_MONTHS`` from today; an expired
    one is published again and re-enters matching."""
    return _renew("need", need, actor)


@transaction.atomic
def result_renew(*, result: Result, actor: User) -> Result:
    """As ``need_renew``, for a research result."""
    return _renew("result", result, actor)


def _sweep_kind(kind: str, today: dt.date, now: dt.datetime, counts: dict[str, int]) -> None:
    model = _MODELS[kind]
    published = model.objects.filter(status=model.Status.PUBLISHED, valid_until__isnull=False)
    due_soon = published.filter(
        valid_until__gte=today,
        valid_until__lte=freshness.reminder_due_on_or_before(today),
        expiry_reminded_at__isnull=True,
    )
    for pk in list(due_soon.values_list("pk", flat=True)):
        with transaction.atomic():
            # Claimed by a filtered update only one run can win: one reminder per validity period.
            if (
                published.filter(pk=pk, expiry_reminded_at__isnull=True).update(
                    expiry_reminded_at=now
                )
                != 1
            ):
                continue
            item = model.objects.select_related("organization").get(pk=pk)
            freshness.announce(event="reminder", item=item)
            counts[f"{kind}_reminded"] += 1
    for pk in list(published.filter(valid_until__lt=today).values_list("pk", flat=True)):
        with transaction.atomic():
            if (
                published.filter(pk=pk, valid_until__lt=today).update(
                    status=model.Status.EXPIRED, updated_at=now
                )
                != 1
            ):
                continue
            item = model.objects.select_related("organization").get(pk=pk)
            audit_record(
                actor=None,
                action=f"{kind}.expire",
                target=item,
                from_state=model.Status.PUBLISHED,
                to_state=model.Status.EXPIRED,
                data={"valid_until": item.valid_until.isoformat()},
            )
            freshness.announce(event="expired", item=item)
            # Out of the index and its matches removed (the pipeline drops unmatchable objects).
            _schedule_matching(kind, pk)
            counts[f"{kind}_expired"] += 1


def listings_expiry_sweep(*, now: dt.datetime | None = None) -> dict[str, int]:
    """Remind owners of published needs and results valid for at most
    ``LISTING_EXPIRY_REMINDER_DAYS`` more days, and mark those past their last valid day expired.
    Idempotent: each reminder and each expiry is claimed by a filtered update, so a second run
    (or two concurrent ones) sends nothing twice."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    counts = {
        "need_reminded": 0,
        "need_expired": 0,
        "result_reminded": 0,
        "result_expired": 0,
    }
    for kind in _MODELS:
        _sweep_kind(kind, today, now, counts)
    return counts
