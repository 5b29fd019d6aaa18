"""Access to summary-public needs: request, decide, invite."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Organization, User
from accounts.selectors import require_acts_for
from core.services import audit_record
from matching.catalogue import answers
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
        access.decline_reason = ""
        access.decline_note = ""
    if access.status == NeedAccess.Status.REQUESTED:
        # A fresh (or renewed) request: the enterprise's answer is due by this deadline.
        access.respond_by = answers.answer_deadline(now, days=need.answer_days)
        access.reminded_at = None
        access.no_answer_at = None
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
def need_access_decide(
    *, access: NeedAccess, actor: User, approve: bool, reason: str = "", note: str = ""
) -> NeedAccess:
    """The enterprise approves or declines a pending request; a decline names one reason from
    ``answers.DeclineReason`` (and words for "其他"), which the requester is told. A request past
    its deadline (recorded as "no answer") may still be answered; it counts as answered late."""
    if not approve:
        reason, note = answers.clean_decline(reason=reason, note=note)
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
    access.decline_reason = "" if approve else reason
    access.decline_note = "" if approve else note
    access.save(
        update_fields=["status", "decided_by", "decided_at", "decline_reason", "decline_note"]
    )
    audit_record(
        actor=actor,
        action="need.access_decide",
        target=access.need,
        from_state=NeedAccess.Status.REQUESTED,
        to_state=access.status,
        data={"organization": str(access.organization.uuid), "reason": access.decline_reason},
    )
    if not approve:
        answers.announce(event="declined", access=access)
    return access


def access_answers_sweep(*, now=None) -> dict[str, int]:
    """Remind enterprises of requests due within ``ANSWER_REMINDER_HOURS``, and record "no
    answer" on requests past their deadline. Idempotent: each row is claimed by a filtered
    update that only one run can win, so a reminder and a record are written once each."""
    now = now or timezone.now()
    pending = NeedAccess.objects.filter(
        status=NeedAccess.Status.REQUESTED, no_answer_at__isnull=True, respond_by__isnull=False
    )
    counts = {"reminded": 0, "no_answer": 0}
    due_soon = pending.filter(
        Q(respond_by__gt=now) & Q(respond_by__lte=answers.reminder_due_before(now)),
        reminded_at__isnull=True,
    )
    for pk in list(due_soon.values_list("pk", flat=True)):
        with transaction.atomic():
            if pending.filter(pk=pk, reminded_at__isnull=True).update(reminded_at=now) != 1:
                continue
            access = NeedAccess.objects.select_related("need", "organization").get(pk=pk)
            answers.announce(event="reminder", access=access)
            counts["reminded"] += 1
    for pk in list(pending.filter(respond_by__lte=now).values_list("pk", flat=True)):
        with transaction.atomic():
            if pending.filter(pk=pk).update(no_answer_at=now) != 1:
                continue
            access = NeedAccess.objects.select_related("need", "organization").get(pk=pk)
            audit_record(
                actor=None,
                action="need.access_no_answer",
                target=access.need,
                from_state=NeedAccess.Status.REQUESTED,
                to_state=NeedAccess.Status.REQUESTED,
                data={"organization": str(access.organization.uuid)},
            )
            answers.announce(event="no_answer", access=access)
            counts["no_answer"] += 1
    return counts


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
