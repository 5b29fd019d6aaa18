"""Candidate retrieval in PostgreSQL and re-ranking with ``matching.matcher.ranking``.

For one query (a need, or ad-hoc text) against one kind of candidate (results, capability
profiles, or open needs):

1. candidates = ANN top-K on pgvector (HNSW; exact search when the pool or filtered set is small)
   ∪ lexical top-K (GIN ``tokens && rare query terms``), both filtered inside PostgreSQL;
2. every candidate gets its exact cosine similarity and its BM25 score under the pool's global
   statistics;
3. both are z-scored against the *pool's* distribution, estimated on a fixed sample of the pool
   (so a candidate's score does not depend on which other candidates were retrieved, and the
   scale matches the one the weights were tuned on, see docs/matching.md);
4. ``ranking.fuse`` adds the structured fits (field, TRL, cooperation mode, budget, region).
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from django.db import connection, transaction

from matching.matcher import active, calibration, lexical, ranking
from matching.matcher.documents import MatchDoc, doc_for, load_objects
from matching.matcher.indexing import lexical_stats, tokens_for
from matching.models import EmbeddingVersion, ObjectKind
from taxonomy.models import Field

# How many candidates each retriever contributes before re-ranking.
ANN_CANDIDATES = 100
LEXICAL_CANDIDATES = 100
# Rare query terms used for lexical candidate retrieval (the full query is used for scoring).
LEXICAL_RETRIEVAL_TERMS = 24
# ...as long as together they occur in at most this many documents (keeps the GIN query selective).
LEXICAL_DF_BUDGET = 500
# Below this many vectors (after filters) an exact scan is as fast as HNSW and exact.
EXACT_SEARCH_MAX = 3000
HNSW_EF_SEARCH = 200
# Pool sample for the z-score scale, refreshed every few minutes per process.
POOL_SAMPLE_SIZE = 400
POOL_SAMPLE_TTL = 300.0
# Below this many sampled documents the pool's scale cannot be estimated (``pool_zscores``).
POOL_SAMPLE_MIN = 20


@dataclass
class Candidate:
    kind: str
    object_id: int
    obj: object
    doc: MatchDoc
    dense: float
    lexical: float
    fused: float = 0.0
    components: dict[str, float] = field(default_factory=dict)
    # The calibrated P(relevant) (``matching.matcher.calibration``); the legacy logistic of the fused score
    # when the model has no calibration.
    score: float = 0.0
    calibrated: bool = False
    features: dict[str, float] = field(default_factory=dict)
    # Weight-free signals (``_signals``), stored in the match's components for refitting.
    signals: dict[str, float] = field(default_factory=dict)


def calibration_features(
    *,
    fused: np.ndarray,
    dense: np.ndarray,
    bm25: np.ndarray,
    sample_bm25: np.ndarray,
    query_tokens: Sequence[str],
    doc_tokens: Sequence[Sequence[str]],
    stats: lexical.Bm25Stats,
) -> dict[str, np.ndarray]:
    """The absolute and relative signals the calibrated score reads (``calibration.FEATURES``)."""
    return calibration.features(
        fused=fused,
        cosine=dense,
        coverage=calibration.coverage(query_tokens, doc_tokens, stats),
        z_bm25=pool_zscores(
            np.asarray(bm25, dtype=np.float64), np.asarray(sample_bm25, dtype=np.float64)
        ),
    )


def vector_literal(vector: Iterable[float]) -> str:
    return "[" + ",".join(f"{float(x):.7g}" for x in vector) + "]"


# --- Filters: SQL over the candidate's own table ---------------------------------------------------

_TABLES = {
    ObjectKind.NEED: ("matching_need", "c.status IN ('published', 'in_challenge')"),
    ObjectKind.RESULT: ("matching_result", "c.status = 'published'"),
    ObjectKind.CAPABILITY: ("matching_capabilityprofile", "c.is_published"),
}


@dataclass(frozen=True)
class Filters:
    """Hard filters applied inside PostgreSQL (the API's ad-hoc match; visibility is implicit:
    only matchable objects are in the index, and the status condition is repeated here)."""

    field_code: str | None = None  # a field or sub-field code; sub-fields match their parent
    region: str | None = None
    trl_min: int | None = None
    exclude_ids: tuple[int, ...] = ()

    def sql(self, kind: str) -> tuple[str, str, list]:
        table, status = _TABLES[kind]
        join = f"JOIN {table} c ON c.id = e.object_id"
        where = [status]
        params: list = []
        if self.field_code and kind != ObjectKind.CAPABILITY:
            where.append(
                "c.field_id IN (SELECT id FROM taxonomy_field WHERE code = %s OR code LIKE %s)"
            )
            params += [self.field_code, f"{self.field_code}.%"]
        if self.region:
            join += " JOIN accounts_organization o ON o.id = c.organization_id JOIN taxonomy_region rg ON rg.id = o.region_id"
            where.append("rg.name = %s")
            params.append(self.region)
        if self.trl_min and kind == ObjectKind.RESULT:
            where.append("c.trl >= %s")
            params.append(self.trl_min)
        if self.exclude_ids:
            where.append("NOT (e.object_id = ANY(%s))")
            params.append(list(self.exclude_ids))
        return join, " AND ".join(where), params

    @property
    def is_empty(self) -> bool:
        return not (self.field_code or self.region or self.trl_min)


# --- Retrieval ---------------------------------------------------------------------------------------


# (version pk, kind) pairs whose unfiltered pool was seen above EXACT_SEARCH_MAX in this process.
# Pools grow; one that shrinks back under the threshold is still searched correctly by HNSW.
_large_pools: set[tuple[int, str]] = set()


def _pool_exceeds_exact_max(cursor, version: EmbeddingVersion, kind: str, filters: Filters) -> bool:
    """Whether the filtered pool has more than EXACT_SEARCH_MAX rows. Counts at most one row
    more than that, and not at all once the unfiltered pool is known to be large (the pipeline's
    only filter, its few rejected pairs, cannot bring a large pool down to exact-search size)."""
    key = (version.pk, kind)
    if filters.is_empty and key in _large_pools:
        return True
    join, where, params = filters.sql(kind)
    cursor.execute(
        f"SELECT count(*) FROM (SELECT 1 FROM matching_embedding e {join} "  # noqa: S608
        f"WHERE e.version_id = %s AND e.kind = %s AND {where} LIMIT %s) pool",
        [version.pk, kind, *params, EXACT_SEARCH_MAX + 1],
    )
    large = cursor.fetchone()[0] > EXACT_SEARCH_MAX
    if large and filters.is_empty:
        _large_pools.add(key)
    return large


def ann_candidates(
    version: EmbeddingVersion,
    kind: str,
    qvec: np.ndarray,
    *,
    k: int = ANN_CANDIDATES,
    filters: Filters = Filters(),
) -> list[int]:
    """Nearest ``k`` objects by cosine distance, filtered in the same query."""
    dim = int(version.dimension)
    join, where, params = filters.sql(kind)
    q = vector_literal(qvec)
    with transaction.atomic(), connection.cursor() as cursor:
        if _pool_exceeds_exact_max(cursor, version, kind, filters):
            cursor.execute(f"SET LOCAL hnsw.ef_search = {max(HNSW_EF_SEARCH, k)}")
        else:
            # Exact: the planner then scans the (small) filtered set instead of the HNSW graph.
            cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute(
            f"SELECT e.object_id FROM matching_embedding e {join} "  # noqa: S608
            f"WHERE e.version_id = %s AND e.kind = %s AND {where} "
            f"ORDER BY (e.vector::vector({dim})) <=> %s::vector({dim}) LIMIT %s",
            [version.pk, kind, *params, q, k],
        )
        return [row[0] for row in cursor.fetchall()]


def rare_terms(query_tokens: Sequence[str], stats: lexical.Bm25Stats) -> list[str]:
    """The query terms used for lexical candidate retrieval: its rarest terms in the pool, as long
    as together they occur in at most LEXICAL_DF_BUDGET documents (none when even the rarest is
    that common: ANN alone then supplies the candidates). Common terms — single characters above all — would
    make the GIN query read a large part of the pool; they still count in the BM25 score."""
    present = sorted(set(query_tokens) & set(stats.df), key=lambda t: (-stats.idf(t), t))
    terms: list[str] = []
    total = 0
    for term in present[:LEXICAL_RETRIEVAL_TERMS]:
        total += stats.df[term]
        if total > LEXICAL_DF_BUDGET:
            break
        terms.append(term)
    return terms


def lexical_candidates(
    kind: str,
    query_tokens: Sequence[str],
    stats: lexical.Bm25Stats,
    *,
    k: int = LEXICAL_CANDIDATES,
    filters: Filters = Filters(),
) -> list[int]:
    """Objects sharing the query's rarest terms (GIN index), most shared first."""
    terms = rare_terms(query_tokens, stats)
    if not terms:
        return []
    join, where, params = filters.sql(kind)
    with transaction.atomic(), connection.cursor() as cursor:
        # The terms occur in at most LEXICAL_DF_BUDGET documents, so the GIN index is always the
        # cheap path; the planner's estimate for an overlap with many rare terms is not (it
        # guesses about 10 % of the pool and reads every document, ~2 s at 10k).
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(
            f"SELECT e.object_id FROM matching_lexicaldocument e {join} "  # noqa: S608
            f"WHERE e.kind = %s AND e.tokens && %s::varchar[] AND {where} "
            "ORDER BY cardinality(ARRAY(SELECT unnest(e.tokens) INTERSECT SELECT unnest(%s::varchar[]))) DESC, "
            "e.object_id LIMIT %s",
            [kind, terms, *params, terms, k],
        )
        return [row[0] for row in cursor.fetchall()]


