"""Query helpers for the API: the confidentiality rules of ``matching.selectors.need_visibility`` as a
queryset annotation, so lists, search, filters and exports can be done in SQL.

``need_queryset_for_viewer`` must agree with ``need_visibility`` for every need and user;
tests/test_api_needs.py checks the two against each other over every combination of status,
confidentiality, membership, access grant and staff.
"""

from __future__ import annotations

from django.db.models import Case, Exists, IntegerField, OuterRef, Q, QuerySet, Value, When
from django.db.models.functions import Coalesce
from django.http import Http404

from matching.models import CapabilityProfile, Need, NeedAccess, Result
from matching.selectors import NeedVisibility, _member_org_ids

FULL = int(NeedVisibility.FULL)
SUMMARY = int(NeedVisibility.SUMMARY)
NONE = int(NeedVisibility.NONE)


def member_org_ids(user) -> set[int]:
    """Ids of the organizations ``user`` belongs to (cached on the user object per request)."""
    return _member_org_ids(user)


def need_queryset_for_viewer(*, user) -> QuerySet[Need]:
    """Needs ``user`` may know exist, annotated with ``viewer_visibility`` (a ``NeedVisibility``
    value) and ``published`` (``published_at``, or ``created_at`` for drafts, for ordering)."""
    qs = Need.objects.select_related("organization", "field", "field__parent", "region").annotate(
        published=Coalesce("published_at", "created_at")
    )
    if user is not None and user.is_authenticated and user.is_staff:
        return qs.annotate(viewer_visibility=Value(FULL, output_field=IntegerField()))
    org_ids = member_org_ids(user)
    listed = Q(status__in=Need.LISTED_STATUSES)
    granted = Exists(
        NeedAccess.objects.filter(
            need=OuterRef("pk"),
            organization_id__in=org_ids,
            status=NeedAccess.Status.APPROVED,
            terms_accepted_at__isnull=False,
        )
    )
    whens = [When(organization_id__in=org_ids, then=Value(FULL))] if org_ids else []
    whens += [
        When(listed & Q(confidentiality=Need.Confidentiality.PUBLIC), then=Value(FULL)),
    ]
    if org_ids:
        whens.append(
            When(
                listed & Q(confidentiality=Need.Confidentiality.SUMMARY) & granted, then=Value(FULL)
            )
        )
    whens.append(
        When(listed & Q(confidentiality=Need.Confidentiality.SUMMARY), then=Value(SUMMARY))
    )
    return qs.annotate(
        viewer_visibility=Case(*whens, default=Value(NONE), output_field=IntegerField())
    ).filter(viewer_visibility__gt=NONE)


def need_get_for_api(*, uuid, user) -> Need:
    """One need through ``need_queryset_for_viewer`` (with indicators); 404 when the viewer may not
    know it exists."""
    try:
        return need_queryset_for_viewer(user=user).prefetch_related("indicators").get(uuid=uuid)
    except (Need.DoesNotExist, ValueError) as exc:
        raise Http404 from exc


def need_full_text_q() -> Q:
    """Restricts a condition on confidential columns to needs the viewer sees in full."""
    return Q(viewer_visibility=FULL)


def result_queryset_for_viewer(*, user) -> QuerySet[Result]:
    """Published results for everyone; drafts and withdrawn ones for their organization and staff."""
    qs = Result.objects.select_related(
        "organization", "organization__region", "field", "field__parent"
    ).annotate(published=Coalesce("published_at", "created_at"))
    if user is not None and user.is_authenticated and user.is_staff:
        return qs
    return qs.filter(
        Q(status=Result.Status.PUBLISHED) | Q(organization_id__in=member_org_ids(user))
    )


def result_get_for_api(*, uuid, user) -> Result:
    try:
        return result_queryset_for_viewer(user=user).prefetch_related("patents").get(uuid=uuid)
    except (Result.DoesNotExist, ValueError) as exc:
        raise Http404 from exc


def capability_queryset_for_viewer(*, user) -> QuerySet[CapabilityProfile]:
    """Published profiles for everyone; unpublished ones for their organization and staff."""
    qs = CapabilityProfile.objects.select_related("organization").prefetch_related(
        "fields", "fields__parent"
    )
    if user is not None and user.is_authenticated and user.is_staff:
        return qs
    return qs.filter(Q(is_published=True) | Q(organization_id__in=member_org_ids(user)))


def capability_get_for_api(*, uuid, user) -> CapabilityProfile:
    try:
        return capability_queryset_for_viewer(user=user).get(uuid=uuid)
    except (CapabilityProfile.DoesNotExist, ValueError) as exc:
        raise Http404 from exc


def user_is_member_of(*, user, organization_id: int) -> bool:
    return organization_id in member_org_ids(user)
