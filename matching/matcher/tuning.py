"""Refitting the fusion weights and the calibration from an evaluation split plus users' feedback
(``manage.py tune_ranking``), and the rule that decides whether the refit may serve.

1. **Signals.** Every need of the split is ranked once with the service's code
   (``calibration_fit.rank_split``, every candidate kept, full and orphan pool), keeping for each
   candidate the weight-free signals: the dense and lexical z-scores, each structured fit, the raw
   cosine and the rare-term coverage. The candidate set does not depend on the weights, so any
   weighting can be re-scored from these without ranking again. Feedback rows carry the same signals
   (stored in ``Match.components`` when the match was made): 感兴趣 is a positive, 不相关 a negative.
2. **Weights.** Coordinate search from the current weights over bounded grids (``DENSE_GRID``,
   ``WEIGHT_GRID``). A configuration is admissible when the split's nDCG@10 (by the fused score) is
   not lower than the current one's; among admissible ones the search maximises the feedback's AUC
   (how often a positive is scored above a negative) when there is feedback, else the split's
   nDCG@10; ties keep the configuration closest to the current one. The split has no TRL, mode, budget
   or region, so those weights move only with feedback.
3. **Calibration.** Refitted on the split's rankings under the new weights (as ``fit_calibration``
   does, cross-validated by need, threshold chosen on out-of-fold scores) with the feedback rows added
   to every training fold.
4. **Gate.** The current and the candidate configuration are evaluated on the split with the service's
   ranking (``evaluate``), and the candidate is activated only when nDCG@10 is not lower and the
   calibration targets (``TARGETS``) still hold — or, where the current configuration already missed
   one, the candidate is not further from it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from matching.matcher import calibration, calibration_fit, evaluation
from matching.matcher.offline import Ranked
from matching.matcher.ranking import RankingConfig

STRUCTURED = ("field", "trl", "cooperation", "budget", "region")
DENSE_GRID = (0.5, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95)
WEIGHT_GRID = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0)
SEARCH_ROUNDS = 3
# Calibration targets at the email threshold (issue 16): (metric, "max" or "min", bound).
TARGETS = (
    ("orphan_alert_rate", "max", calibration_fit.MAX_ORPHAN_RATE),
    ("alert_recall", "min", 0.85),
    ("ece", "max", 0.05),
)
TOLERANCE = 1e-9


@dataclass
class Table:
    """Weight-free signals of labelled (need, candidate) pairs, one block per need."""

    ids: list[list[str]]
    z_dense: list[np.ndarray]
    z_lexical: list[np.ndarray]
    fits: list[dict[str, np.ndarray]]
    cosine: list[np.ndarray]
    coverage: list[np.ndarray]

    def fused(self, i: int, config: RankingConfig) -> np.ndarray:
        scores = config.dense * self.z_dense[i] + config.lexical * self.z_lexical[i]
        for name, weight in config.structured.items():
            fit = self.fits[i].get(name)
            if weight and fit is not None:
                scores = scores + weight * np.where(np.isnan(fit), config.unknown_fit, fit)
        return scores


def table_from_rankings(rankings: Mapping[str, Ranked]) -> tuple[list[str], Table]:
    """The signals of every need's candidates (``calibration_fit.rank_split`` with ``depth=None``)."""
    keys = list(rankings)
    table = Table([], [], [], [], [], [])
    for key in keys:
        ranked = rankings[key]
        table.ids.append(list(ranked.ids))
        table.z_dense.append(np.asarray(ranked.signals["z_dense"], dtype=np.float64))
        table.z_lexical.append(np.asarray(ranked.features["z_bm25"], dtype=np.float64))
        table.fits.append(
            {
                name.removeprefix("fit_"): np.asarray(v, dtype=np.float64)
                for name, v in ranked.signals.items()
                if name.startswith("fit_")
            }
        )
        table.cosine.append(np.asarray(ranked.features["cosine"], dtype=np.float64))
        table.coverage.append(np.asarray(ranked.features["coverage"], dtype=np.float64))
    return keys, table


