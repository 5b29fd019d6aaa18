"""Fusion and re-ranking of match candidates.

Every weight and constant of the ranking lives in ``RankingConfig`` (frozen). ``fuse``
takes, for one demand, the candidates' dense similarity, lexical BM25 score and optional
structured-fit components, and returns final scores with a per-component breakdown.

Scores are fused per query: dense and lexical scores are put on a common, query-relative
scale (z-scores over the candidate set by default) and added with convex weights;
structured fits are values in [0, 1] (NaN = unknown, treated as neutral) added with their
own weights, so a perfect field match moves a result by ``field`` standard deviations.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np

Normalization = Literal["zscore", "minmax", "rank", "none"]
DEFAULT_DENSE = 0.8


@dataclass(frozen=True)
class RankingConfig:
    """All ranking weights and constants. Tuned on the dev split only (docs/matching.md)."""

    # Convex weight of the dense (embedding) score; lexical gets 1 - dense.
    dense: float = DEFAULT_DENSE
    normalization: Normalization = "zscore"
    # Reciprocal-rank constant, used only when normalization == "rank".
    rrf_k: int = 60
    # Lexical side: BM25 over CJK characters + bigrams of title + abstract + keywords.
    lexical_scheme: str = "unibigram"
    bm25_k1: float = 1.2
    bm25_b: float = 0.75
    # Structured fits, each in [0, 1]; weights are in units of the fused score (about one
    # standard deviation of a z-scored component). Only ``field`` exists in the eval data.
    structured: Mapping[str, float] = field(
        default_factory=lambda: {
            "field": 0.3,  # demand field vs result discipline (shared taxonomy)
            "trl": 0.15,  # result TRL reaches the demand's desired TRL
            "cooperation": 0.1,  # overlap of accepted cooperation modes
            "budget": 0.1,  # asking price within the demand's budget
            "region": 0.05,  # same region / province
        }
    )
    # Value used for an unknown (NaN) structured fit: neutral, neither reward nor penalty.
    unknown_fit: float = 0.5

    @property
    def lexical(self) -> float:
        return 1.0 - self.dense

    def to_dict(self) -> dict:
        """The tunable weights (``manage.py tune_ranking`` stores them per model)."""
        return {"dense": self.dense, "structured": dict(self.structured)}

    @classmethod
    def from_dict(cls, data: Mapping) -> RankingConfig:
        """A configuration with these weights; every other constant as shipped."""
        return cls(
            dense=float(data.get("dense", DEFAULT_DENSE)),
            structured={str(k): float(v) for k, v in (data.get("structured") or {}).items()},
        )

    def scaled(self, factors: Mapping[str, float]) -> RankingConfig:
        """The same configuration with some structured weights multiplied (an organization's
        preferences, ``matching.matcher.preferences``)."""
        if not factors:
            return self
        weights = {k: v * float(factors.get(k, 1.0)) for k, v in self.structured.items()}
        return replace(self, structured=weights)


DEFAULT_CONFIG = RankingConfig()


@dataclass
class FusedScores:
    """Final scores (higher is better) and each component's additive contribution."""

    scores: np.ndarray
    components: dict[str, np.ndarray]

    def order(self) -> np.ndarray:
        """Candidate indices, best first (stable for ties)."""
        return np.argsort(-self.scores, kind="stable")

    def breakdown(self, i: int) -> dict[str, float]:
        return {name: float(values[i]) for name, values in self.components.items()}


def normalize_scores(values: np.ndarray, how: Normalization, rrf_k: int = 60) -> np.ndarray:
    """Put one query's candidate scores on a query-independent scale."""
    x = np.asarray(values, dtype=np.float64)
    if x.size == 0 or how == "none":
        return x.copy()
    if how == "zscore":
        std = x.std()
        return (x - x.mean()) / std if std > 1e-12 else np.zeros_like(x)
    if how == "minmax":
        span = x.max() - x.min()
        return (x - x.min()) / span if span > 1e-12 else np.zeros_like(x)
    if how == "rank":
        ranks = np.empty(x.size, dtype=np.float64)
        ranks[np.argsort(-x, kind="stable")] = np.arange(1, x.size + 1)
        # Scaled so the top candidate gets 1.0 (same order of magnitude as other modes).
        return (rrf_k + 1) / (rrf_k + ranks)
    raise ValueError(f"unknown normalization {how!r}")


