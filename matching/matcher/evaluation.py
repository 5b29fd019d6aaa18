"""Offline evaluation of the matcher on a split in the eval format.

A split directory holds ``demands.jsonl`` ({id,title,description,field}),
``results.jsonl`` ({id,title,abstract,keywords,field}) and ``qrels.jsonl``
({demand_id,result_id,relevance}; 2 = the target, 1 = topical). Every result is ranked
for every demand with the production code (embedding + lexical + ranking).

Run it with ``python manage.py evaluate_matcher --data DIR`` (the service's own ranking path).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from matching.matcher import lexical
from matching.matcher.ranking import DEFAULT_CONFIG, RankingConfig, field_fit, fuse

Qrels = Mapping[str, Mapping[str, int]]  # demand id -> result id -> relevance
TARGET = 2  # relevance of the one true target; rel 1 = topical


# ------------------------------------------------------------------------------ metrics


def _targets(rels: Mapping[str, int]) -> set[str]:
    return {rid for rid, rel in rels.items() if rel >= TARGET}


def recall_at(ranking: Sequence[str], rels: Mapping[str, int], k: int) -> float:
    """Share of the demand's targets (rel 2) found in the top k."""
    targets = _targets(rels)
    if not targets:
        return 0.0
    return len(targets.intersection(ranking[:k])) / len(targets)


def mrr_at(ranking: Sequence[str], rels: Mapping[str, int], k: int = 10) -> float:
    """1 / rank of the first target within the top k, else 0."""
    targets = _targets(rels)
    for rank, rid in enumerate(ranking[:k], start=1):
        if rid in targets:
            return 1.0 / rank
    return 0.0


def _dcg(gains: Sequence[float]) -> float:
    return sum(g / math.log2(i + 2) for i, g in enumerate(gains))


def ndcg_at(
    ranking: Sequence[str], rels: Mapping[str, int], k: int = 10, graded: bool = False
) -> float:
    """nDCG@k. Binary over the rel-2 target(s) by default; ``graded`` uses gain
    2^rel - 1 over all labelled results (rel 1 -> 1, rel 2 -> 3)."""
    if graded:
        gain_of: Callable[[str], float] = lambda rid: 2.0 ** rels.get(rid, 0) - 1.0  # noqa: E731
        ideal = sorted((2.0**r - 1.0 for r in rels.values() if r > 0), reverse=True)
    else:
        targets = _targets(rels)
        gain_of = lambda rid: 1.0 if rid in targets else 0.0  # noqa: E731
        ideal = [1.0] * len(targets)
    idcg = _dcg(ideal[:k])
    if idcg == 0:
        return 0.0
    return _dcg([gain_of(rid) for rid in ranking[:k]]) / idcg


def compute_metrics(rankings: Mapping[str, Sequence[str]], qrels: Qrels) -> dict[str, float]:
    """Mean metrics over the demands that have a target."""
    ids = [d for d in rankings if _targets(qrels.get(d, {}))]
    if not ids:
        raise ValueError("no demand with a relevance-2 target")

    def mean(fn: Callable[[Sequence[str], Mapping[str, int]], float]) -> float:
        return float(np.mean([fn(rankings[d], qrels[d]) for d in ids]))

    return {
        "ndcg@10": mean(lambda r, q: ndcg_at(r, q, 10)),
        "recall@1": mean(lambda r, q: recall_at(r, q, 1)),
        "recall@10": mean(lambda r, q: recall_at(r, q, 10)),
        "recall@100": mean(lambda r, q: recall_at(r, q, 100)),
        "mrr@10": mean(lambda r, q: mrr_at(r, q, 10)),
        "ndcg@10_graded": mean(lambda r, q: ndcg_at(r, q, 10, graded=True)),
        "n_demands": len(ids),
    }


# ------------------------------------------------------------------------------ data


def load_jsonl(path: Path) -> list[dict]:
    with Path(path).open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def load_split(data_dir: Path | str) -> tuple[list[dict], list[dict], dict[str, dict[str, int]]]:
    data_dir = Path(data_dir)
    demands = load_jsonl(data_dir / "demands.jsonl")
    results = load_jsonl(data_dir / "results.jsonl")
    qrels: dict[str, dict[str, int]] = {}
    for row in load_jsonl(data_dir / "qrels.jsonl"):
        qrels.setdefault(row["demand_id"], {})[row["result_id"]] = int(row["relevance"])
    return demands, results, qrels


# ------------------------------------------------------------------------------ texts
# What each side looks like to the matcher. The service uses the same builders.


def demand_text(title: str | None, description: str | None) -> str:
    """Title + description; the title is often the description's first clause, so it is
    not repeated then."""
    title, description = (title or "").strip(), (description or "").strip()
    if title and title in description:
        return description
    return "。".join(part for part in (title, description) if part)


def result_text(title: str | None, abstract: str | None, keywords: Sequence[str] | None) -> str:
    """Title, abstract and keywords: what we embed and index for a research result."""
    parts = [(title or "").strip(), (abstract or "").strip()]
    text = "。".join(p for p in parts if p)
    if keywords:
        text += " 关键词：" + "；".join(keywords)
    return text


# ------------------------------------------------------------------------------ ranking


@dataclass
class SplitScores:
    """Per-demand component scores over the whole result pool."""

    demand_ids: list[str]
    result_ids: list[str]
    dense: np.ndarray | None  # (n_demands, n_results) cosine
    lexical: np.ndarray | None  # (n_demands, n_results) BM25
    field: np.ndarray | None  # (n_demands, n_results) field fit in [0, 1] or NaN


