"""What an organization's feedback teaches the ranking of its own needs.

- **Reasons → structured-fit preferences.** Each 不相关 an organization gives on a match of one of its
  own needs, with a reason that names a structured fit (``REASON_FITS``: 领域不符 → field, 成熟度不够 →
  TRL, 价格/预算不合适 → budget, 合作方式不合适 → cooperation mode), multiplies that fit's weight for
  the organization's needs by ``1 + STEP`` more, up to ``MAX_FACTOR``. The factors are recomputed from
  the organization's current feedback whenever it gives or changes one (``refresh``), so changing one's
  mind takes the effect back; they are stored per organization (``OrganizationRankingPreference``) and
  applied on top of the active weights (``RankingConfig.scaled``) when its needs are ranked.
- **不相关 → near-duplicates lowered.** A candidate whose vector is within ``NEAR_DUPLICATE_COSINE`` of a
  result (or profile) the need's organization rejected for that need gets its score multiplied by
  ``NEAR_DUPLICATE_FACTOR`` (the rejected pair itself is removed: ``pipeline.rejected_candidates``).
  On dev no two distinct results are that close (the closest pair has cosine 0.951, the median nearest
  neighbour 0.90), so only re-posted or lightly edited copies are caught.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from matching.models import MatchFeedback, OrganizationRankingPreference

REASON_FITS: Mapping[str, str] = {
    MatchFeedback.Reason.WRONG_FIELD: "field",
    MatchFeedback.Reason.IMMATURE: "trl",
    MatchFeedback.Reason.TOO_EXPENSIVE: "budget",
    MatchFeedback.Reason.WRONG_MODE: "cooperation",
}
STEP = 0.25
MIN_FACTOR = 1.0
MAX_FACTOR = 3.0
NEAR_DUPLICATE_COSINE = 0.96
NEAR_DUPLICATE_FACTOR = 0.5


def factors_from_reasons(counts: Mapping[str, int]) -> dict[str, float]:
    """Weight multipliers from the number of 不相关 given for each reason, bounded."""
    factors: dict[str, float] = {}
    for reason, n in counts.items():
        fit = REASON_FITS.get(reason)
        if fit and n > 0:
            factors[fit] = min(MAX_FACTOR, max(MIN_FACTOR, factors.get(fit, 1.0) + STEP * n))
    return factors


def refresh(organization_id: int) -> dict[str, float]:
    """Recompute and store the organization's factors from its 不相关 on its own needs' matches."""
    reasons = MatchFeedback.objects.filter(
        organization_id=organization_id,
        match__need__organization_id=organization_id,
        verdict=MatchFeedback.Verdict.NOT_RELEVANT,
    ).values_list("reason", flat=True)
    factors = factors_from_reasons(Counter(reasons))
    OrganizationRankingPreference.objects.update_or_create(
        organization_id=organization_id, defaults={"factors": factors}
    )
    return factors


def factors_for(organization_id: int | None) -> dict[str, float]:
    """The stored factors of an organization ({} when it has none)."""
    if organization_id is None:
        return {}
    row = OrganizationRankingPreference.objects.filter(organization_id=organization_id).first()
    return dict(row.factors) if row is not None else {}
