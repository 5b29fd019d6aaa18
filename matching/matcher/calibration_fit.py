"""Fitting and measuring the calibrated score on an evaluation split (``fit_calibration``,
``evaluate_matcher``).

Two rankings of every need are made with the service's code (``matching.matcher.offline``):

- the **full** pool: each need's top candidates, labelled relevant when the qrels give them a
  relevance ≥ 1;
- the **orphan** pool: the same pool with every labelled-relevant result of every need removed, so
  that no need has an answer; its candidates are all negatives. They are what a need that no lab can
  answer looks like, the case the old score could not tell apart.

The logistic regression is fitted on both (top ``TRAIN_DEPTH`` of each), cross-validated by need
(``GroupKFold``): the thresholds are chosen, and the figures reported, on out-of-fold scores.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from matching.matcher import calibration, evaluation
from matching.matcher.offline import OfflinePool, Ranked
from matching.matcher.ranking import DEFAULT_CONFIG, RankingConfig

TRAIN_DEPTH = 20
ALERT_DEPTH = 10
TARGET_PRECISION = 0.8
MAX_ORPHAN_RATE = 0.10
ECE_BINS = 10
FOLDS = 5


@dataclass
class SplitRankings:
    """Rankings of one split, full and orphan pool, each need's top ``depth`` with features."""

    full: dict[str, Ranked]
    orphan: dict[str, Ranked]
    qrels: Mapping[str, Mapping[str, int]]
    removed: set[str] = field(default_factory=set)


def relevant_ids(qrels: Mapping[str, Mapping[str, int]]) -> set[str]:
    return {rid for rels in qrels.values() for rid, rel in rels.items() if rel >= 1}


def rank_split(
    demands: Sequence[dict],
    results: Sequence[dict],
    qrels: Mapping[str, Mapping[str, int]],
    demand_texts: Sequence[str],
    result_texts: Sequence[str],
    q_vecs: np.ndarray,
    r_vecs: np.ndarray,
    *,
    depth: int | None = 100,
    model_id: str | None = None,
    config: RankingConfig = DEFAULT_CONFIG,
    scorer: calibration.Calibration | None = None,
    log: Callable[[str], None] = lambda _m: None,
) -> SplitRankings:
    """Rank every need against the full pool and against the orphan pool with the fusion weights
    ``config`` (ordered by the calibrated score of ``scorer`` or of ``model_id`` when given, else by
    the fused score; ``depth`` None keeps every candidate)."""
    removed = relevant_ids(qrels)
    options = {"depth": depth, "model_id": model_id, "config": config, "scorer": scorer}
    full = _rank_pool(demands, results, demand_texts, result_texts, q_vecs, r_vecs, **options)
    log("full pool ranked; ranking the orphan pool…")
    keep = [j for j, r in enumerate(results) if r["id"] not in removed]
    orphan = _rank_pool(
        demands,
        [results[j] for j in keep],
        demand_texts,
        [result_texts[j] for j in keep],
        q_vecs,
        np.asarray(r_vecs)[keep],
        **options,
    )
    return SplitRankings(full=full, orphan=orphan, qrels=qrels, removed=removed)


def _rank_pool(
    demands, results, demand_texts, result_texts, q_vecs, r_vecs, *, depth, model_id, config, scorer
):
    pool = OfflinePool([r["id"] for r in results], result_texts, r_vecs)
    result_fields = [r.get("field") for r in results]

    def field_fits(demand_field, candidates):
        return {
            "field": np.asarray(
                [evaluation.split_field_fit(demand_field, result_fields[c]) for c in candidates]
            )
        }

    return {
        d["id"]: pool.rank_scored(
            demand_texts[i],
            q_vecs[i],
            structured=partial(field_fits, d.get("field")),
            limit=depth,
            model_id=model_id,
            config=config,
            scorer=scorer,
        )
        for i, d in enumerate(demands)
    }


# --- metrics --------------------------------------------------------------------------------------


