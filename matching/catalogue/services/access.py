"""Access to summary-public needs: request, decide, invite."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Organization, User
from accounts.selectors import require_acts_for
from core.services import audit_record
from matching.models import (
    Need,
    NeedAccess,
)

# --- access to summary-public needs ---------------------------------------------------------------


def _check_access_target(need: Need, organization: Organization) -> None:
    if need.confidentiality != Need.Confidentiality.SUMMARY:
        raise ValidationError({"need": [_("只有“摘要公开”的需求需要申请查看全文。")]})
    if need.status not in Need.LISTED_STATUSES:
        raise ValidationError({"need": [_("该需求当前不可申请查看。")]})
    if organization.pk == need.organization_id:
        raise ValidationError({"organization": [_("需求方机构本身即可查看全文。")]})


@transaction.atomic
def need_access_request(
    *, need: Need, actor: User, organization: Organization, accept_terms: bool
) -> NeedAccess:
    """``organization`` asks to read the full text of a summary-public need and accepts its terms.

    A fresh request waits for the enterprise's decision; an organization the enterprise invited only
    accepts the terms and gets the full text at once. A rejected organization may ask again."""
    require_acts_for(user=actor, org=organization)
    _check_access_target(need, organization)
    if not accept_terms:
        raise ValidationError({"accept_terms": [_("请先阅读并接受需求方的保密条款。")]})
    now = timezone.now()
    access = (
        NeedAccess.objects.select_for_update().filter(need=need, organization=organization).first()
    )
    from_state = access.status if access else ""
    if access is None:
        access = NeedAccess(need=need, organization=organization)
    elif access.status == NeedAccess.Status.REQUESTED:
        raise ValidationError({"need": [_("已提交申请，请等待需求方审批。")]})
    elif access.grants_full_text:
        return access
    elif access.status == NeedAccess.Status.REJECTED:
        access.status = NeedAccess.Status.REQUESTED
        access.decided_by = None
        access.decided_at = None
    access.requested_by = access.requested_by or actor
    access.terms_accepted_at = now
    access.terms_accepted_by = actor
    access.save()
    audit_record(
        actor=actor,
        action="need.access_request",
        target=need,
        from_state=from_state,
        to_state=access.status,
        data={"organization": str(organization.uuid), "terms_accepted": True},
    )
    return access


@transaction.atomic
def need_access_decide(*, access: NeedAccess, actor: User, approve: bool) -> NeedAccess:
    """The enterprise approves or rejects a pending request."""
    access = (
        NeedAccess.objects.select_for_update()
        .select_related("need", "need__organization", "organization")
        .get(pk=access.pk)
    )
    require_acts_for(user=actor, org=access.need.organization)
    if access.status != NeedAccess.Status.REQUESTED:
        raise ValidationError({"status": [_("该申请已处理。")]})
    access.status = NeedAccess.Status.APPROVED if approve else NeedAccess.Status.REJECTED
    access.decided_by = actor
    access.decided_at = timezone.now()
    access.save(update_fields=["status", "decided_by", "decided_at"])
    audit_record(
        actor=actor,
        action="need.access_decide",
        target=access.need,
        from_state=NeedAccess.Status.REQUESTED,
        to_state=access.status,
        data={"organization": str(access.organization.uuid)},
    )
    return access


@transaction.atomic
def need_access_invite(*, need: Need, actor: User, organization: Organization) -> NeedAccess:
    """The enterprise invites ``organization`` to read the full text; it still has to accept the
    terms (``need_access_request``) before it sees anything more."""
    require_acts_for(user=actor, org=need.organization)
    _check_access_target(need, organization)
    access, _created = NeedAccess.objects.select_for_update().get_or_create(
        need=need, organization=organization
    )
    from_state = "" if _created else access.status
    access.status = NeedAccess.Status.APPROVED
    access.invited = True
    access.decided_by = actor
    access.decided_at = timezone.now()
    access.save()
    audit_record(
        actor=actor,
        action="need.access_invite",
        target=need,
        from_state=from_state,
        to_state=access.status,
        data={"organization": str(organization.uuid)},
    )
    return access