def dense_similarities(
    version: EmbeddingVersion, kind: str, qvec: np.ndarray, ids: Sequence[int]
) -> dict[int, float]:
    dim = int(version.dimension)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT object_id, 1 - ((vector::vector({dim})) <=> %s::vector({dim})) FROM matching_embedding "  # noqa: S608
            "WHERE version_id = %s AND kind = %s AND object_id = ANY(%s)",
            [vector_literal(qvec), version.pk, kind, list(ids)],
        )
        return {object_id: float(sim) for object_id, sim in cursor.fetchall()}


def document_tokens(kind: str, ids: Sequence[int]) -> dict[int, list[str]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT object_id, tokens FROM matching_lexicaldocument WHERE kind = %s AND object_id = ANY(%s)",
            [kind, list(ids)],
        )
        return dict(cursor.fetchall())


def stored_vector(version: EmbeddingVersion, kind: str, object_id: int) -> np.ndarray | None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT vector::text FROM matching_embedding WHERE version_id = %s AND kind = %s AND object_id = %s",
            [version.pk, kind, object_id],
        )
        row = cursor.fetchone()
    return None if row is None else parse_vector(row[0])


def parse_vector(text: str) -> np.ndarray:
    return np.asarray(text.strip("[]").split(","), dtype=np.float32)


