from django import template

from matching.catalogue.projections import explanation_for_viewer, need_shows
from matching.catalogue.visibility import NeedVisibility
from matching.matcher import calibration, reindex
from matching.matches import selectors as match_selectors

register = template.Library()


@register.inclusion_tag("matching/_need_matches.html", takes_context=True)
def need_matches(context, need):
    """A need's ranked matches with explanations and feedback buttons (for its own side)."""
    matches = list(match_selectors.matches_for_need(need=need))
    return {
        "request": context.get("request"),
        "csrf_token": context.get("csrf_token"),
        "matches": matches,
        "has_strong": any(match_strength(m) == "strong" for m in matches),
        "feedback_reasons": match_selectors.feedback_reason_counts(need=need),
    }


@register.inclusion_tag("matching/_result_matches.html", takes_context=True)
def result_matched_needs(context, result):
    """Open needs matched to a result, each shown only as far as the viewer may see the need."""
    matched = match_selectors.needs_matched_to_result(result=result, user=context["request"].user)
    return {
        "request": context.get("request"),
        "matched_needs": matched,
        "has_strong": any(match_strength(m) == "strong" for m, _v in matched),
    }


@register.inclusion_tag("matching/_rebuild_notice.html")
def rebuild_notice():
    """A notice while the matcher's index is being (re)built: matches are still arriving."""
    return {"progress": reindex.pending_progress()}


@register.filter
def match_strength(match) -> str:
    """ "strong" (clears the email threshold of the calibrated score) or "weak"."""
    return calibration.strength(match.score, match.model_version)


@register.filter
def explanation_for(match, visibility) -> dict:
    """``match``'s explanation as far as a viewer at ``visibility`` may read its need."""
    return explanation_for_viewer(match.explanation, NeedVisibility(int(visibility)))


@register.filter
def need_shows_field(visibility, field: str) -> bool:
    """Whether a viewer at ``visibility`` may read the need field ``field``."""
    return need_shows(NeedVisibility(int(visibility)), field)
