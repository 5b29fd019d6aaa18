"""Query helpers for the API.

The confidentiality rules of needs are not here: ``matching.selectors.need_queryset_for_viewer``
is their only queryset form. This module adds what the API lists need on top (relations, the
``published`` ordering key) and the reads of results and capability profiles.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.db.models.functions import Coalesce
from django.http import Http404

from accounts.selectors import member_org_ids, user_is_staff
from matching.models import CapabilityProfile, Need, Result
from matching.selectors import (
    NEED_RELATED,
    need_full_text_q,
    need_queryset_for_viewer,
)

__all__ = [
    "capability_get_for_api",
    "capability_queryset_for_viewer",
    "need_full_text_q",
    "need_get_for_api",
    "need_queryset_for_api",
    "result_get_for_api",
    "result_queryset_for_viewer",
]


def need_queryset_for_api(*, user) -> QuerySet[Need]:
    """``need_queryset_for_viewer`` (needs ``user`` may know exist, in any status, annotated with
    ``viewer_visibility``) with the relations the serializers read and ``published``
    (``published_at``, or ``created_at`` for drafts) to order by."""
    return (
        need_queryset_for_viewer(user=user)
        .select_related(*NEED_RELATED)
        .annotate(published=Coalesce("published_at", "created_at"))
    )


def need_get_for_api(*, uuid, user) -> Need:
    """One need through ``need_queryset_for_api`` (with indicators); 404 when the viewer may not
    know it exists."""
    try:
        return need_queryset_for_api(user=user).prefetch_related("indicators").get(uuid=uuid)
    except (Need.DoesNotExist, ValueError) as exc:
        raise Http404 from exc


def result_queryset_for_viewer(*, user) -> QuerySet[Result]:
    """Published results for everyone; drafts and withdrawn ones for their organization and staff."""
    qs = Result.objects.select_related(
        "organization", "organization__region", "field", "field__parent"
    ).annotate(published=Coalesce("published_at", "created_at"))
    if user_is_staff(user):
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
    if user_is_staff(user):
        return qs
    return qs.filter(Q(is_published=True) | Q(organization_id__in=member_org_ids(user)))


def capability_get_for_api(*, uuid, user) -> CapabilityProfile:
    try:
        return capability_queryset_for_viewer(user=user).get(uuid=uuid)
    except (CapabilityProfile.DoesNotExist, ValueError) as exc:
        raise Http404 from exc