@dataclass
class Feedback:
    """Labelled pairs from users' feedback: signals as stored in ``Match.components``."""

    labels: np.ndarray
    table: Table

    @classmethod
    def from_rows(cls, rows: Sequence[tuple[Mapping[str, float], bool]]) -> Feedback:
        def column(key: str, default: float = math.nan) -> np.ndarray:
            return np.asarray([float(c.get(key, default)) for c, _l in rows], dtype=np.float64)

        table = Table(
            ids=[[str(i) for i in range(len(rows))]],
            z_dense=[column("z_dense", 0.0)],
            z_lexical=[column("z_lexical", 0.0)],
            fits=[{name: column(f"fit_{name}") for name in STRUCTURED}],
            cosine=[column("dense_cosine", 0.0)],
            coverage=[column("coverage", 0.0)],
        )
        return cls(labels=np.asarray([bool(label) for _c, label in rows]), table=table)

    @property
    def usable(self) -> bool:
        """Both kinds of verdict are needed to say which weighting orders them better."""
        return bool(self.labels.any() and (~self.labels).any())

    def auc(self, config: RankingConfig) -> float:
        """Share of (positive, negative) pairs scored in that order by the fused score (ties ½)."""
        scores = self.table.fused(0, config)
        pos, neg = scores[self.labels], scores[~self.labels]
        if not pos.size or not neg.size:
            return math.nan
        diff = pos[:, None] - neg[None, :]
        return float(((diff > 0).sum() + 0.5 * (diff == 0).sum()) / diff.size)

    def calibration_rows(self, config: RankingConfig, feature_names: Sequence[str]):
        values = {
            "fused": self.table.fused(0, config),
            "cosine": self.table.cosine[0],
            "coverage": self.table.coverage[0],
            "z_bm25": self.table.z_lexical[0],
        }
        x = np.column_stack([values[name] for name in feature_names])
        return x, self.labels.astype(int)


def split_ndcg(
    keys: Sequence[str],
    table: Table,
    qrels: Mapping[str, Mapping[str, int]],
    config: RankingConfig,
) -> float:
    """Mean nDCG@10 of the split's needs with a target, ranked by the fused score under ``config``."""
    values = []
    for i, key in enumerate(keys):
        rels = qrels.get(key, {})
        if not any(r >= evaluation.TARGET for r in rels.values()):
            continue
        order = np.argsort(-table.fused(i, config), kind="stable")[:10]
        values.append(evaluation.ndcg_at([table.ids[i][j] for j in order], rels, 10))
    return float(np.mean(values)) if values else 0.0


def _with(config: RankingConfig, name: str, value: float) -> RankingConfig:
    if name == "dense":
        return replace(config, dense=value)
    return replace(config, structured={**config.structured, name: value})


def _distance(a: RankingConfig, b: RankingConfig) -> float:
    return abs(a.dense - b.dense) + sum(
        abs(a.structured.get(k, 0.0) - b.structured.get(k, 0.0)) for k in STRUCTURED
    )


def search_weights(
    keys: Sequence[str],
    table: Table,
    qrels: Mapping[str, Mapping[str, int]],
    feedback: Feedback | None,
    current: RankingConfig,
) -> tuple[RankingConfig, dict[str, float]]:
    """Coordinate search (module docstring, step 2). Returns the weights and their search figures."""
    base = split_ndcg(keys, table, qrels, current)
    use_feedback = feedback is not None and feedback.usable

    def key(config: RankingConfig) -> tuple:
        ndcg = split_ndcg(keys, table, qrels, config)
        goal = feedback.auc(config) if use_feedback else ndcg
        return (ndcg >= base - TOLERANCE, goal, ndcg, -_distance(config, current))

    best, best_key = current, key(current)
    for _round in range(SEARCH_ROUNDS):
        changed = False
        for name in ("dense", *STRUCTURED):
            for value in DENSE_GRID if name == "dense" else WEIGHT_GRID:
                candidate = _with(best, name, value)
                candidate_key = key(candidate)
                if candidate_key > best_key:
                    best, best_key, changed = candidate, candidate_key, True
        if not changed:
            break
    figures = {"search_ndcg@10_current": base, "search_ndcg@10_candidate": best_key[2]}
    if use_feedback:
        figures["feedback_auc_current"] = feedback.auc(current)
        figures["feedback_auc_candidate"] = feedback.auc(best)
    return best, figures


def rankings_under(
    keys: Sequence[str], table: Table, config: RankingConfig, depth: int
) -> dict[str, Ranked]:
    """Each need's top ``depth`` by the fused score under ``config``, with calibration features."""
    out = {}
    for i, key in enumerate(keys):
        fused = table.fused(i, config)
        order = np.argsort(-fused, kind="stable")[:depth]
        out[key] = Ranked(
            ids=[table.ids[i][j] for j in order],
            fused=fused[order],
            features={
                "fused": fused[order],
                "cosine": table.cosine[i][order],
                "coverage": table.coverage[i][order],
                "z_bm25": table.z_lexical[i][order],
            },
        )
    return out


