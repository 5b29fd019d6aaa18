"""Sweep lexical / dense / fusion variants on dev and the paraphrase set, from cached vectors.

Usage: python -m research.sweep MODEL_CACHE_NAME [--quick]
(run research/cache_embeddings.py first for dev and research/paraphrase_dev).
Prints one table row per variant: nDCG@10 R@10 MRR@10 R@100 on dev | paraphrase.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from functools import cache

import numpy as np

from matching.matcher import lexical
from matching.matcher.evaluation import (
    SplitScores,
    compute_metrics,
    demand_text,
    field_matrix,
    load_split,
    rank_split,
    result_text,
)
from matching.matcher.ranking import RankingConfig
from research.common import CACHE, DEV, PARA

SPLITS = {"dev": DEV, "para": PARA}


@cache
def split(name):
    return load_split(SPLITS[name])


def lex_doc(r, how):
    kw = "；".join(r.get("keywords", []))
    if how == "full":
        return result_text(r["title"], r["abstract"], r.get("keywords"))
    if how == "title2":  # title and keywords counted twice
        return f"{r['title']}。{r['title']}。{r['abstract']} {kw} {kw}"
    if how == "abstract":
        return r["abstract"]
    if how == "title_kw":
        return f"{r['title']}。{kw}"
    raise ValueError(how)


@cache
def lex_matrix(sname, scheme="bigram", doc="full", k1=1.2, b=0.75):
    demands, results, _ = split(sname)
    docs = [lexical.tokenize(lex_doc(r, doc), scheme) for r in results]
    stats = lexical.Bm25Stats.from_documents(docs)
    corpus = lexical.Bm25Corpus(docs)
    params = lexical.Bm25Params(k1, b)
    return np.vstack(
        [
            corpus.scores(
                lexical.tokenize(demand_text(d["title"], d["description"]), scheme), stats, params
            )
            for d in demands
        ]
    )


@cache
def dense_matrix(sname, model, rvariant="full", qvariant="demand"):
    q = np.load(CACHE / SPLITS[sname].name / model / f"{qvariant}.npy")
    parts = rvariant.split("+")
    mats = [q @ np.load(CACHE / "dev" / model / f"{p}.npy").T for p in parts]
    return np.mean(mats, axis=0) if len(mats) > 1 else mats[0]


@cache
def fields(sname):
    demands, results, _ = split(sname)
    return field_matrix([d["field"] for d in demands], [r["field"] for r in results])


def run(sname, dense=None, lex=None, config=None, use_field=True):
    config = config or RankingConfig()
    demands, results, qrels = split(sname)
    s = SplitScores(
        [d["id"] for d in demands],
        [r["id"] for r in results],
        dense,
        lex,
        fields(sname) if use_field else None,
    )
    return compute_metrics(rank_split(s, config), qrels)


def fmt(m):
    return f"{m['ndcg@10']:.3f} {m['recall@10']:.3f} {m['mrr@10']:.3f} {m['recall@100']:.3f}"


def row(label, **kw):
    out = []
    for sname in SPLITS:
        kws = {k: (v(sname) if callable(v) else v) for k, v in kw.items()}
        out.append(fmt(run(sname, **kws)))
    print(f"{label:58s} | {out[0]} | {out[1]}", flush=True)


def grid(model):
    """Second round: unibigram BM25, higher dense weights, dense on title_kw+full, field."""
    cfg = RankingConfig()
    print(f"{'variant':58s} | dev nDCG R@10 MRR R@100 | para nDCG R@10 MRR R@100")
    for scheme in ["bigram", "unibigram"]:
        for rv in ["full", "title_kw+full"]:
            for norm in ["zscore", "minmax"]:
                for w in [0.6, 0.7, 0.8, 0.9]:
                    for fw in [0.0, 0.3]:
                        row(
                            f"{scheme} {rv} {norm} dense={w} field={fw}",
                            dense=lambda s, r=rv: dense_matrix(s, model, r),
                            lex=lambda s, sc=scheme: lex_matrix(s, sc),
                            config=replace(
                                cfg, dense=w, normalization=norm, structured={"field": fw}
                            ),
                        )


def main():
    model = sys.argv[1]
    if len(sys.argv) > 2 and sys.argv[2] == "grid":
        return grid(model)
    if len(sys.argv) > 2 and sys.argv[2] == "dense":
        for rv in sys.argv[3].split(","):
            row(
                f"dense {model} {rv}",
                dense=lambda s, r=rv: dense_matrix(s, model, r),
                config=replace(RankingConfig(), structured={}),
                use_field=False,
            )
            row(
                f"fuse unibigram zscore 0.7 f0.3 {model} {rv}",
                dense=lambda s, r=rv: dense_matrix(s, model, r),
                lex=lambda s: lex_matrix(s, "unibigram"),
                config=replace(RankingConfig(), dense=0.7, structured={"field": 0.3}),
            )
        return
    cfg = RankingConfig()
    nofield = replace(cfg, structured={})
    print(f"{'variant':58s} | dev nDCG R@10 MRR R@100 | para nDCG R@10 MRR R@100")
    # --- lexical only
    for scheme in ["bigram", "unibigram", "jieba", "jieba_bigram"]:
        row(
            f"BM25 {scheme} full",
            lex=lambda s, sc=scheme: lex_matrix(s, sc),
            config=nofield,
            use_field=False,
        )
    for doc in ["title2", "abstract", "title_kw"]:
        row(
            f"BM25 bigram {doc}",
            lex=lambda s, d=doc: lex_matrix(s, "bigram", d),
            config=nofield,
            use_field=False,
        )
    for k1, b in [(0.9, 0.4), (1.2, 0.5), (1.5, 0.75), (2.0, 0.75), (1.2, 0.9)]:
        row(
            f"BM25 bigram full k1={k1} b={b}",
            lex=lambda s, k=k1, bb=b: lex_matrix(s, "bigram", "full", k, bb),
            config=nofield,
            use_field=False,
        )
    # --- dense only
    for rv in ["full", "abstract", "title", "title_kw", "title+abstract", "title_kw+full"]:
        row(
            f"dense {model} {rv}",
            dense=lambda s, r=rv: dense_matrix(s, model, r),
            config=nofield,
            use_field=False,
        )
    row(
        f"dense {model} full, query=title",
        dense=lambda s: dense_matrix(s, model, "full", "demand_title"),
        config=nofield,
        use_field=False,
    )
    # --- fusion
    lex = lambda s: lex_matrix(s, "bigram")  # noqa: E731
    den = lambda s: dense_matrix(s, model, "full")  # noqa: E731
    for norm in ["zscore", "minmax", "rank"]:
        for w in [0.3, 0.4, 0.5, 0.6, 0.7]:
            row(
                f"fuse {norm} dense={w} nofield",
                dense=den,
                lex=lex,
                config=replace(nofield, normalization=norm, dense=w),
                use_field=False,
            )
    for w in [0.4, 0.5, 0.6]:
        for fw in [0.1, 0.2, 0.3, 0.5, 0.8]:
            row(
                f"fuse zscore dense={w} field={fw}",
                dense=den,
                lex=lex,
                config=replace(cfg, dense=w, structured={"field": fw}),
            )


if __name__ == "__main__":
    main()