# --- The pool's score distribution ----------------------------------------------------------------


@dataclass
class PoolSample:
    vectors: np.ndarray  # (n, dim)
    corpus: lexical.Bm25Corpus
    loaded_at: float


_samples: dict[tuple[int, str], PoolSample] = {}
_samples_lock = threading.Lock()


def pool_sample(version: EmbeddingVersion, kind: str) -> PoolSample:
    """A fixed pseudo-random sample of the pool (same ids in every process), cached briefly."""
    key = (version.pk, kind)
    sample = _samples.get(key)
    if sample is not None and time.monotonic() - sample.loaded_at < POOL_SAMPLE_TTL:
        return sample
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT e.object_id, e.vector::text, d.tokens FROM matching_embedding e "
            "JOIN matching_lexicaldocument d ON d.kind = e.kind AND d.object_id = e.object_id "
            "WHERE e.version_id = %s AND e.kind = %s ORDER BY md5(e.object_id::text) LIMIT %s",
            [version.pk, kind, POOL_SAMPLE_SIZE],
        )
        rows = cursor.fetchall()
    vectors = (
        np.stack([parse_vector(r[1]) for r in rows])
        if rows
        else np.zeros((0, version.dimension), np.float32)
    )
    sample = PoolSample(
        vectors=vectors, corpus=lexical.Bm25Corpus([r[2] for r in rows]), loaded_at=time.monotonic()
    )
    with _samples_lock:
        _samples[key] = sample
    return sample


def clear_pool_samples() -> None:
    """Forget per-process pool knowledge (samples and pool sizes): tests, a rebuilt index."""
    with _samples_lock:
        _samples.clear()
    _large_pools.clear()


def pool_zscores(values: np.ndarray, sample_values: np.ndarray) -> np.ndarray:
    """z-scores of ``values`` on the pool's scale; falls back to the values' own scale when the
    pool is too small to estimate it."""
    reference = sample_values if sample_values.size >= POOL_SAMPLE_MIN else values
    if reference.size == 0:
        return np.zeros_like(values)
    std = float(reference.std())
    if std <= 1e-12:
        return np.zeros_like(values)
    return (values - float(reference.mean())) / std


# --- Structured fits -----------------------------------------------------------------------------


def structured_fits(query: MatchDoc, docs: Sequence[MatchDoc]) -> dict[str, np.ndarray]:
    """The fit of each candidate to the query, as arrays in [0, 1] (NaN = unknown)."""
    budget = query.budget_max
    fits = {
        "field": [ranking.field_fit(query.field_codes, d.field_codes) for d in docs],
        "trl": [ranking.trl_fit(query.trl, d.trl) for d in docs],
        "cooperation": [ranking.overlap_fit(query.modes, d.modes) for d in docs],
        "budget": [ranking.budget_fit(budget, d.budget_min) for d in docs],
        "region": [ranking.region_fit(query.region, d.region) for d in docs],
    }
    return {name: np.asarray(values, dtype=np.float64) for name, values in fits.items()}


