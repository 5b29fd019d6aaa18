"""Keyword search and field filters of needs, results and capability profiles: one implementation
for the web lists and the API filters.

Chinese has no spaces between words, so a query is split only on (half- or full-width) spaces and
each term is matched as a substring; every term must match. A need's confidential columns
(description, scenario, industry chain, indicators, organization) match only needs the viewer sees
in full: the queryset must come from ``matching.catalogue.visibility.need_queryset_for_viewer``,
whose ``viewer_visibility`` annotation ``need_full_text_q`` reads.
"""

from __future__ import annotations

from django.db.models import CharField, Exists, F, Func, OuterRef, Q, QuerySet, Value

from matching.catalogue.visibility import need_full_text_q
from matching.models import CapabilityProfile, Need, NeedIndicator, Result
from taxonomy.models import Region

MAX_TERMS = 8


def search_terms(q: str | None) -> list[str]:
    """The terms of a query: split on spaces (also the ideographic space), at most ``MAX_TERMS``."""
    return [t for t in (q or "").replace("\u3000", " ").split() if t][:MAX_TERMS]


def field_q(code: str, prefix: str = "field") -> Q:
    """A field code matches itself and, for a top-level field, all of its sub-fields."""
    code = code.strip()
    return Q(**{f"{prefix}__code": code}) | Q(**{f"{prefix}__parent__code": code})


def region_ids(name: str) -> QuerySet:
    """A province by name, or a region group (长三角) for all of its provinces."""
    name = name.strip()
    return Region.objects.filter(Q(name=name) | Q(groups__name=name)).values("pk")


class _ArrayToString(Func):
    function = "array_to_string"
    output_field = CharField()


def need_search(qs: QuerySet[Need], q: str | None) -> QuerySet[Need]:
    """Needs of ``qs`` matching every term: in what a summary shows (title, summary, field, region)
    for any need, in the confidential columns only for needs seen in full."""
    for term in search_terms(q):
        public = (
            Q(title__icontains=term)
            | Q(summary__icontains=term)
            | Q(field__name__icontains=term)
            | Q(field__parent__name__icontains=term)
            | Q(region__name__icontains=term)
        )
        indicator = Exists(NeedIndicator.objects.filter(need=OuterRef("pk"), name__icontains=term))
        confidential = (
            Q(description__icontains=term)
            | Q(scenario__icontains=term)
            | Q(industry_chain__icontains=term)
            | Q(organization__name__icontains=term)
            | Q(indicator)
        )
        qs = qs.filter(public | (need_full_text_q() & confidential))
    return qs


def result_search(qs: QuerySet[Result], q: str | None) -> QuerySet[Result]:
    """Results of ``qs`` matching every term in their title, abstract, keywords, application
    fields, industry chain, team, field or organization (a published result is public)."""
    terms = search_terms(q)
    if not terms:
        return qs
    qs = qs.annotate(
        keywords_text=_ArrayToString(F("keywords"), Value(" ")),
        application_text=_ArrayToString(F("application_fields"), Value(" ")),
    )
    for term in terms:
        qs = qs.filter(
            Q(title__icontains=term)
            | Q(abstract__icontains=term)
            | Q(keywords_text__icontains=term)
            | Q(application_text__icontains=term)
            | Q(industry_chain__icontains=term)
            | Q(team__icontains=term)
            | Q(field__name__icontains=term)
            | Q(field__parent__name__icontains=term)
            | Q(organization__name__icontains=term)
        )
    return qs


def capability_search(
    qs: QuerySet[CapabilityProfile], q: str | None
) -> QuerySet[CapabilityProfile]:
    for term in search_terms(q):
        qs = qs.filter(
            Q(title__icontains=term)
            | Q(description__icontains=term)
            | Q(team__icontains=term)
            | Q(equipment__icontains=term)
            | Q(past_projects__icontains=term)
            | Q(organization__name__icontains=term)
        )
    return qs
