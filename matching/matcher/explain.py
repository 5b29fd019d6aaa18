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
from collections import Counter
from collections.abc import Sequence

from django.utils.translation import gettext as _
from django.utils.translation import override

from matching.matcher import lexical
from matching.matcher.documents import MatchDoc
from matching.models import CoopMode, trl_stage

MAX_TERMS = 8
MAX_EVIDENCE = 4
# Words that appear in almost every need or result and explain nothing.
GENERIC_WORDS = frozenset(
    "技术 研究 方法 系统 提高 提升 问题 进行 实现 需求 我们 公司 企业 项目 开发 应用 目前 现有 能够 可以 通过 "
    "基于 采用 以及 及其 一种 具有 相关 主要 要求 需要 希望 方面 工作 领域 成果 团队 产品 生产 过程 效果 达到 "
    "国内 国外 以上 以下 左右 其中 同时 并且 已经 没有 不能 目标 指标 情况 条件 关键 解决".split()
)


# A need is explained against ~25 candidates in a row, and a candidate against every need it
# matches: the same texts are tokenised over and over (jieba, ~2 ms a text), so remember them.
@functools.lru_cache(maxsize=4096)
def _words(text: str) -> tuple[str, ...]:
    return tuple(
        w for w in lexical.tokenize(text, "jieba") if len(w) >= 2 and w not in GENERIC_WORDS
    )


def shared_terms(
    query_text: str, candidate_text: str, *, allowed_text: str | None = None
) -> list[str]:
    """Key words both texts use, longest and most repeated first. With ``allowed_text`` only words
    that also occur in it (the need's public part) are returned."""
    query_words = Counter(_words(query_text))
    candidate_words = set(_words(candidate_text))
    allowed = set(_words(allowed_text)) if allowed_text is not None else None
    common = [w for w in query_words if w in candidate_words and (allowed is None or w in allowed)]
    # Drop words contained in a longer shared word (电池 inside 锂电池).
    common = [w for w in common if not any(w != other and w in other for other in common)]
    common.sort(key=lambda w: (-len(w), -query_words[w], w))
    return common[:MAX_TERMS]


@functools.lru_cache(maxsize=16384)
def _bigrams(text: str) -> frozenset[str]:
    return frozenset(lexical.tokenize(text))


def best_evidence(need_sentences: Sequence[str], candidate_sentences: Sequence[str]) -> list[dict]:
    """For each need sentence, the candidate sentence sharing the most character bigrams with it
    (Dice coefficient), strongest pairs first."""
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
        if score >= 0.12:
            pairs.append({"need": sentence, "candidate": best, "similarity": round(score, 3)})
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
    need: MatchDoc, candidate: MatchDoc, components: dict[str, float], field_names: dict[str, str]
) -> dict:
    with override("zh-hans"):
        fits = fit_items(need, candidate, field_names)
    full = {
        "shared_terms": shared_terms(need.text, candidate.text),
        "evidence": best_evidence(need.sentences, candidate.sentences),
        "fit": fits,
        "components": {k: round(v, 4) for k, v in components.items() if not math.isnan(v)},
    }
    # What a summary-only viewer may read is decided at read time by
    # ``matching.catalogue.projections.explanation_for_viewer``; only the key terms of the need's public text
    # must be computed here (they need both texts).
    full["public"] = {
        "shared_terms": shared_terms(
            need.public_text, candidate.text, allowed_text=need.public_text
        ),
    }
    return full