# --- Ranking -------------------------------------------------------------------------------------


def rerank(
    *,
    dense: np.ndarray,
    bm25: np.ndarray,
    sample_dense: np.ndarray,
    sample_bm25: np.ndarray,
    structured: dict[str, np.ndarray],
    config: ranking.RankingConfig = ranking.DEFAULT_CONFIG,
) -> ranking.FusedScores:
    """Fuse candidates' cosine and BM25 scores, each z-scored on the pool's scale (estimated from
    the pool sample's scores for the same query), with their structured fits."""
    return ranking.fuse(
        pool_zscores(
            np.asarray(dense, dtype=np.float64), np.asarray(sample_dense, dtype=np.float64)
        ),
        pool_zscores(np.asarray(bm25, dtype=np.float64), np.asarray(sample_bm25, dtype=np.float64)),
        structured,
        dataclasses.replace(config, normalization="none"),
    )


def rank(
    *,
    version: EmbeddingVersion,
    kind: str,
    query: MatchDoc,
    qvec: np.ndarray,
    limit: int,
    filters: Filters = Filters(),
    config: ranking.RankingConfig | None = None,
) -> list[Candidate]:
    """The best ``limit`` candidates of ``kind`` for ``query``, with their component scores.
    ``config``: the fusion weights; by default the model's active configuration
    (``matching.matcher.active``)."""
    if config is None:
        config = active.ranking_config(version.model_id)
    q_tokens = tokens_for(query.text)
    stats = lexical_stats(kind, q_tokens)
    ids = list(
        dict.fromkeys(
            ann_candidates(version, kind, qvec, filters=filters)
            + lexical_candidates(kind, q_tokens, stats, filters=filters)
        )
    )
    if not ids:
        return []
    sims = dense_similarities(version, kind, qvec, ids)
    tokens = document_tokens(kind, ids)
    objects = load_objects(kind, ids)
    ids = [i for i in ids if i in objects and i in tokens]
    if not ids:
        return []
    dense = np.asarray([sims.get(i, 0.0) for i in ids], dtype=np.float64)
    bm25 = lexical.bm25_scores(q_tokens, [tokens[i] for i in ids], stats)
    sample = pool_sample(version, kind)
    sample_dense = sample.vectors @ qvec.astype(np.float32) if len(sample.vectors) else np.zeros(0)
    sample_bm25 = sample.corpus.scores(q_tokens, stats)
    docs = [doc_for(kind, objects[i]) for i in ids]
    doc_tokens = [tokens[i] for i in ids]
    fits = structured_fits(query, docs)
    fused = rerank(
        dense=dense,
        bm25=bm25,
        sample_dense=sample_dense,
        sample_bm25=sample_bm25,
        structured=fits,
        config=config,
    )
    z_dense = pool_zscores(dense, np.asarray(sample_dense, dtype=np.float64))
    values = calibration_features(
        fused=fused.scores,
        dense=dense,
        bm25=bm25,
        sample_bm25=sample_bm25,
        query_tokens=q_tokens,
        doc_tokens=doc_tokens,
        stats=stats,
    )
    scores, calibrated = calibration.scores(
        version.model_id, values, small_pool=len(sample_dense) < POOL_SAMPLE_MIN
    )
    order = (calibration.order(scores, fused.scores) if calibrated else fused.order())[:limit]
    return [
        Candidate(
            kind=kind,
            object_id=ids[j],
            obj=objects[ids[j]],
            doc=docs[j],
            dense=float(dense[j]),
            lexical=float(bm25[j]),
            fused=float(fused.scores[j]),
            components=fused.breakdown(j),
            score=float(scores[j]),
            calibrated=calibrated,
            features={name: float(v[j]) for name, v in values.items()},
            signals=_signals(j, z_dense, values, fits),
        )
        for j in order
    ]


def _signals(j: int, z_dense, values, fits) -> dict[str, float]:
    """The weight-free signals of candidate ``j`` (stored with its match, read by ``tune_ranking``):
    z-scores, coverage and every known structured fit."""
    out = {
        "z_dense": float(z_dense[j]),
        "z_lexical": float(values["z_bm25"][j]),
        "coverage": float(values["coverage"][j]),
    }
    for name, fit in fits.items():
        if not np.isnan(fit[j]):
            out[f"fit_{name}"] = float(fit[j])
    return out


def field_names(codes: Iterable[str]) -> dict[str, str]:
    return dict(Field.objects.filter(code__in=list(codes)).values_list("code", "name"))