def lexical_matrix(
    query_texts: Sequence[str], doc_texts: Sequence[str], config: RankingConfig = DEFAULT_CONFIG
) -> np.ndarray:
    scheme: lexical.Scheme = config.lexical_scheme  # type: ignore[assignment]
    docs = [lexical.tokenize(t, scheme) for t in doc_texts]
    stats = lexical.Bm25Stats.from_documents(docs)
    corpus = lexical.Bm25Corpus(docs)
    params = lexical.Bm25Params(config.bm25_k1, config.bm25_b)
    return np.vstack(
        [corpus.scores(lexical.tokenize(q, scheme), stats, params) for q in query_texts]
    )


# --- the eval split's fields as taxonomy codes ------------------------------------------------------
# A demand carries a category (门类), a result a first-level discipline (学科). The service's
# ``ranking.field_fit`` works on taxonomy codes, so each discipline becomes ``<category>.<discipline>``
# for every category it belongs to, and a category is a top-level code.

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


def field_codes(name: str | None) -> tuple[str, ...]:
    """Taxonomy codes of an eval field name: a category as itself, a discipline under each of its
    categories; none for an unknown name."""
    if not name:
        return ()
    if name in CATEGORIES:
        return (name,)
    return tuple(f"{category}.{name}" for category in DISCIPLINE_CATEGORIES.get(name, ()))


def split_field_fit(demand_field: str | None, result_field: str | None) -> float:
    """``ranking.field_fit``, the service's field fit, on two eval field names."""
    return field_fit(field_codes(demand_field), field_codes(result_field))


def field_matrix(
    demand_fields: Sequence[str | None], result_fields: Sequence[str | None]
) -> np.ndarray:
    cache: dict[tuple[str | None, str | None], float] = {}
    out = np.empty((len(demand_fields), len(result_fields)), dtype=np.float64)
    for i, d in enumerate(demand_fields):
        for j, r in enumerate(result_fields):
            key = (d, r)
            if key not in cache:
                cache[key] = split_field_fit(d, r)
            out[i, j] = cache[key]
    return out


def score_split(
    demands: Sequence[dict],
    results: Sequence[dict],
    *,
    model_name: str | None = None,
    config: RankingConfig = DEFAULT_CONFIG,
    use_dense: bool = True,
    timings: dict[str, float] | None = None,
    max_tokens: int | None = None,
) -> SplitScores:
    """Compute every component for every (demand, result) pair. ``timings`` (if given)
    receives the seconds spent embedding and in BM25."""
    timings = {} if timings is None else timings
    clock = time.perf_counter()
    q_texts = [demand_text(d.get("title"), d.get("description")) for d in demands]
    r_texts = [result_text(r.get("title"), r.get("abstract"), r.get("keywords")) for r in results]
    dense = None
    if use_dense and config.dense > 0:
        from matching.matcher import embedding

        r_vecs = embedding.encode(
            r_texts, model_name=model_name, kind="document", max_tokens=max_tokens
        )
        q_vecs = embedding.encode(
            q_texts, model_name=model_name, kind="query", max_tokens=max_tokens
        )
        dense = q_vecs @ r_vecs.T
    timings["seconds_embedding"] = round(time.perf_counter() - clock, 2)
    clock = time.perf_counter()
    lex = lexical_matrix(q_texts, r_texts, config) if config.dense < 1 else None
    timings["seconds_lexical"] = round(time.perf_counter() - clock, 2)
    fields = field_matrix([d.get("field") for d in demands], [r.get("field") for r in results])
    return SplitScores([d["id"] for d in demands], [r["id"] for r in results], dense, lex, fields)


def rank_split(
    scores: SplitScores, config: RankingConfig = DEFAULT_CONFIG, top_k: int = 100
) -> dict[str, list[str]]:
    """Fuse each demand's components and return its top_k result ids, best first."""
    rankings: dict[str, list[str]] = {}
    for i, demand_id in enumerate(scores.demand_ids):
        structured = {} if scores.field is None else {"field": scores.field[i]}
        fused = fuse(
            None if scores.dense is None else scores.dense[i],
            None if scores.lexical is None else scores.lexical[i],
            structured,
            config,
        )
        rankings[demand_id] = [scores.result_ids[j] for j in fused.order()[:top_k]]
    return rankings


def evaluate(
    data_dir: Path | str,
    *,
    model_name: str | None = None,
    config: RankingConfig = DEFAULT_CONFIG,
    max_tokens: int | None = None,
) -> dict:
    """Rank every result for every demand of the split and return the metrics. ``max_tokens``
    overrides ``EMBEDDING_MAX_TOKENS`` (``embedding.MODEL_LENGTH``: the model's own length)."""
    start = time.perf_counter()
    demands, results, qrels = load_split(data_dir)
    timings: dict[str, float] = {}
    scores = score_split(
        demands,
        results,
        model_name=model_name,
        config=config,
        timings=timings,
        max_tokens=max_tokens,
    )
    metrics = compute_metrics(rank_split(scores, config), qrels)
    model = "none"
    if scores.dense is not None:
        from matching.matcher import embedding

        model = embedding.model_id(model_name, max_tokens=max_tokens)
    return {
        **metrics,
        "model": model,
        "n_results": len(results),
        "seconds": round(time.perf_counter() - start, 2),
        **timings,
    }
