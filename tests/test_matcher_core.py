"""Unit tests for the matcher core: metrics, tokenizer, BM25, fusion, model loading.

No database and no Django models: run with
``python -m pytest tests/test_matcher_core.py -p no:django -q``.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from matching.matcher import embedding, lexical
from matching.matcher.evaluation import (
    compute_metrics,
    demand_text,
    evaluate,
    load_split,
    mrr_at,
    ndcg_at,
    recall_at,
    result_text,
    split_field_fit,
)
from matching.matcher.ranking import (
    DEFAULT_CONFIG,
    RankingConfig,
    budget_fit,
    fuse,
    normalize_scores,
    overlap_fit,
    trl_fit,
)

TINY = Path(__file__).parent / "data" / "eval_tiny"
DISTRACTORS = ["r5", "r6", "r7", "r8", "r9", "r10", "r11", "r12"]

# ----------------------------------------------------------------------------- metrics


def hand_rankings() -> dict[str, list[str]]:
    """Fixed rankings over the tiny split:
    d1: target r1 at rank 1.
    d2: rel-1 r4 at rank 1, target r2 at rank 3.
    d3: target r3 at rank 12 (outside the top 10, inside the top 100)."""
    others = [r for r in DISTRACTORS]
    return {
        "d1": ["r1", *others[:9]],
        "d2": ["r4", "r5", "r2", *others[2:9]],
        "d3": ["r1", "r2", "r4", *others, "r3"],
    }


def test_per_demand_metrics_by_hand() -> None:
    _, _, qrels = load_split(TINY)
    ranks = hand_rankings()
    # d2: target at rank 3 -> DCG = 1/log2(3+1) = 0.5, IDCG = 1 -> nDCG 0.5; MRR = 1/3.
    assert ndcg_at(ranks["d2"], qrels["d2"]) == pytest.approx(0.5)
    assert mrr_at(ranks["d2"], qrels["d2"]) == pytest.approx(1 / 3)
    assert recall_at(ranks["d2"], qrels["d2"], 1) == 0.0
    assert recall_at(ranks["d2"], qrels["d2"], 10) == 1.0
    # Graded d2: gains 2^rel-1 -> r4 (rel 1) = 1 at rank 1, r2 (rel 2) = 3 at rank 3.
    # DCG = 1/log2(2) + 3/log2(4) = 1 + 1.5 = 2.5.
    # IDCG = 3/log2(2) + 1/log2(3) = 3 + 0.6309298 = 3.6309298 -> nDCG = 0.6885303.
    assert ndcg_at(ranks["d2"], qrels["d2"], graded=True) == pytest.approx(
        2.5 / (3 + 1 / math.log2(3))
    )
    # d3: target at rank 12 -> nothing within 10, found within 100.
    assert ndcg_at(ranks["d3"], qrels["d3"]) == 0.0
    assert mrr_at(ranks["d3"], qrels["d3"]) == 0.0
    assert recall_at(ranks["d3"], qrels["d3"], 100) == 1.0


def test_mean_metrics_by_hand() -> None:
    _, _, qrels = load_split(TINY)
    m = compute_metrics(hand_rankings(), qrels)
    # nDCG@10: (1 + 0.5 + 0) / 3 = 0.5
    assert m["ndcg@10"] == pytest.approx(0.5)
    # MRR@10: (1 + 1/3 + 0) / 3 = 4/9
    assert m["mrr@10"] == pytest.approx(4 / 9)
    # R@1: only d1 -> 1/3; R@10: d1, d2 -> 2/3; R@100: all three -> 1.
    assert m["recall@1"] == pytest.approx(1 / 3)
    assert m["recall@10"] == pytest.approx(2 / 3)
    assert m["recall@100"] == pytest.approx(1.0)
    # Graded: d1 = 1 (only its target is labelled), d2 = 0.6885303, d3 = 0
    # -> (1 + 0.6885303) / 3 = 0.5628434.
    assert m["ndcg@10_graded"] == pytest.approx((1 + 2.5 / (3 + 1 / math.log2(3))) / 3)
    assert m["n_demands"] == 3


def test_evaluate_lexical_only_on_tiny_split() -> None:
    # Each demand shares its distinctive bigrams (锂电/热失控, 条锈/小麦, 脱氮/污水) only
    # with its target, so BM25 puts every target first: all target metrics are 1.
    out = evaluate(TINY, config=replace(DEFAULT_CONFIG, dense=0.0))
    for key in ("ndcg@10", "recall@1", "recall@10", "recall@100", "mrr@10"):
        assert out[key] == pytest.approx(1.0), key
    assert out["n_demands"] == 3
    assert out["model"] == "none"
    assert out["seconds"] >= 0


# ----------------------------------------------------------------------------- texts


def test_demand_text_does_not_repeat_title() -> None:
    assert demand_text("锂电池热失控", "锂电池热失控风险高。") == "锂电池热失控风险高。"
    assert demand_text("标题", "描述。") == "标题。描述。"
    assert result_text("题", "摘要", ["甲", "乙"]) == "题。摘要 关键词：甲；乙"


# ----------------------------------------------------------------------------- tokenizer


def test_tokenize_bigrams_ascii_and_numbers() -> None:
    # Full-width letters fold to ASCII and lower-case; numbers are dropped; punctuation
    # splits CJK runs, so no bigram spans "池，".
    assert lexical.tokenize("锂电池，ＰＩＤ控制 2020年", "bigram") == [
        "锂电",
        "电池",
        "pid",
        "控制",
        "年",
    ]


def test_default_scheme_adds_single_characters() -> None:
    # Default "unibigram": bigrams of each CJK run, then its single characters.
    assert lexical.tokenize("锂电池 PID") == ["锂电", "电池", "锂", "电", "池", "pid"]


def test_tokenize_schemes() -> None:
    assert lexical.tokenize("电池", "unibigram") == ["电池", "电", "池"]
    words = lexical.tokenize("锂电池热失控", "jieba")
    assert "".join(words).startswith("锂电池") or "锂电池" in words
    mixed = lexical.tokenize("锂电池", "jieba_bigram")
    assert "锂电" in mixed and any(t.startswith("w:") for t in mixed)


# ----------------------------------------------------------------------------- BM25


def test_bm25_orders_by_overlap_and_rarity() -> None:
    docs = [lexical.tokenize(t) for t in ["锂电池热失控", "锂电池正极", "小麦条锈病", "城市污水"]]
    stats = lexical.Bm25Stats.from_documents(docs)
    scores = lexical.bm25_scores(lexical.tokenize("锂电池热失控预警"), docs, stats)
    assert list(np.argsort(-scores)[:2]) == [0, 1]
    assert scores[2] == scores[3] == 0.0


def test_bm25_subset_uses_global_stats() -> None:
    docs = [lexical.tokenize(t) for t in ["锂电池热失控", "锂电池正极", "小麦条锈病", "城市污水"]]
    stats = lexical.Bm25Stats.from_documents(docs)
    query = lexical.tokenize("锂电池热失控")
    full = lexical.bm25_scores(query, docs, stats)
    subset = lexical.bm25_scores(query, [docs[1], docs[0]], stats)
    assert subset == pytest.approx([full[1], full[0]])


def test_bm25_for_one_query_equals_the_indexed_corpus() -> None:
    texts = [
        "锂电池热失控预警",
        "锂电池正极包覆改性，锂电池循环寿命",
        "小麦条锈病",
        "",
        "PID 控制 锂",
    ]
    docs = [lexical.tokenize(t) for t in texts]
    stats = lexical.Bm25Stats.from_documents(docs + [lexical.tokenize("储能电站热管理")])
    query = lexical.tokenize("锂电池热失控的早期预警 PID")
    direct = lexical.bm25_scores(query, docs, stats)
    indexed = lexical.bm25_scores(query, lexical.Bm25Corpus(docs), stats)
    assert direct.tolist() == indexed.tolist()  # the same numbers, not just close
    assert direct[0] > direct[1] > 0 and direct[2] == direct[3] == 0


def test_bm25_stats_update_and_roundtrip() -> None:
    a, b = lexical.tokenize("锂电池", "bigram"), lexical.tokenize("电池包", "bigram")
    stats = lexical.Bm25Stats.from_documents([a, b])
    assert stats.n_docs == 2 and stats.df["电池"] == 2 and stats.avgdl == 2.0
    stats.remove(b)
    assert stats.n_docs == 1 and stats.df["电池"] == 1 and "池包" not in stats.df
    again = lexical.Bm25Stats.from_dict(json.loads(json.dumps(stats.to_dict())))
    assert again == stats
    # Rarer terms weigh more; idf stays positive even for a term in every document.
    assert stats.idf("未见") > stats.idf("电池") > 0


# ----------------------------------------------------------------------------- fusion


def test_normalize_scores() -> None:
    z = normalize_scores(np.array([1.0, 2.0, 3.0]), "zscore")
    assert z.mean() == pytest.approx(0.0) and z.std() == pytest.approx(1.0)
    assert list(normalize_scores(np.array([2.0, 4.0]), "minmax")) == [0.0, 1.0]
    # Reciprocal rank scaled so the top candidate gets 1: (k+1)/(k+rank).
    assert normalize_scores(np.array([5.0, 9.0]), "rank", rrf_k=60) == pytest.approx([61 / 62, 1.0])
    assert list(normalize_scores(np.array([3.0, 3.0]), "zscore")) == [0.0, 0.0]


def test_fuse_weights_move_the_ranking() -> None:
    dense = np.array([0.9, 0.1, 0.5])
    lex = np.array([0.0, 10.0, 5.0])
    assert fuse(dense, lex, config=RankingConfig(dense=1.0)).order()[0] == 0
    assert fuse(dense, lex, config=RankingConfig(dense=0.0)).order()[0] == 1
    # Equal weights: candidate 2 is second on both, z-scores sum to the best total? No:
    # z(dense) = [1.22, -1.22, 0], z(lex) = [-1.22, 1.22, 0] -> all tie at 0 -> stable order.
    even = fuse(dense, lex, config=RankingConfig(dense=0.5))
    assert even.scores == pytest.approx([0.0, 0.0, 0.0])


def test_fuse_breakdown_sums_to_score_and_handles_unknown_fit() -> None:
    config = RankingConfig(dense=0.5, structured={"field": 0.4})
    fused = fuse(
        np.array([0.2, 0.8]), np.array([1.0, 3.0]), {"field": np.array([1.0, np.nan])}, config
    )
    for i in range(2):
        assert sum(fused.breakdown(i).values()) == pytest.approx(fused.scores[i])
    # Known fit 1 -> 0.4; unknown -> neutral 0.5 * 0.4 = 0.2.
    assert fused.components["field"] == pytest.approx([0.4, 0.2])
    # A structured component with zero weight is ignored.
    assert (
        "region"
        not in fuse(
            None, np.array([1.0]), {"region": np.array([1.0])}, RankingConfig(structured={})
        ).components
    )


def test_fuse_without_dense_uses_lexical_only() -> None:
    fused = fuse(None, np.array([1.0, 3.0]), config=RankingConfig(dense=0.7))
    assert list(fused.order()) == [1, 0]
    assert set(fused.components) == {"lexical"}


def test_structured_fits() -> None:
    assert split_field_fit("工学", "计算机科学与技术") == 1.0
    assert split_field_fit("工学", "历史学") == 0.0
    assert (
        split_field_fit("理学", "化学/化学工程与技术") == 1.0
    )  # merged discipline, two categories
    assert split_field_fit("计算机科学与技术", "电气工程") == 0.5  # same category
    assert math.isnan(split_field_fit(None, "历史学"))
    assert trl_fit(6, 7) == 1.0 and trl_fit(6, 3) == 0.0
    assert trl_fit(6, 5) == pytest.approx(2 / 3)
    assert overlap_fit(["转让", "许可"], ["许可"]) == 0.5
    assert budget_fit(100, 150) == pytest.approx(0.5) and budget_fit(100, 80) == 1.0


# ----------------------------------------------------------------------------- embedding


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny sentence-transformers model (static char embeddings) saved to disk."""
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import StaticEmbedding
    from tokenizers import Tokenizer, models, pre_tokenizers

    chars = sorted(set("锂电池热失控小麦条锈病城市污水脱氮"))
    vocab = {"[UNK]": 0, **{c: i + 1 for i, c in enumerate(chars)}}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Split("", "isolated")
    rng = np.random.default_rng(0)
    weights = rng.normal(size=(len(vocab), 8)).astype(np.float32)
    module = StaticEmbedding(tok, embedding_weights=weights)
    path = tmp_path_factory.mktemp("models") / "tiny"
    SentenceTransformer(modules=[module], device="cpu").save(str(path))
    return path


