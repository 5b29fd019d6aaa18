"""The service's ranking over a pool held in memory, for ``evaluate_matcher``.

Same steps and code as ``matching.matcher.engine.rank`` — ANN top-K ∪ lexical top-K on the rarest query
terms, BM25 under the pool's statistics, z-scores on a fixed pool sample, ``engine.rerank`` — with
exact dense search standing in for HNSW (whose recall against exact search is measured separately
in bench/bench_matcher.py) and Python sets standing in for the GIN index.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from matching.matcher import calibration, engine, lexical, ranking
from matching.matcher.indexing import tokens_for


def _md5(value) -> str:
    # Not for security: the same pseudo-random order as PostgreSQL's md5(object_id::text).
    return hashlib.md5(str(value).encode(), usedforsecurity=False).hexdigest()


class OfflinePool:
    def __init__(self, ids: Sequence[str], texts: Sequence[str], vectors: np.ndarray):
        self.ids = list(ids)
        self.vectors = np.asarray(vectors, dtype=np.float32)
        self.tokens = [tokens_for(t) for t in texts]
        self.stats = lexical.Bm25Stats.from_documents(self.tokens)
        self.postings: dict[str, list[int]] = {}
        for i, tokens in enumerate(self.tokens):
            for term in set(tokens):
                self.postings.setdefault(term, []).append(i)
        # The service samples the pool in md5(object_id) order; the same rule here.
        order = sorted(range(len(self.ids)), key=lambda i: _md5(self.ids[i]))
        self.sample = order[: engine.POOL_SAMPLE_SIZE]
        self.sample_corpus = lexical.Bm25Corpus([self.tokens[i] for i in self.sample])

    def lexical_candidates(
        self, query_tokens: Sequence[str], k: int = engine.LEXICAL_CANDIDATES
    ) -> list[int]:
        counts: Counter[int] = Counter()
        for term in engine.rare_terms(query_tokens, self.stats):
            counts.update(self.postings.get(term, ()))
        return [i for i, _n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:k]]

    def rank(
        self,
        query_text: str,
        qvec: np.ndarray,
        *,
        structured: Callable[[list[int]], dict[str, np.ndarray]] | None = None,
        limit: int = 100,
        model_id: str | None = None,
    ) -> list[str]:
        """Pool ids, best first, for one query (at most ``limit``)."""
        return self.rank_scored(
            query_text, qvec, structured=structured, limit=limit, model_id=model_id
        ).ids

    def rank_scored(
        self,
        query_text: str,
        qvec: np.ndarray,
        *,
        structured: Callable[[list[int]], dict[str, np.ndarray]] | None = None,
        limit: int | None = 100,
        model_id: str | None = None,
        config: ranking.RankingConfig = ranking.DEFAULT_CONFIG,
        scorer: calibration.Calibration | None = None,
    ) -> Ranked:
        """The best ``limit`` pool ids for one query with their fused scores and the calibration
        features (``matching.matcher.calibration.FEATURES``), best first (``limit`` None: every
        candidate). With a ``scorer`` (a calibration) or the ``model_id`` of a calibrated model,
        ordered by the calibrated score as the service does; else by the fused score (as the
        calibration is fitted). ``config``: the fusion weights."""
        q_tokens = tokens_for(query_text)
        dense_all = self.vectors @ np.asarray(qvec, dtype=np.float32)
        ann = np.argsort(-dense_all, kind="stable")[: engine.ANN_CANDIDATES].tolist()
        candidates = list(dict.fromkeys(ann + self.lexical_candidates(q_tokens)))
        doc_tokens = [self.tokens[i] for i in candidates]
        bm25 = lexical.bm25_scores(q_tokens, doc_tokens, self.stats)
        sample_bm25 = self.sample_corpus.scores(q_tokens, self.stats)
        fits = structured(candidates) if structured else {}
        fused = engine.rerank(
            dense=dense_all[candidates],
            bm25=bm25,
            sample_dense=dense_all[self.sample],
            sample_bm25=sample_bm25,
            structured=fits,
            config=config,
        )
        values = engine.calibration_features(
            fused=fused.scores,
            dense=dense_all[candidates],
            bm25=bm25,
            sample_bm25=sample_bm25,
            query_tokens=q_tokens,
            doc_tokens=doc_tokens,
            stats=self.stats,
        )
        order = fused.order()
        if scorer is not None:
            order = calibration.order(scorer.probability(values), fused.scores)
        elif model_id is not None:
            scores, calibrated = calibration.scores(model_id, values)
            if calibrated:
                order = calibration.order(scores, fused.scores)
        order = order[:limit]
        signals = {
            "z_dense": engine.pool_zscores(dense_all[candidates], dense_all[self.sample]),
            **{f"fit_{name}": np.asarray(v, dtype=np.float64) for name, v in fits.items()},
        }
        return Ranked(
            ids=[self.ids[candidates[j]] for j in order],
            fused=fused.scores[order],
            features={name: v[order] for name, v in values.items()},
            signals={name: v[order] for name, v in signals.items()},
        )


@dataclass
class Ranked:
    """One query's ranking: pool ids best first, and per id its fused score and features."""

    ids: list[str]
    fused: np.ndarray
    features: dict[str, np.ndarray]
    # Weight-free signals for refitting the fusion (``matching.matcher.tuning``): the dense z-score
    # and each raw structured fit (``fit_<name>``, NaN = unknown); the lexical z-score is
    # ``features["z_bm25"]``.
    signals: dict[str, np.ndarray] = field(default_factory=dict)

    def scores(self, model_id: str, scorer: calibration.Calibration | None = None) -> np.ndarray:
        if scorer is not None:
            return scorer.probability(self.features)
        return calibration.scores(model_id, self.features)[0]
