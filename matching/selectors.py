"""Reads for needs, results and capability profiles.

Confidentiality lives here: ``need_visibility`` decides what a user may see of a need, and every read
path (web, API, search, export, attachments, match explanations, emails) goes through it or through
``need_get_for_viewer``.
"""

from __future__ import annotations

import enum

from django.http import Http404

from accounts.models import Membership
from matching.models import Need, NeedAccess


class NeedVisibility(enum.IntEnum):
    NONE = 0  # not even its existence
    SUMMARY = 1  # title, field, region, public summary, status
    FULL = 2  # description, indicators, scenario, attachments, contact


def _member_org_ids(user) -> set[int]:
    if not user or not user.is_authenticated:
        return set()
    cached = getattr(user, "_member_org_ids", None)
    if cached is None:
        cached = set(Membership.objects.filter(user=user).values_list("organization_id", flat=True))
        user._member_org_ids = cached
    return cached


def need_visibility(*, need: Need, user) -> NeedVisibility:
    """What ``user`` (possibly anonymous) may see of ``need``.

    - its own organization and platform staff: everything, in any status;
    - drafts and withdrawn needs: nobody else;
    - public: everyone sees everything;
    - summary-public: everyone sees the summary; organizations approved by the enterprise that also
      accepted its terms see everything;
    - private: nobody else, not even that it exists.
    """
    if user is not None and user.is_authenticated and user.is_staff:
        return NeedVisibility.FULL
    org_ids = _member_org_ids(user)
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


def need_get_for_viewer(
    *, uuid, user, minimum: NeedVisibility = NeedVisibility.SUMMARY
) -> tuple[Need, NeedVisibility]:
    """The need and what ``user`` may see of it; 404 when that is less than ``minimum``."""
    try:
        need = Need.objects.select_related("organization", "field", "field__parent", "region").get(
            uuid=uuid
        )
    except (Need.DoesNotExist, ValueError) as exc:
        raise Http404 from exc
    visibility = need_visibility(need=need, user=user)
    if visibility < minimum:
        raise Http404
    return need, visibility
