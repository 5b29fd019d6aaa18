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
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

Normalization = Literal["zscore", "minmax", "rank", "none"]


@dataclass(frozen=True)
class RankingConfig:
    """All ranking weights and constants. Tuned on the dev split only (docs/matching.md)."""

    # Convex weight of the dense (embedding) score; lexical gets 1 - dense.
    dense: float = 0.8
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

# Chinese discipline catalogue (学科目录): first-level discipline -> category (门类).
# Disciplines that CSL-style taxonomies merge across categories list every category they
# can grant degrees in. Written from the official catalogue, not from match data.
DISCIPLINE_CATEGORIES: dict[str, tuple[str, ...]] = {
    # 理学
    "数学": ("理学",),
    "物理学": ("理学",),
    "天文学": ("理学",),
    "地理学": ("理学",),
    "大气科学": ("理学",),
    "海洋科学": ("理学",),
    "地球物理学": ("理学",),
    "化学/化学工程与技术": ("理学", "工学"),
    "地质学/地质资源与地质工程": ("理学", "工学"),
    "生物学/生物科学与工程": ("理学", "工学"),
    "心理学": ("教育学", "理学"),
    # 工学
    "力学": ("工学", "理学"),
    "机械工程": ("工学",),
    "光学工程": ("工学",),
    "材料科学与工程": ("工学",),
    "冶金工程": ("工学",),
    "动力工程及工程热物理": ("工学",),
    "电气工程": ("工学",),
    "电子科学与技术": ("工学",),
    "信息与通信工程": ("工学",),
    "控制科学与工程": ("工学",),
    "计算机科学与技术": ("工学",),
    "建筑学": ("工学",),
    "土木工程": ("工学",),
    "水利工程": ("工学",),
    "测绘科学与技术": ("工学",),
    "纺织科学与工程": ("工学",),
    "矿业工程": ("工学",),
    "石油与天然气工程": ("工学",),
    "交通运输工程": ("工学",),
    "船舶与海洋工程": ("工学",),
    "航空宇航科学与技术": ("工学",),
    "兵器科学与技术": ("工学",),
    "核科学与技术": ("工学",),
    "农业工程": ("工学", "农学"),
    "环境科学与工程": ("工学", "理学"),
    "食品科学与工程": ("工学", "农学"),
    # 农学
    "作物学": ("农学",),
    "园艺学": ("农学",),
    "农业资源利用": ("农学",),
    "植物保护": ("农学",),
    "畜牧学/兽医学": ("农学",),
    "林学/林业工程": ("农学", "工学"),
    "水产": ("农学",),
    # 医学
    "基础医学/临床医学": ("医学",),
    "口腔医学": ("医学",),
    "公共卫生与预防医学": ("医学",),
    "中医学/中药学": ("医学",),
    "药学": ("医学",),
    # 其他门类
    "哲学": ("哲学",),
    "理论经济学": ("经济学",),
    "应用经济学": ("经济学",),
    "法学": ("法学",),
    "政治学": ("法学",),
    "社会学": ("法学",),
    "民族学": ("法学",),
    "教育学": ("教育学",),
    "体育学": ("教育学",),
    "中国语言文学": ("文学",),
    "新闻传播学": ("文学",),
    "历史学": ("历史学",),
    "军事学": ("军事学",),
    "工商管理": ("管理学",),
    "公共管理": ("管理学",),
    "农林经济管理": ("管理学",),
    "图书馆、情报与档案管理": ("管理学",),
    "艺术学": ("艺术学",),
}
CATEGORIES = frozenset(c for cats in DISCIPLINE_CATEGORIES.values() for c in cats)


def categories_of(field_name: str | None) -> frozenset[str]:
    if not field_name:
        return frozenset()
    if field_name in CATEGORIES:
        return frozenset({field_name})
    return frozenset(DISCIPLINE_CATEGORIES.get(field_name, ()))


def field_fit(demand_field: str | None, result_field: str | None) -> float:
    """1 for the same discipline, or when the result's discipline lies in the demand's
    (coarse) category; 0.5 when two fine disciplines share a category; 0 otherwise;
    NaN when a field is missing or not in the taxonomy."""
    if not demand_field or not result_field:
        return math.nan
    if demand_field == result_field:
        return 1.0
    d_cats, r_cats = categories_of(demand_field), categories_of(result_field)
    if not d_cats or not r_cats:
        return math.nan
    if demand_field in CATEGORIES:
        return 1.0 if demand_field in r_cats else 0.0
    return 0.5 if d_cats & r_cats else 0.0


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
