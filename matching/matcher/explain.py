"""Why a candidate matches a need: shared key terms, the candidate sentence that best answers each
sentence or indicator of the need, and the fit or misfit of field, maturity, mode, budget, region.

``explain`` returns the full explanation plus ``public``: the key terms found in the need's public
text (title and summary). ``matching.catalogue.projections.explanation_for_viewer`` builds what each viewer
may read from the two. Texts are rendered in Chinese at compute time; each fit item also
keeps a ``code`` and ``params`` so pages could render them in another language.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence

from django.utils.translation import gettext as _
from django.utils.translation import override

from matching.matcher import calibration, lexical
from matching.matcher.documents import MatchDoc
from matching.models import CoopMode, trl_stage

MAX_TERMS = 5
MAX_EVIDENCE = 4
# Words that appear in almost every need or result, and the boilerplate of research writing: they
# explain nothing. A shared term must also pass the pool's IDF floor (``IDF_FLOOR``).
GENERIC_WORDS = frozenset(
    "技术 研究 方法 系统 提高 提升 问题 进行 实现 需求 我们 公司 企业 项目 开发 应用 目前 现有 能够 可以 通过 "
    "基于 采用 以及 及其 一种 具有 相关 主要 要求 需要 希望 方面 工作 领域 成果 团队 产品 生产 过程 效果 达到 "
    "国内 国外 以上 以下 左右 其中 同时 并且 已经 没有 不能 目标 指标 情况 条件 关键 解决 "
    # research and engineering boilerplate
    "一家 一个 一些 设计 工艺 结构 测试 验证 分析 试验 实验 结果 表明 影响 因素 性能 特性 特点 模型 提出 本文 "
    "利用 研制 开展 建立 构建 探讨 讨论 考虑 评价 评估 比较 对比 得到 获得 发现 发展 形成 存在 不同 显著 有效 "
    "合理 良好 较好 较高 较低 重要 主要 新型 传统 常规 一定 一般 基本 具体 整体 部分 各种 多种 不断 进一步 "
    "研发 开发 推广 服务 合作 单位 公司 方案 手段 措施 作用 意义 价值 水平 能力 程度 方式 形式 内容 数据 "
    "参数 变化 增加 减少 降低 改善 改进 优化 控制 处理 使用 应用 运行 工程 问题 技术 研究".split()
)
# Shared terms must be rarer than this in the pool (Lucene idf, ≈ in at most a fifth of documents)
# once the pool is large enough for document frequencies to mean something.
IDF_FLOOR = 1.5
IDF_MIN_DOCS = 50


# A need is explained against ~25 candidates in a row, and a candidate against every need it
# matches: the same texts are tokenised over and over (jieba, ~2 ms a text), so remember them.
@functools.lru_cache(maxsize=4096)
def _words(text: str) -> tuple[str, ...]:
    return tuple(
        w for w in lexical.tokenize(text, "jieba") if len(w) >= 2 and w not in GENERIC_WORDS
    )


def _term_idf(word: str, stats: lexical.Bm25Stats) -> float:
    """A word's rarity in the pool, from the pool's lexical terms (CJK bigrams and ASCII words):
    its most common bigram decides (a word is no rarer than the words it is made of)."""
    grams = lexical.tokenize(word, "bigram") or [word]
    return min(stats.idf(g) for g in grams)


def original_form(term: str, text: str) -> str:
    """``term`` (normalised: NFKC, lower-case) as the text writes it: LDMOS, 15 kV, not ldmos, 15kv."""
    normalized = unicodedata.normalize("NFKC", text)
    if term.isascii():
        # Letters and digits in order, optional spaces between a number and its unit.
        pattern = r"\s?".join(re.escape(c) for c in term)
        found = re.search(pattern, normalized, flags=re.IGNORECASE)
        if found:
            return found.group(0)
    return term


def shared_terms(
    query_text: str,
    candidate_text: str,
    *,
    allowed_text: str | None = None,
    stats: lexical.Bm25Stats | None = None,
) -> list[str]:
    """Key words both texts use, the weightiest (rarest in the pool, most repeated in the need) first,
    in the need's own casing. With ``allowed_text`` only words that also occur in it (the need's
    public part) are returned; with the pool's ``stats`` words under the IDF floor are left out."""
    query_words = Counter(_words(query_text))
    candidate_words = set(_words(candidate_text))
    allowed = set(_words(allowed_text)) if allowed_text is not None else None
    common = [w for w in query_words if w in candidate_words and (allowed is None or w in allowed)]
    # Drop words contained in a longer shared word (电池 inside 锂电池).
    common = [w for w in common if not any(w != other and w in other for other in common)]
    use_idf = stats is not None and stats.n_docs >= IDF_MIN_DOCS
    weight = {}
    for w in common:
        idf = _term_idf(w, stats) if use_idf else float(len(w))
        if use_idf and idf < IDF_FLOOR:
            continue
        weight[w] = idf * (1.0 + math.log(query_words[w]))
    ranked = sorted(weight, key=lambda w: (-weight[w], -len(w), w))
    return [original_form(w, query_text) for w in ranked[:MAX_TERMS]]


