"""Research results: create, update (patents), status, and the result form's one write."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Organization, User
from accounts.selectors import require_acts_for
from core.services import audit_record
from matching.catalogue.services.attachments import attachments_add
from matching.catalogue.services.common import (
    RESULT_EDITABLE,
    RESULT_TRANSITIONS,
    Errors,
    _add,
    _apply,
    _check_external_ref,
    _check_kind,
    _check_range,
    _check_trl,
    _clean_patent_rows,
    _full_clean,
    _schedule_matching,
)
from matching.catalogue.services.freshness import check_valid_until, valid_until_on_publish
from matching.models import (
    Patent,
    Result,
)

# --- results --------------------------------------------------------------------------------------


def _validate_result(result: Result, errors: Errors) -> None:
    _full_clean(result, errors)
    _check_trl(result, "trl", errors)
    _check_range(result, "price_min", "price_max", errors, _("意向价格"))
    for name in ("keywords", "application_fields"):
        if name not in errors and any(
            len(item) > (32 if name == "keywords" else 64) for item in getattr(result, name)
        ):
            _add(errors, name, _("单项过长。"))
    _check_external_ref(result, errors)


def _replace_patents(result: Result, patents: list[Patent]) -> None:
    result.patents.all().delete()
    for patent in patents:
        patent.result = result
    Patent.objects.bulk_create(patents)


@transaction.atomic
def result_create(
    *,
    actor: User,
    organization: Organization,
    data: dict,
    patents: list[dict] | None = None,
) -> Result:
    """A draft research result of ``organization`` (a university or institute)."""
    require_acts_for(user=actor, org=organization)
    errors: Errors = {}
    _check_kind(
        organization,
        Organization.Kind.INSTITUTION,
        errors,
        _("只有高校、科研院所可以发布科技成果。"),
    )
    result = Result(organization=organization, created_by=actor, status=Result.Status.DRAFT)
    check_valid_until(result, _apply(result, data, RESULT_EDITABLE, errors), errors)
    rows, row_errors = _clean_patent_rows(patents or [])
    if row_errors:
        _add(errors, "patents", row_errors)
    _validate_result(result, errors)
    if errors:
        raise ValidationError(errors)
    result.save()
    _replace_patents(result, rows)
    audit_record(actor=actor, action="result.create", target=result, to_state=result.status)
    return result


@transaction.atomic
def result_update(
    *, result: Result, actor: User, data: dict, patents: list[dict] | None = None
) -> Result:
    """Change the given fields; ``patents`` None keeps them, a list replaces them."""
    require_acts_for(user=actor, org=result.organization)
    result = Result.objects.select_for_update().select_related("organization").get(pk=result.pk)
    if result.status == Result.Status.WITHDRAWN:
        raise ValidationError({"status": [_("已撤回的成果不能再编辑。")]})
    errors: Errors = {}
    changed = _apply(result, data, RESULT_EDITABLE, errors)
    check_valid_until(result, changed, errors)
    rows: list[Patent] = []
    if patents is not None:
        rows, row_errors = _clean_patent_rows(patents)
        if row_errors:
            _add(errors, "patents", row_errors)
        else:
            old = [(p.number, p.kind, p.status, p.title) for p in result.patents.order_by("id")]
            if old != [(p.number, p.kind, p.status, p.title) for p in rows]:
                changed.append("patents")
    _validate_result(result, errors)
    if errors:
        raise ValidationError(errors)
    result.save()
    if patents is not None:
        _replace_patents(result, rows)
    if changed:
        audit_record(actor=actor, action="result.update", target=result, data={"fields": changed})
        if result.status == Result.Status.PUBLISHED:
            _schedule_matching("result", result.pk)
    return result


@transaction.atomic
def result_set_status(*, result: Result, actor: User, to_status: str, reason: str = "") -> Result:
    require_acts_for(user=actor, org=result.organization)
    locked = Result.objects.select_for_update().select_related("organization").get(pk=result.pk)
    from_status = locked.status
    if to_status not in Result.Status.values or to_status not in RESULT_TRANSITIONS[from_status]:
        raise ValidationError(
            {
                "status": [
                    _("成果不能从“%(from)s”变为“%(to)s”。")
                    % {"from": Result.Status(from_status).label, "to": to_status}
                ]
            }
        )
    update_fields = ["status", "updated_at"]
    if to_status == Result.Status.PUBLISHED:
        if not locked.organization.is_verified:
            raise ValidationError(
                {"organization": [_("机构尚未通过平台认证，认证后才能发布成果。")]}
            )
        locked.published_at = timezone.now()
        update_fields.append("published_at")
        if valid_until_on_publish(locked):
            update_fields += ["valid_until", "expiry_reminded_at"]
    locked.status = to_status
    locked.save(update_fields=update_fields)
    audit_record(
        actor=actor,
        action="result.status",
        target=locked,
        from_state=from_status,
        to_state=to_status,
        reason=reason.strip(),
    )
    _schedule_matching("result", locked.pk)
    result.status, result.published_at, result.valid_until = (
        locked.status,
        locked.published_at,
        locked.valid_until,
    )
    return locked


def result_publish(*, result: Result, actor: User) -> Result:
    return result_set_status(result=result, actor=actor, to_status=Result.Status.PUBLISHED)


def result_withdraw(*, result: Result, actor: User, reason: str = "") -> Result:
    return result_set_status(
        result=result, actor=actor, to_status=Result.Status.WITHDRAWN, reason=reason
    )


@transaction.atomic
def result_save(
    *,
    result: Result | None,
    actor: User,
    organization: Organization,
    data: dict,
    patents: list[dict] | None,
    uploads: Iterable[UploadedFile] = (),
) -> Result:
    """The result form's one write: create or update the result with its patents, and add the
    uploaded attachments, all or nothing."""
    if result is None:
        result = result_create(actor=actor, organization=organization, data=data, patents=patents)
    else:
        result = result_update(result=result, actor=actor, data=data, patents=patents)
    attachments_add(owner=result, actor=actor, uploads=uploads)
    return result