def test_encode_from_local_directory(tiny_model_dir: Path) -> None:
    embedding.clear_cache()
    vecs = embedding.encode(["锂电池", "小麦"], model_name=str(tiny_model_dir))
    assert vecs.shape == (2, 8) and vecs.dtype == np.float32
    assert np.linalg.norm(vecs, axis=1) == pytest.approx([1.0, 1.0], abs=1e-5)
    assert embedding.dimension(str(tiny_model_dir)) == 8
    assert embedding.model_id(str(tiny_model_dir)) == "tiny"
    # Cached per process: the same object comes back.
    assert embedding.get_model(str(tiny_model_dir)) is embedding.get_model(str(tiny_model_dir))
    assert embedding.encode([], model_name=str(tiny_model_dir)).shape == (0, 8)


def test_default_model_by_name(tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The default name comes from settings/env; a relative name resolves against the cwd.
    monkeypatch.chdir(tiny_model_dir.parent)
    monkeypatch.setenv("MATCHER_MODEL", "tiny")
    monkeypatch.setattr(embedding, "_settings_value", lambda name: None)
    embedding.clear_cache()
    assert embedding.encode(["城市污水"]).shape == (1, 8)
    assert embedding.model_id() == "tiny"


def test_missing_default_model_says_run_make_setup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MATCHER_MODEL", "var/models/default")
    monkeypatch.setattr(embedding, "_settings_value", lambda name: None)
    with pytest.raises(embedding.ModelNotBuiltError, match="make setup"):
        embedding.get_model()


def test_evaluate_with_a_local_model(tiny_model_dir: Path) -> None:
    out = evaluate(TINY, model_name=str(tiny_model_dir))
    assert out["model"] == "tiny"
    assert 0.0 <= out["ndcg@10"] <= 1.0 and out["n_demands"] == 3


def test_the_service_field_fit_on_taxonomy_codes():
    """The one field fit (``ranking.field_fit``) the service and the evaluation share."""
    from matching.matcher.ranking import field_fit

    assert field_fit(["energy.battery"], ["energy.battery"]) == 1.0
    assert field_fit(["energy"], ["energy.battery"]) == 1.0  # a top-level need contains it
    assert field_fit(["energy.battery"], ["energy.solar"]) == 0.5
    assert field_fit(["energy.battery"], ["materials.polymers"]) == 0.0
    assert math.isnan(field_fit([], ["energy.battery"]))