def fuse(
    dense: np.ndarray | None,
    lexical: np.ndarray | None,
    structured: Mapping[str, np.ndarray] | None = None,
    config: RankingConfig = DEFAULT_CONFIG,
) -> FusedScores:
    """Combine the components of one query's candidates into final scores.

    ``dense``: cosine similarities; ``lexical``: BM25 scores (raw; normalised here);
    ``structured``: name -> fit in [0, 1] or NaN. A missing dense or lexical array gives
    its weight to the other, so the ranker degrades gracefully (e.g. no vectors yet).
    """
    n = _length(dense, lexical, structured)
    components: dict[str, np.ndarray] = {}
    w_dense = config.dense if lexical is not None else 1.0
    w_lex = config.lexical if dense is not None else 1.0
    if dense is not None:
        components["dense"] = w_dense * normalize_scores(dense, config.normalization, config.rrf_k)
    if lexical is not None:
        components["lexical"] = w_lex * normalize_scores(
            lexical, config.normalization, config.rrf_k
        )
    for name, fit in (structured or {}).items():
        weight = config.structured.get(name, 0.0)
        if weight:
            values = np.asarray(fit, dtype=np.float64)
            components[name] = weight * np.where(np.isnan(values), config.unknown_fit, values)
    scores = np.zeros(n, dtype=np.float64)
    for values in components.values():
        scores += values
    return FusedScores(scores=scores, components=components)


def _length(*parts: object) -> int:
    for part in parts:
        if isinstance(part, Mapping):
            for values in part.values():
                return len(values)
        elif part is not None:
            return len(part)  # type: ignore[arg-type]
    return 0


# --------------------------------------------------------------------------------------
# Structured fits. Each returns a value in [0, 1], or NaN when either side is unknown.
# --------------------------------------------------------------------------------------


def field_fit(need_codes: Sequence[str], candidate_codes: Sequence[str]) -> float:
    """Taxonomy codes (``top`` or ``top.sub``): 1 for the same field, or when the need's field is a
    top-level field that contains the candidate's; 0.5 when both lie under one top-level field;
    0 otherwise; NaN when either side has no field. The service and ``evaluate_matcher`` both use
    this function (the evaluation maps its disciplines to such codes)."""
    if not need_codes or not candidate_codes:
        return math.nan
    best = 0.0
    for need in need_codes:
        need_top = need.split(".")[0]
        for candidate in candidate_codes:
            if need == candidate or (need == need_top and candidate.split(".")[0] == need_top):
                return 1.0
            if candidate.split(".")[0] == need_top:
                best = max(best, 0.5)
    return best


def trl_fit(desired_trl: int | None, result_trl: int | None) -> float:
    """Technology readiness: full fit when the result is at or above the level the demand
    wants; loses a third per missing level (a TRL 3 lab result is far from a TRL 6 need)."""
    if desired_trl is None or result_trl is None:
        return math.nan
    return max(0.0, 1.0 - max(0, desired_trl - result_trl) / 3.0)


def overlap_fit(wanted: Iterable[str] | None, offered: Iterable[str] | None) -> float:
    """Share of the demand's accepted options (e.g. cooperation modes) the result offers."""
    wanted_set, offered_set = set(wanted or ()), set(offered or ())
    if not wanted_set or not offered_set:
        return math.nan
    return len(wanted_set & offered_set) / len(wanted_set)


def budget_fit(budget: float | None, asking_price: float | None) -> float:
    """1 when the asking price fits the budget, decaying to 0 at twice the budget."""
    if budget is None or asking_price is None or budget <= 0:
        return math.nan
    if asking_price <= budget:
        return 1.0
    return max(0.0, 2.0 - asking_price / budget)


def region_fit(demand_region: str | None, result_region: str | None) -> float:
    if not demand_region or not result_region:
        return math.nan
    return 1.0 if demand_region == result_region else 0.0