def expected_calibration_error(
    scores: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS
) -> float:
    """ECE over equal-width bins of [0, 1]: Σ (share of pairs in the bin) · |mean score − mean label|."""
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels, dtype=np.float64)
    if not scores.size:
        return 0.0
    which = np.minimum((scores * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        mask = which == b
        if mask.any():
            total += mask.mean() * abs(scores[mask].mean() - labels[mask].mean())
    return float(total)


def calibration_curve(scores: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> list[dict]:
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels, dtype=np.float64)
    which = np.minimum((scores * bins).astype(int), bins - 1)
    return [
        {
            "bin": b,
            "n": int((which == b).sum()),
            "mean_score": float(scores[which == b].mean()),
            "share_relevant": float(labels[which == b].mean()),
        }
        for b in range(bins)
        if (which == b).any()
    ]


def top_pairs(
    rankings: Mapping[str, Ranked],
    scores: Mapping[str, np.ndarray],
    qrels: Mapping[str, Mapping[str, int]],
    depth: int = ALERT_DEPTH,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scores, relevant (rel ≥ 1) and target (rel 2) flags of every need's top ``depth``."""
    s, rel, target = [], [], []
    for demand_id, ranked in rankings.items():
        rels = qrels.get(demand_id, {})
        for rid, value in zip(ranked.ids[:depth], scores[demand_id][:depth], strict=False):
            s.append(value)
            rel.append(rels.get(rid, 0) >= 1)
            target.append(rels.get(rid, 0) >= 2)
    return np.asarray(s, np.float64), np.asarray(rel, bool), np.asarray(target, bool)


def calibration_metrics(
    split: SplitRankings,
    full_scores: Mapping[str, np.ndarray],
    orphan_scores: Mapping[str, np.ndarray],
    threshold: float,
) -> dict[str, float]:
    """``alert_recall``, ``orphan_alert_rate``, ``ece`` and ``alert_precision`` at ``threshold``."""
    s, rel, target = top_pairs(split.full, full_scores, split.qrels)
    alerted = s >= threshold
    # The best-scored candidate is the one shown (and emailed) first.
    tops = np.asarray([v.max() if len(v) else 0.0 for v in orphan_scores.values()])
    return {
        "alert_threshold": round(float(threshold), 4),
        "alert_recall": float(alerted[target].mean()) if target.any() else math.nan,
        "orphan_alert_rate": float((tops >= threshold).mean()) if tops.size else math.nan,
        "alert_precision": float(rel[alerted].mean()) if alerted.any() else math.nan,
        "ece": expected_calibration_error(s, rel),
    }


def choose_threshold(
    scores: np.ndarray,
    relevant: np.ndarray,
    orphan_tops: np.ndarray,
    *,
    precision: float = TARGET_PRECISION,
    orphan_rate: float = MAX_ORPHAN_RATE,
) -> float:
    """The lowest threshold (on a 0.01 grid) from which on the alerted pairs are at least
    ``precision`` relevant, and at which at most ``orphan_rate`` of the needs without an answer
    would alert anyone. The lowest such threshold keeps the most relevant alerts."""
    grid = np.round(np.arange(0.01, 1.0, 0.01), 2)

    def precise(u: float) -> bool:
        alerted = scores >= u
        return not alerted.any() or relevant[alerted].mean() >= precision

    for t in grid:
        if (orphan_tops >= t).mean() <= orphan_rate and all(precise(u) for u in grid[grid >= t]):
            return float(t)
    return 0.99


# --- fitting --------------------------------------------------------------------------------------


def training_rows(
    split: SplitRankings,
    depth: int = TRAIN_DEPTH,
    feature_names: Sequence[str] = calibration.FEATURES,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[tuple[str, str, int]]]:
    """Feature matrix, labels, need groups, and (pool, need, position) of every row."""
    xs, ys, groups, where = [], [], [], []
    demand_index = {d: i for i, d in enumerate(split.full)}
    for pool_name, rankings in (("full", split.full), ("orphan", split.orphan)):
        for demand_id, ranked in rankings.items():
            rels = split.qrels.get(demand_id, {})
            for pos, rid in enumerate(ranked.ids[:depth]):
                xs.append([ranked.features[name][pos] for name in feature_names])
                ys.append(1 if rels.get(rid, 0) >= 1 else 0)
                groups.append(demand_index[demand_id])
                where.append((pool_name, demand_id, pos))
    return np.asarray(xs), np.asarray(ys), np.asarray(groups), where


def _fit_logistic(x: np.ndarray, y: np.ndarray):
    from sklearn.linear_model import LogisticRegression

    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale < 1e-12] = 1.0
    model = LogisticRegression(C=1.0, max_iter=1000)
    model.fit((x - mean) / scale, y)
    return mean, scale, model.coef_[0], float(model.intercept_[0])


def _predict(params, x: np.ndarray) -> np.ndarray:
    mean, scale, coef, intercept = params
    return 1.0 / (1.0 + np.exp(-(((x - mean) / scale) @ coef + intercept)))


def _scores_by_need(
    split: SplitRankings,
    predict: Callable[[np.ndarray], np.ndarray],
    feature_names: Sequence[str] = calibration.FEATURES,
):
    out = {}
    for pool_name, rankings in (("full", split.full), ("orphan", split.orphan)):
        out[pool_name] = {
            demand_id: predict(np.column_stack([ranked.features[name] for name in feature_names]))
            if ranked.ids
            else np.zeros(0)
            for demand_id, ranked in rankings.items()
        }
    return out["full"], out["orphan"]


def fit(
    split: SplitRankings,
    *,
    model_id: str,
    evidence_levels: Mapping[str, float] | None = None,
    feature_names: Sequence[str] = calibration.FEATURES,
    threshold: float | None = None,
    extra: tuple[np.ndarray, np.ndarray] | None = None,
):
    """Cross-validated fit over ``feature_names``. Returns the final ``Calibration`` (fitted on all
    rows; the threshold, unless given, chosen on the out-of-fold scores), the out-of-fold metrics and
    the out-of-fold scores. ``extra``: more labelled rows (features in ``feature_names`` order,
    labels), e.g. from users' feedback, added to every training fold and to the final fit; the
    out-of-fold figures stay the split's."""
    from sklearn.model_selection import GroupKFold

    x, y, groups, _where = training_rows(split, feature_names=feature_names)
    extra_x, extra_y = extra if extra is not None else (np.zeros((0, x.shape[1])), np.zeros(0))

    def with_extra(xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if not len(extra_y):
            return xs, ys
        return np.vstack([xs, extra_x]), np.concatenate([ys, extra_y])

    demand_ids = list(split.full)
    oof = {pool: {} for pool in ("full", "orphan")}
    for train, test in GroupKFold(n_splits=FOLDS).split(x, y, groups):
        params = _fit_logistic(*with_extra(x[train], y[train]))
        test_needs = {demand_ids[g] for g in set(groups[test].tolist())}
        sub = SplitRankings(
            full={d: split.full[d] for d in test_needs},
            orphan={d: split.orphan[d] for d in test_needs},
            qrels=split.qrels,
        )
        full_s, orphan_s = _scores_by_need(sub, partial(_predict, params), feature_names)
        oof["full"].update(full_s)
        oof["orphan"].update(orphan_s)
    if threshold is None:
        s, rel, _t = top_pairs(split.full, oof["full"], split.qrels)
        tops = np.asarray([v.max() for v in oof["orphan"].values() if len(v)])
        threshold = choose_threshold(s, rel, tops)
    cv_metrics = calibration_metrics(split, oof["full"], oof["orphan"], threshold)
    mean, scale, coef, intercept = _fit_logistic(*with_extra(x, y))
    fitted = calibration.Calibration(
        model_id=model_id,
        features=tuple(feature_names),
        mean=tuple(round(float(v), 6) for v in mean),
        scale=tuple(round(float(v), 6) for v in scale),
        coef=tuple(round(float(v), 6) for v in coef),
        intercept=round(intercept, 6),
        alert_threshold=threshold,
        evidence_levels=dict(evidence_levels or calibration.DEFAULT_EVIDENCE_LEVELS),
        metrics={f"cv_{k}": round(v, 4) for k, v in cv_metrics.items() if k != "alert_threshold"},
    )
    return fitted, cv_metrics, oof


# --- sentence evidence levels ---------------------------------------------------------------------

# The share of top-10 pairs that are relevant among those whose best sentence pair reaches a level.
EVIDENCE_PRECISION = {"weak": 0.5, "medium": 0.7, "strong": 0.9}


def fit_evidence_levels(
    split: SplitRankings,
    need_sentences: Mapping[str, Sequence[str]],
    result_sentences: Mapping[str, Sequence[str]],
) -> dict[str, float]:
    """Dice similarity from which on a sentence pair counts as weak / medium / strong evidence: the
    lowest value (0.01 grid) from which on at least ``EVIDENCE_PRECISION`` of the top-10 matches
    whose best sentence pair reaches it are relevant."""
    from matching.matcher.explain import sentence_pairs

    sims, rel = [], []
    for demand_id, ranked in split.full.items():
        rels = split.qrels.get(demand_id, {})
        for rid in ranked.ids[:ALERT_DEPTH]:
            pairs = sentence_pairs(need_sentences[demand_id], result_sentences[rid])
            sims.append(max((p[2] for p in pairs), default=0.0))
            rel.append(rels.get(rid, 0) >= 1)
    sims_a, rel_a = np.asarray(sims), np.asarray(rel)
    grid = np.round(np.arange(0.05, 1.0, 0.01), 2)
    levels = {}
    for name, precision in EVIDENCE_PRECISION.items():
        ok = [
            t
            for t in grid
            if all(
                not (sims_a >= u).any() or rel_a[sims_a >= u].mean() >= precision
                for u in grid[grid >= t]
            )
        ]
        levels[name] = float(min(ok)) if ok else 0.99
    # Levels are nested: strong ≥ medium ≥ weak.
    levels["medium"] = max(levels["medium"], levels["weak"])
    levels["strong"] = max(levels["strong"], levels["medium"])
    return levels
