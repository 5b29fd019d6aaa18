"""The calibrated match score: an estimate of P(relevant) for one (need, candidate) pair.

The fused ranking score (``matching.matcher.ranking.fuse``) is relative to the pool: z-scores say how much
better a candidate is than the pool's average for *this* need, so every need's best candidate looks
good, even when nothing in the pool answers it. The calibrated score adds absolute signals — the raw
cosine and the share of the need's rare terms (idf-weighted) that the candidate covers — to the
fused score, and a logistic regression turns them into a probability. It is fitted on the dev split
(``manage.py fit_calibration``, cross-validated by need) and stored, tagged with the embedding
model id, in ``matching/calibration.json``: a cosine means something else under another model, so
a model without a fit falls back to the old logistic of the fused score (``calibrated`` False).

The email threshold (``alert_threshold``, overridden by the ``NOTIFICATION_MIN_SCORE`` setting) is fitted with it: the lowest score at which, on dev, at
least 80 % of the top-10 matches that clear it are relevant.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from matching.matcher import lexical

CALIBRATION_FILE = Path(__file__).resolve().parent / "calibration.json"
# The features the logistic regression reads, in this order (see ``features``).
FEATURES = ("fused", "cosine", "coverage", "z_bm25")
# A pool too small for a z-score scale (fewer than ``engine.POOL_SAMPLE_MIN`` documents: a new
# platform, a test) has only the candidates' own scale, on which the fused score is not what the
# calibration was fitted on; there a second fit over the absolute signals alone is used.
ABSOLUTE_FEATURES = ("cosine", "coverage")
ABSOLUTE_SUFFIX = "#absolute"
# Old display score (logistic of the fused score), for a model that has no calibration.
LEGACY_CENTER = 2.0
LEGACY_SCALE = 1.0
LEGACY_THRESHOLD = 0.5


def legacy_score(fused: float) -> float:
    return 1.0 / (1.0 + math.exp(-(fused - LEGACY_CENTER) / LEGACY_SCALE))


def _is_coverage_term(term: str) -> bool:
    # Single CJK characters say little on their own; bigrams and ASCII words carry the topic.
    return len(term) > 1


def coverage(
    query_tokens: Sequence[str], doc_token_lists: Sequence[Sequence[str]], stats: lexical.Bm25Stats
) -> np.ndarray:
    """For each document, the idf-weighted share of the query's distinct terms (bigrams and words)
    it contains: 1 when it uses every term of the need, rare ones counting most."""
    terms = [t for t in dict.fromkeys(query_tokens) if _is_coverage_term(t)]
    out = np.zeros(len(doc_token_lists), dtype=np.float64)
    if not terms:
        return out
    weights = {t: stats.idf(t) for t in terms}
    total = sum(weights.values())
    if total <= 0:
        return out
    for j, tokens in enumerate(doc_token_lists):
        present = set(tokens)
        out[j] = sum(w for t, w in weights.items() if t in present) / total
    return out


def features(
    *,
    fused: np.ndarray,
    cosine: np.ndarray,
    coverage: np.ndarray,
    z_bm25: np.ndarray,
) -> dict[str, np.ndarray]:
    return {
        "fused": np.asarray(fused, dtype=np.float64),
        "cosine": np.asarray(cosine, dtype=np.float64),
        "coverage": np.asarray(coverage, dtype=np.float64),
        "z_bm25": np.asarray(z_bm25, dtype=np.float64),
    }


@dataclass(frozen=True)
class Calibration:
    """A fitted logistic regression over ``features`` plus the thresholds fitted with it."""

    model_id: str
    features: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    alert_threshold: float
    # Sentence evidence levels (强/中/弱) by the evidence's Dice similarity.
    evidence_levels: Mapping[str, float]
    metrics: Mapping[str, float]

    def probability(self, values: Mapping[str, np.ndarray]) -> np.ndarray:
        x = np.column_stack([np.asarray(values[name], dtype=np.float64) for name in self.features])
        z = (x - np.asarray(self.mean)) / np.asarray(self.scale)
        logit = z @ np.asarray(self.coef) + self.intercept
        return 1.0 / (1.0 + np.exp(-logit))

    def to_dict(self) -> dict:
        return {
            "model_id": self.model_id,
            "features": list(self.features),
            "mean": list(self.mean),
            "scale": list(self.scale),
            "coef": list(self.coef),
            "intercept": self.intercept,
            "alert_threshold": self.alert_threshold,
            "evidence_levels": dict(self.evidence_levels),
            "metrics": dict(self.metrics),
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> Calibration:
        return cls(
            model_id=str(data["model_id"]),
            features=tuple(data["features"]),
            mean=tuple(float(v) for v in data["mean"]),
            scale=tuple(float(v) for v in data["scale"]),
            coef=tuple(float(v) for v in data["coef"]),
            intercept=float(data["intercept"]),
            alert_threshold=float(data["alert_threshold"]),
            evidence_levels={k: float(v) for k, v in (data.get("evidence_levels") or {}).items()},
            metrics=dict(data.get("metrics") or {}),
        )


@functools.cache
def _stored() -> dict[str, Calibration]:
    if not CALIBRATION_FILE.is_file():
        return {}
    data = json.loads(CALIBRATION_FILE.read_text(encoding="utf-8"))
    return {key: Calibration.from_dict(value) for key, value in data.items()}


def shipped(model_id: str) -> Calibration | None:
    """The calibration shipped in ``calibration.json`` for this embedding model, or None."""
    return _stored().get(model_id)


def for_model(model_id: str) -> Calibration | None:
    """The calibration in force for this embedding model: the one of its active tuned configuration
    (``manage.py tune_ranking``, ``matching.matcher.active``), else the shipped one, else None."""
    from matching.matcher import active

    return active.tuned_calibration(model_id) or shipped(model_id)


def save(calibration: Calibration, path: Path = CALIBRATION_FILE) -> None:
    """Store ``calibration`` under its model id (other models' fits are kept)."""
    data = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    data[calibration.model_id] = calibration.to_dict()
    path.write_text(
        json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n", encoding="utf-8"
    )
    _stored.cache_clear()


def scores(
    model_id: str, values: Mapping[str, np.ndarray], *, small_pool: bool = False
) -> tuple[np.ndarray, bool]:
    """The displayed score of each candidate and whether it is calibrated (``small_pool``: the
    z-scores are on the candidates' own scale, see ``ABSOLUTE_FEATURES``)."""
    calibration = for_model(model_id)
    if small_pool and calibration is not None:
        calibration = for_model(model_id + ABSOLUTE_SUFFIX) or calibration
    if calibration is None:
        fused = np.asarray(values["fused"], dtype=np.float64)
        return np.asarray([legacy_score(float(f)) for f in fused]), False
    return calibration.probability(values), True


def order(scores: np.ndarray, fused: np.ndarray) -> np.ndarray:
    """Candidate indices best first: by calibrated score, ties (and near-zero scores) by the fused
    score. Measured on dev this ranks as well as the fused score alone or better (docs/matching.md)."""
    return np.lexsort((-np.asarray(fused, dtype=np.float64), -np.round(scores, 6)))


def alert_threshold(model_id: str | None = None) -> float:
    """The score a match must reach to be emailed and called strong: ``NOTIFICATION_MIN_SCORE``
    when set, else the calibrated threshold of the model (the serving one by default), else the
    legacy 0.5."""
    from django.conf import settings

    configured = getattr(settings, "NOTIFICATION_MIN_SCORE", None)
    if configured is not None:
        return float(configured)
    if model_id is None:
        from matching.matcher.embedding import model_id as current_model_id

        model_id = current_model_id()
    calibration = for_model(model_id)
    return calibration.alert_threshold if calibration else LEGACY_THRESHOLD


def strength(score: float, model_id: str | None) -> str:
    """ "strong" when the score clears the email threshold of its model, else "weak": a weak
    candidate is shown as such, never emailed."""
    return "strong" if score >= alert_threshold(model_id or "") else "weak"


def evidence_level(model_id: str | None, similarity: float) -> str | None:
    """强 / 中 / 弱 ("strong", "medium", "weak") for a sentence-evidence similarity, or None when it
    is below the weak level (no evidence)."""
    calibration = for_model(model_id) if model_id else None
    levels = (calibration.evidence_levels if calibration else None) or DEFAULT_EVIDENCE_LEVELS
    for name in ("strong", "medium", "weak"):
        if similarity >= levels[name]:
            return name
    return None


DEFAULT_EVIDENCE_LEVELS = {"strong": 0.5, "medium": 0.3, "weak": 0.15}