@functools.lru_cache(maxsize=16384)
def _bigrams(text: str) -> frozenset[str]:
    return frozenset(lexical.tokenize(text))


def sentence_pairs(
    need_sentences: Sequence[str], candidate_sentences: Sequence[str]
) -> list[tuple[str, str, float]]:
    """For each need sentence, the candidate sentence sharing the most character bigrams with it
    and their Dice coefficient."""
    pairs = []
    candidates = [(s, _bigrams(s)) for s in candidate_sentences]
    for sentence in need_sentences:
        grams = _bigrams(sentence)
        if not grams or not candidates:
            continue
        best, score = max(
            ((c, 2 * len(grams & g) / (len(grams) + len(g)) if g else 0.0) for c, g in candidates),
            key=lambda pair: pair[1],
        )
        pairs.append((sentence, best, score))
    return pairs


def best_evidence(
    need_sentences: Sequence[str],
    candidate_sentences: Sequence[str],
    *,
    model_id: str | None = None,
) -> list[dict]:
    """The best candidate sentence for each need sentence (``sentence_pairs``), strongest first;
    only pairs that reach the weak evidence level (fitted on dev,
    ``matching.matcher.calibration.evidence_level``), each with its level (strong/medium/weak: 强/中/弱)."""
    pairs = []
    for sentence, best, score in sentence_pairs(need_sentences, candidate_sentences):
        level = calibration.evidence_level(model_id, score)
        if level is not None:
            pairs.append(
                {"need": sentence, "candidate": best, "similarity": round(score, 3), "level": level}
            )
    pairs.sort(key=lambda p: -p["similarity"])
    return pairs[:MAX_EVIDENCE]


def _mode_names(codes: Sequence[str]) -> str:
    labels = dict(CoopMode.choices)
    return "、".join(str(labels.get(c, c)) for c in codes)


def _money(low: float | None, high: float | None) -> str:
    def fmt(v: float) -> str:
        return f"{v:g}"

    if low is not None and high is not None and low != high:
        return f"{fmt(low)}–{fmt(high)}"
    value = high if high is not None else low
    return fmt(value) if value is not None else ""