def refit_calibration(
    signals: calibration_fit.SplitRankings,
    config: RankingConfig,
    feedback: Feedback | None,
    *,
    model_id: str,
    evidence_levels: Mapping[str, float] | None,
) -> tuple[calibration.Calibration, calibration.Calibration, dict[str, float]]:
    """The calibration (and its absolute-signals fit) for ``config`` (module docstring, step 3)."""
    full_keys, full_table = table_from_rankings(signals.full)
    orphan_keys, orphan_table = table_from_rankings(signals.orphan)
    depth = calibration_fit.TRAIN_DEPTH
    split = calibration_fit.SplitRankings(
        full=rankings_under(full_keys, full_table, config, depth),
        orphan=rankings_under(orphan_keys, orphan_table, config, depth),
        qrels=signals.qrels,
        removed=signals.removed,
    )

    def extra(names):
        return (
            feedback.calibration_rows(config, names) if feedback and len(feedback.labels) else None
        )

    main, cv, _oof = calibration_fit.fit(
        split,
        model_id=model_id,
        evidence_levels=evidence_levels,
        extra=extra(calibration.FEATURES),
    )
    absolute, _cv, _oof = calibration_fit.fit(
        split,
        model_id=model_id + calibration.ABSOLUTE_SUFFIX,
        feature_names=calibration.ABSOLUTE_FEATURES,
        threshold=main.alert_threshold,
        evidence_levels=evidence_levels,
        extra=extra(calibration.ABSOLUTE_FEATURES),
    )
    return main, absolute, {f"cv_{k}": v for k, v in cv.items()}


@dataclass
class SplitData:
    """An evaluation split with its texts and vectors, ranked as often as needed."""

    demands: list[dict]
    results: list[dict]
    qrels: dict[str, dict[str, int]]
    demand_texts: list[str]
    result_texts: list[str]
    q_vecs: np.ndarray
    r_vecs: np.ndarray

    def rank(self, **options) -> calibration_fit.SplitRankings:
        return calibration_fit.rank_split(
            self.demands,
            self.results,
            self.qrels,
            self.demand_texts,
            self.result_texts,
            self.q_vecs,
            self.r_vecs,
            **options,
        )


def evaluate(
    data: SplitData,
    config: RankingConfig,
    scorer: calibration.Calibration | None,
    *,
    model_id: str,
    threshold: float | None = None,
) -> dict[str, float]:
    """The figures ``evaluate_matcher`` reports, for the weights ``config`` and the calibration
    ``scorer`` (None: the model's calibration in force): ranking quality and, at the email threshold,
    alert_recall, orphan_alert_rate, alert_precision and ece."""
    split = data.rank(depth=100, model_id=model_id, config=config, scorer=scorer)
    metrics = evaluation.compute_metrics({d: r.ids for d, r in split.full.items()}, data.qrels)
    full = {d: r.scores(model_id, scorer) for d, r in split.full.items()}
    orphan = {d: r.scores(model_id, scorer) for d, r in split.orphan.items()}
    if threshold is None:
        threshold = (
            scorer.alert_threshold if scorer is not None else calibration.alert_threshold(model_id)
        )
    metrics.update(calibration_fit.calibration_metrics(split, full, orphan, threshold))
    return metrics


def decide(current: Mapping[str, float], candidate: Mapping[str, float]) -> tuple[bool, list[str]]:
    """Whether the candidate may serve (module docstring, step 4), and why not."""
    refusals = []
    if candidate["ndcg@10"] < current["ndcg@10"] - TOLERANCE:
        refusals.append(f"ndcg@10 {candidate['ndcg@10']:.4f} < current {current['ndcg@10']:.4f}")
    for name, kind, bound in TARGETS:
        new, old = candidate.get(name, math.nan), current.get(name, math.nan)
        if math.isnan(new):
            continue
        holds = new <= bound if kind == "max" else new >= bound
        if holds:
            continue
        not_worse = (new <= old + TOLERANCE) if kind == "max" else (new >= old - TOLERANCE)
        if math.isnan(old) or (old <= bound if kind == "max" else old >= bound) or not not_worse:
            refusals.append(f"{name} {new:.4f} misses its target ({kind} {bound})")
    return not refusals, refusals


def comparison_table(current: Mapping[str, float], candidate: Mapping[str, float]) -> str:
    names = [
        "ndcg@10",
        "recall@10",
        "mrr@10",
        "alert_threshold",
        "alert_recall",
        "orphan_alert_rate",
        "alert_precision",
        "ece",
    ]
    lines = [f"{'metric':<20}{'current':>10}{'candidate':>11}{'change':>10}"]
    for name in names:
        a, b = float(current.get(name, math.nan)), float(candidate.get(name, math.nan))
        lines.append(f"{name:<20}{a:>10.4f}{b:>11.4f}{b - a:>+10.4f}")
    return "\n".join(lines)
