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

import numpy as np

from matching.matcher import engine, lexical
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
    ) -> list[str]:
        """Pool ids, best first, for one query (at most ``limit``)."""
        q_tokens = tokens_for(query_text)
        dense_all = self.vectors @ np.asarray(qvec, dtype=np.float32)
        ann = np.argsort(-dense_all, kind="stable")[: engine.ANN_CANDIDATES].tolist()
        candidates = list(dict.fromkeys(ann + self.lexical_candidates(q_tokens)))
        bm25 = lexical.bm25_scores(q_tokens, [self.tokens[i] for i in candidates], self.stats)
        fused = engine.rerank(
            dense=dense_all[candidates],
            bm25=bm25,
            sample_dense=dense_all[self.sample],
            sample_bm25=self.sample_corpus.scores(q_tokens, self.stats),
            structured=structured(candidates) if structured else {},
        )
        return [self.ids[candidates[j]] for j in fused.order()[:limit]]