def fit_items(need: MatchDoc, candidate: MatchDoc, field_names: dict[str, str]) -> list[dict]:
    """Fit and misfit of the structured attributes, as displayable items."""
    items: list[dict] = []
    if need.field_codes and candidate.field_codes:
        need_code, cand_code = need.field_codes[0], candidate.field_codes[0]
        same_top = any(c.split(".")[0] == need_code.split(".")[0] for c in candidate.field_codes)
        if need_code in candidate.field_codes:
            items.append(
                _item(
                    "field_same",
                    True,
                    _("领域一致：%(name)s"),
                    name=field_names.get(need_code, need_code),
                )
            )
        elif same_top:
            items.append(
                _item(
                    "field_near",
                    True,
                    _("同属%(name)s领域"),
                    name=field_names.get(need_code.split(".")[0], ""),
                )
            )
        else:
            items.append(
                _item(
                    "field_other",
                    False,
                    _("领域不同：需求属%(need)s，对方属%(candidate)s"),
                    need=field_names.get(need_code, need_code),
                    candidate=field_names.get(cand_code, cand_code),
                )
            )
    if need.trl and candidate.trl:
        if candidate.trl >= need.trl:
            items.append(
                _item(
                    "trl_ok",
                    True,
                    _("成熟度 TRL %(trl)s（%(stage)s），满足需求的 TRL ≥ %(want)s"),
                    trl=candidate.trl,
                    stage=trl_stage(candidate.trl),
                    want=need.trl,
                )
            )
        else:
            items.append(
                _item(
                    "trl_low",
                    False,
                    _("成熟度 TRL %(trl)s，需求要求 ≥ %(want)s"),
                    trl=candidate.trl,
                    want=need.trl,
                )
            )
    if need.modes and candidate.modes:
        common = [m for m in need.modes if m in candidate.modes]
        if common:
            items.append(
                _item("mode_ok", True, _("合作方式吻合：%(modes)s"), modes=_mode_names(common))
            )
        else:
            items.append(
                _item(
                    "mode_other",
                    False,
                    _("合作方式不符：需求希望%(wanted)s，对方提供%(offered)s"),
                    wanted=_mode_names(need.modes),
                    offered=_mode_names(candidate.modes),
                )
            )
    if need.budget_max and candidate.budget_min is not None:
        price = _money(candidate.budget_min, candidate.budget_max)
        budget = _money(need.budget_min, need.budget_max)
        if candidate.budget_min <= need.budget_max:
            items.append(
                _item(
                    "budget_ok",
                    True,
                    _("报价 %(price)s 万元，在预算 %(budget)s 万元内"),
                    price=price,
                    budget=budget,
                )
            )
        else:
            items.append(
                _item(
                    "budget_high",
                    False,
                    _("报价 %(price)s 万元，高于预算上限 %(budget)s 万元"),
                    price=price,
                    budget=_money(None, need.budget_max),
                )
            )
    if need.region and candidate.region and need.region == candidate.region:
        items.append(_item("region_same", True, _("同在%(region)s"), region=need.region))
    return items


def _item(code: str, ok: bool, template: str, **params) -> dict:
    return {"code": code, "ok": ok, "text": template % params, "params": params}


def explain(
    need: MatchDoc,
    candidate: MatchDoc,
    components: dict[str, float],
    field_names: dict[str, str],
    *,
    stats: lexical.Bm25Stats | None = None,
    model_id: str | None = None,
) -> dict:
    """``stats``: the pool's lexical statistics of the need's terms (for the IDF floor of shared
    terms); ``model_id``: the embedding model whose fitted evidence levels apply."""
    with override("zh-hans"):
        fits = fit_items(need, candidate, field_names)
    full = {
        "shared_terms": shared_terms(need.text, candidate.text, stats=stats),
        "evidence": best_evidence(need.sentences, candidate.sentences, model_id=model_id),
        "fit": fits,
        "components": {k: round(v, 4) for k, v in components.items() if not math.isnan(v)},
    }
    # What a summary-only viewer may read is decided at read time by
    # ``matching.catalogue.projections.explanation_for_viewer``; only the key terms of the need's public text
    # must be computed here (they need both texts).
    full["public"] = {
        "shared_terms": shared_terms(
            need.public_text, candidate.text, allowed_text=need.public_text, stats=stats
        ),
    }
    return full
