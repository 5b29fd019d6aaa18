"""Reads for needs, results and capability profiles.

Confidentiality lives here, and only here: ``need_visibility`` decides what a user may see of one
need, ``need_queryset_for_viewer`` is the same rules as a queryset (for lists, search, filters and
exports), and every read path (web, API, search, export, attachments, match explanations, emails)
goes through one of them or through ``need_get_for_viewer``. The two forms are kept next to each
other on purpose; tests/test_confidentiality_web.py checks that they agree for every status,
confidentiality, access state and viewer.

What each level shows:

- ``SUMMARY``: title, field, region, public summary and status, and nothing else: not the
  organization, not the publication date, no confidentiality detail beyond "摘要公开". Every path
  (web list, detail, CSV exports, API) shows a summary-only need with exactly these fields.
- ``FULL``: everything.
"""

from __future__ import annotations

import enum
from functools import reduce
from operator import or_

from django.db.models import (
    BooleanField,
    Case,
    Exists,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.http import Http404

from accounts.selectors import member_org_ids, user_is_staff
from matching.models import Need, NeedAccess

# The relations every need read path renders.
NEED_RELATED = ("organization", "field", "field__parent", "region")


class NeedVisibility(enum.IntEnum):
    NONE = 0  # not even its existence
    SUMMARY = 1  # title, field, region, public summary, status
    FULL = 2  # description, indicators, scenario, attachments, contact, organization, dates


def need_visibility(*, need: Need, user) -> NeedVisibility:
    """What ``user`` (possibly anonymous) may see of ``need``.

    - its own organization and platform staff: everything, in any status;
    - drafts and withdrawn needs: nobody else;
    - public: everyone sees everything;
    - summary-public: everyone sees the summary; organizations approved by the enterprise that also
      accepted its terms see everything;
    - private: nobody else, not even that it exists.

    ``_need_visibility_rules`` below is the same list as SQL conditions; keep the two in step.
    """
    if user_is_staff(user):
        return NeedVisibility.FULL
    org_ids = member_org_ids(user)
    if need.organization_id in org_ids:
        return NeedVisibility.FULL
    if need.status not in Need.LISTED_STATUSES:
        return NeedVisibility.NONE
    if need.confidentiality == Need.Confidentiality.PUBLIC:
        return NeedVisibility.FULL
    if need.confidentiality == Need.Confidentiality.PRIVATE:
        return NeedVisibility.NONE
    if (
        org_ids
        and NeedAccess.objects.filter(
            need=need,
            organization_id__in=org_ids,
            status=NeedAccess.Status.APPROVED,
            terms_accepted_at__isnull=False,
        ).exists()
    ):
        return NeedVisibility.FULL
    return NeedVisibility.SUMMARY


def _need_visibility_rules(user) -> list[tuple[Q, NeedVisibility]]:
    """``need_visibility`` for a non-staff ``user`` as ``(condition, level)`` pairs, highest level
    first: a need's visibility is the level of the first condition it meets, NONE if it meets none
    (so drafts, withdrawn and private needs of other organizations)."""
    org_ids = member_org_ids(user)
    listed = Q(status__in=Need.LISTED_STATUSES)
    summary_public = listed & Q(confidentiality=Need.Confidentiality.SUMMARY)
    rules: list[tuple[Q, NeedVisibility]] = []
    if org_ids:
        rules.append((Q(organization_id__in=org_ids), NeedVisibility.FULL))
    rules.append((listed & Q(confidentiality=Need.Confidentiality.PUBLIC), NeedVisibility.FULL))
    if org_ids:
        granted = Exists(
            NeedAccess.objects.filter(
                need=OuterRef("pk"),
                organization_id__in=org_ids,
                status=NeedAccess.Status.APPROVED,
                terms_accepted_at__isnull=False,
            )
        )
        rules.append((summary_public & Q(granted), NeedVisibility.FULL))
    rules.append((summary_public, NeedVisibility.SUMMARY))
    return rules


def need_queryset_for_viewer(
    *, user, minimum: NeedVisibility = NeedVisibility.SUMMARY
) -> QuerySet[Need]:
    """Needs of which ``user`` (possibly anonymous) may see at least ``minimum``, in any status,
    unordered; ``minimum=NeedVisibility.FULL`` gives only the needs it sees in full.

    Each row is annotated with ``viewer_visibility`` (the ``NeedVisibility`` value, as an int) and
    ``full_text`` (``viewer_visibility == FULL``). Both always equal ``need_visibility`` of the row.
    Conditions on columns a summary-only viewer may not read must be combined with
    ``need_full_text_q()``, so that neither search nor filters reveal them.
    """
    qs = Need.objects.all()
    if user_is_staff(user):
        return qs.annotate(
            viewer_visibility=Value(int(NeedVisibility.FULL), output_field=IntegerField()),
            full_text=Value(True, output_field=BooleanField()),
        )
    rules = _need_visibility_rules(user)
    qs = qs.annotate(
        viewer_visibility=Case(
            *[When(condition, then=Value(int(level))) for condition, level in rules],
            default=Value(int(NeedVisibility.NONE)),
            output_field=IntegerField(),
        ),
        full_text=Case(
            *[When(c, then=Value(True)) for c, level in rules if level == NeedVisibility.FULL],
            default=Value(False),
            output_field=BooleanField(),
        ),
    )
    if minimum <= NeedVisibility.NONE:
        return qs
    # Filter on the conditions themselves rather than on the CASE, so the database can use its
    # indexes on status and organization.
    return qs.filter(reduce(or_, [c for c, level in rules if level >= minimum]))


def need_full_text_q() -> Q:
    """Limits a condition to the rows of ``need_queryset_for_viewer`` the viewer sees in full."""
    return Q(viewer_visibility=int(NeedVisibility.FULL))


def need_get_for_viewer(
    *, uuid, user, minimum: NeedVisibility = NeedVisibility.SUMMARY
) -> tuple[Need, NeedVisibility]:
    """The need and what ``user`` may see of it; 404 when that is less than ``minimum``."""
    try:
        need = Need.objects.select_related(*NEED_RELATED).get(uuid=uuid)
    except (Need.DoesNotExist, ValueError) as exc:
        raise Http404 from exc
    visibility = need_visibility(need=need, user=user)
    if visibility < minimum:
        raise Http404
    return need, visibility
