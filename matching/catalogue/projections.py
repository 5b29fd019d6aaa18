"""Which fields of a need each confidentiality level shows: one projection per level.

``matching.catalogue.visibility.need_visibility`` decides *how much* a viewer may see of a need; this module
decides *which fields* that is. Every output builds from it: the API serializers (their field lists),
both CSV exports, the web pages, match explanations (API, pages, emails) and challenge pages.
``tests/test_read_matrix.py`` walks every read path for every role and level and checks that each
shows exactly these fields.

- ``SUMMARY``: title, field, region, public summary and status. Not the organization, not the dates,
  not the maturity (TRL), cooperation modes, budget, indicators, description, scenario or contacts.
- ``FULL``: everything.
"""

from __future__ import annotations

from matching.catalogue.visibility import NeedVisibility

# The need fields a summary-only viewer may read (``uuid`` addresses the need; it reveals nothing).
# In the order the API shows them (its serializers build their field lists from these).
NEED_SUMMARY_FIELD_ORDER: tuple[str, ...] = (
    "uuid",
    "title",
    "field",
    "region",
    "summary",
    "status",
)
NEED_FULL_ONLY_FIELD_ORDER: tuple[str, ...] = (
    "organization",
    "description",
    "scenario",
    "industry_chain",
    "budget_min",
    "budget_max",
    "funding_mode",
    "coop_modes",
    "trl_min",
    "trl_stage",
    "deadline",
    "contact_name",
    "contact_phone",
    "contact_email",
    "confidentiality",
    "terms",
    "indicators",
    "external_ref",
    # matching.catalogue.quality's report: null unless the viewer acts for the organization.
    "quality",
    "published_at",
    # the listing's last valid day (matching.catalogue.freshness)
    "valid_until",
    # days the enterprise has to answer an access request (matching.catalogue.answers)
    "answer_days",
    "created_at",
    "updated_at",
    "attachments",  # pages only; the API has no attachment field
)
NEED_SUMMARY_FIELDS: frozenset[str] = frozenset(NEED_SUMMARY_FIELD_ORDER)
# The need fields only a full viewer may read (everything else a need carries).
NEED_FULL_ONLY_FIELDS: frozenset[str] = frozenset(NEED_FULL_ONLY_FIELD_ORDER)

# What the access-request form of a summary-public need shows to an organization that may ask for
# the full text: the confidentiality terms it would accept (never to anonymous visitors).
NEED_ACCESS_REQUEST_FIELDS: frozenset[str] = frozenset({"terms"})


def need_fields(visibility: NeedVisibility) -> frozenset[str]:
    """The need fields a viewer at ``visibility`` may read."""
    if visibility >= NeedVisibility.FULL:
        return NEED_SUMMARY_FIELDS | NEED_FULL_ONLY_FIELDS
    if visibility >= NeedVisibility.SUMMARY:
        return NEED_SUMMARY_FIELDS
    return frozenset()


def need_shows(visibility: NeedVisibility, field: str) -> bool:
    return field in need_fields(visibility)


# --- match explanations -------------------------------------------------------------------------

# The need field each fit item of an explanation reveals (see matching.matcher.explain.fit_items). An item
# is shown only to viewers who may read that field; an item of an unknown code is never shown to a
# summary-only viewer.
FIT_REVEALS: dict[str, str] = {
    "field_same": "field",
    "field_near": "field",
    "field_other": "field",
    "region_same": "region",
    "trl_ok": "trl_min",
    "trl_low": "trl_min",
    "mode_ok": "coop_modes",
    "mode_other": "coop_modes",
    "budget_ok": "budget_max",
    "budget_high": "budget_max",
}


def fit_item_visible(item: dict, visibility: NeedVisibility) -> bool:
    revealed = FIT_REVEALS.get(str(item.get("code", "")))
    return revealed is not None and need_shows(visibility, revealed)


def explanation_for_viewer(explanation: dict | None, visibility: NeedVisibility) -> dict:
    """A stored explanation (``matching.matcher.explain.explain``) as far as a viewer at ``visibility`` may
    read the need: ``{shared_terms, evidence, fit}``.

    FULL: all of it. SUMMARY: the key terms found in the need's public text only, no sentence
    evidence (it quotes the need's description), and only the fit items about fields the summary
    shows (field, region). NONE: nothing.
    """
    explanation = explanation or {}
    if visibility >= NeedVisibility.FULL:
        return {
            "shared_terms": list(explanation.get("shared_terms") or []),
            # Each pair as stored: need and candidate sentence, its level (强/中/弱: strong,
            # medium, weak) and the similarity behind it.
            "evidence": [e for e in explanation.get("evidence") or [] if isinstance(e, dict)],
            "fit": [i for i in explanation.get("fit") or [] if isinstance(i, dict)],
        }
    if visibility < NeedVisibility.SUMMARY:
        return {"shared_terms": [], "evidence": [], "fit": []}
    public = explanation.get("public") or {}
    return {
        "shared_terms": list(public.get("shared_terms") or []),
        "evidence": [],
        "fit": [
            item
            for item in explanation.get("fit") or []
            if isinstance(item, dict) and fit_item_visible(item, visibility)
        ],
    }
