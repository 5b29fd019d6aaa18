"""Needs: create, update (indicators in place), status, and the need form's one write."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Organization, User
from accounts.selectors import require_acts_for
from core.services import audit_record
from matching.catalogue.services.attachments import attachments_add
from matching.catalogue.services.common import (
    NEED_EDITABLE,
    NEED_FROZEN_STATUSES,
    NEED_TRANSITIONS,
    Errors,
    _add,
    _apply,
    _blank,
    _check_external_ref,
    _check_kind,
    _check_range,
    _check_trl,
    _clean_indicator_rows,
    _full_clean,
    _schedule_matching,
)
from matching.catalogue.services.freshness import check_valid_until, valid_until_on_publish
from matching.models import (
    Need,
    NeedIndicator,
)

# --- needs ----------------------------------------------------------------------------------------


def _validate_need(need: Need, errors: Errors) -> None:
    _full_clean(need, errors)
    _check_trl(need, "trl_min", errors)
    _check_range(need, "budget_min", "budget_max", errors, _("预算"))
    if need.confidentiality == Need.Confidentiality.SUMMARY and _blank(need.summary):
        _add(errors, "summary", _("选择“摘要公开”时必须填写公开摘要。"))
    _check_external_ref(need, errors)


INDICATOR_FIELDS = ("name", "operator", "target", "target_max", "unit", "position")


def _indicator_signature(rows: list[NeedIndicator]) -> list[tuple]:
    return [(r.name, r.operator, r.target, r.target_max, r.unit) for r in rows]


def _pair_indicators(
    existing: list[NeedIndicator], rows: list[NeedIndicator]
) -> list[tuple[NeedIndicator, NeedIndicator | None]]:
    """Each wanted row with the existing indicator it updates (None: a new one). A row takes the
    indicator it names by ``id``, else one with the same content, else one with the same name, else
    the first one left in order (an edited row of a form)."""
    free = {indicator.pk: indicator for indicator in existing}
    pairs: dict[int, NeedIndicator] = {}

    def claim(index: int, indicator: NeedIndicator) -> None:
        pairs[index] = free.pop(indicator.pk)

    for index, row in enumerate(rows):
        if row.requested_id in free:
            claim(index, free[row.requested_id])
    for same in (
        lambda old, row: _indicator_signature([old]) == _indicator_signature([row]),
        lambda old, row: old.name == row.name,
        lambda old, row: True,
    ):
        for index, row in enumerate(rows):
            if index not in pairs:
                match = next((old for old in free.values() if same(old, row)), None)
                if match is not None:
                    claim(index, match)
    return [(row, pairs.get(index)) for index, row in enumerate(rows)]


def _sync_indicators(need: Need, rows: list[NeedIndicator]) -> None:
    """Make the need's indicators ``rows``, in place: challenges accept against indicators and bids
    answer them by id (``challenges.BidIndicatorResponse`` protects them), so an indicator that is
    kept keeps its row; only rows no longer wanted are deleted."""
    existing = list(need.indicators.order_by("position", "id"))
    pairs = _pair_indicators(existing, rows)
    kept = {old.pk for _row, old in pairs if old is not None}
    need.indicators.exclude(pk__in=kept).delete()
    new = []
    for row, old in pairs:
        if old is None:
            row.need = need
            new.append(row)
            continue
        changed = [f for f in INDICATOR_FIELDS if getattr(old, f) != getattr(row, f)]
        if changed:
            for f in changed:
                setattr(old, f, getattr(row, f))
            old.save(update_fields=changed)
    NeedIndicator.objects.bulk_create(new)


def _indicators_frozen(need: Need) -> bool:
    """Whether a challenge built from the need holds its indicators: one that left its draft and
    was not cancelled accepts against them, and any bid answers them. Read through the reverse
    relation: the catalogue does not import ``challenges`` (challenges consume the catalogue)."""
    return need.challenges.filter(
        Q(bids__isnull=False) | ~Q(status__in=("draft", "cancelled"))
    ).exists()


@transaction.atomic
def need_create(
    *,
    actor: User,
    organization: Organization,
    data: dict,
    indicators: list[dict] | None = None,
) -> Need:
    """A draft need of ``organization`` (an enterprise) written by one of its members."""
    require_acts_for(user=actor, org=organization)
    errors: Errors = {}
    _check_kind(
        organization,
        Organization.Kind.ENTERPRISE,
        errors,
        _("只有企业可以发布技术需求。"),
    )
    need = Need(organization=organization, created_by=actor, status=Need.Status.DRAFT)
    check_valid_until(need, _apply(need, data, NEED_EDITABLE, errors), errors)
    rows, row_errors = _clean_indicator_rows(indicators or [])
    if row_errors:
        _add(errors, "indicators", row_errors)
    _validate_need(need, errors)
    if errors:
        raise ValidationError(errors)
    need.save()
    _sync_indicators(need, rows)
    audit_record(actor=actor, action="need.create", target=need, to_state=need.status)
    return need


@transaction.atomic
def need_update(
    *, need: Need, actor: User, data: dict, indicators: list[dict] | None = None
) -> Need:
    """Change the given fields; ``indicators`` None keeps them, a list is the new list: indicators
    are matched to the rows (by ``id``, content, name, then order) and updated in place. Once a
    challenge holds them (``_indicators_frozen``) they may be re-sent unchanged, not changed."""
    require_acts_for(user=actor, org=need.organization)
    need = Need.objects.select_for_update().select_related("organization").get(pk=need.pk)
    errors: Errors = {}
    if need.status in NEED_FROZEN_STATUSES:
        raise ValidationError({"status": [_("已关闭或已撤回的需求不能再编辑。")]})
    changed = _apply(need, data, NEED_EDITABLE, errors)
    check_valid_until(need, changed, errors)
    rows: list[NeedIndicator] = []
    if indicators is not None:
        rows, row_errors = _clean_indicator_rows(indicators)
        existing = list(need.indicators.order_by("position", "id"))
        if row_errors:
            _add(errors, "indicators", row_errors)
        elif _indicator_signature(rows) != _indicator_signature(existing):
            if _indicators_frozen(need):
                _add(errors, "indicators", _("已有榜单的需求不能修改技术指标。"))
            changed.append("indicators")
    _validate_need(need, errors)
    if errors:
        raise ValidationError(errors)
    need.save()
    if "indicators" in changed:
        _sync_indicators(need, rows)
    if changed:
        audit_record(actor=actor, action="need.update", target=need, data={"fields": changed})
        if need.status != Need.Status.DRAFT:
            _schedule_matching("need", need.pk)
    return need


@transaction.atomic
def need_set_status(*, need: Need, actor: User, to_status: str, reason: str = "") -> Need:
    """The one way a need changes status: checks the transition (and, to publish, that the
    organization is verified), audits who/when/from/to/why, and re-runs matching after commit."""
    require_acts_for(user=actor, org=need.organization)
    locked = Need.objects.select_for_update().select_related("organization").get(pk=need.pk)
    from_status = locked.status
    if to_status not in Need.Status.values:
        raise ValidationError({"status": [_("未知的状态“%(value)s”。") % {"value": to_status}]})
    if to_status not in NEED_TRANSITIONS[from_status]:
        raise ValidationError(
            {
                "status": [
                    _("需求不能从“%(from)s”变为“%(to)s”。")
                    % {"from": Need.Status(from_status).label, "to": Need.Status(to_status).label}
                ]
            }
        )
    update_fields = ["status", "updated_at"]
    if to_status == Need.Status.PUBLISHED:
        if not locked.organization.is_verified:
            raise ValidationError(
                {"organization": [_("机构尚未通过平台认证，认证后才能发布需求。")]}
            )
        if from_status == Need.Status.DRAFT or locked.published_at is None:
            locked.published_at = timezone.now()
            update_fields.append("published_at")
        if valid_until_on_publish(locked):
            update_fields += ["valid_until", "expiry_reminded_at"]
    locked.status = to_status
    locked.save(update_fields=update_fields)
    audit_record(
        actor=actor,
        action="need.status",
        target=locked,
        from_state=from_status,
        to_state=to_status,
        reason=reason.strip(),
    )
    _schedule_matching("need", locked.pk)
    need.status, need.published_at, need.updated_at, need.valid_until = (
        locked.status,
        locked.published_at,
        locked.updated_at,
        locked.valid_until,
    )
    return locked


def need_publish(*, need: Need, actor: User) -> Need:
    return need_set_status(need=need, actor=actor, to_status=Need.Status.PUBLISHED)


def need_withdraw(*, need: Need, actor: User, reason: str = "") -> Need:
    return need_set_status(need=need, actor=actor, to_status=Need.Status.WITHDRAWN, reason=reason)


def need_close(*, need: Need, actor: User, reason: str = "") -> Need:
    return need_set_status(need=need, actor=actor, to_status=Need.Status.CLOSED, reason=reason)


@transaction.atomic
def need_save(
    *,
    need: Need | None,
    actor: User,
    organization: Organization,
    data: dict,
    indicators: list[dict] | None,
    uploads: Iterable[UploadedFile] = (),
) -> Need:
    """The need form's one write: create (``need`` None) or update the need with its indicators,
    and add the uploaded attachments, all or nothing."""
    if need is None:
        need = need_create(actor=actor, organization=organization, data=data, indicators=indicators)
    else:
        need = need_update(need=need, actor=actor, data=data, indicators=indicators)
    attachments_add(owner=need, actor=actor, uploads=uploads)
    return need
