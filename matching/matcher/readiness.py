"""The matcher's own view of a text before it is published: will it match well?

Two signals the ranking actually uses: how much text there is, and how many of its terms are
*distinctive* in the pool it is ranked against (rare enough in the lexical index to pick out
candidates, as ``engine.rare_terms`` does). Common words ("技术", "提升", "问题") match everything
and so nothing. Registered as the catalogue's text reader in ``matching.apps``; read-only.
"""

from __future__ import annotations

import re

from django.utils.translation import gettext as _

from matching.catalogue.quality import MatcherView
from matching.matcher.indexing import lexical_stats, tokens_for
from matching.models import ObjectKind

# Fewer characters than this and neither the embedding nor BM25 has much to go on.
MIN_CHARS = 60
# A term is distinctive when at most this share of the pool contains it.
DISTINCTIVE_DF_SHARE = 0.05
# A text with fewer distinctive terms than this reads as generic.
MIN_DISTINCTIVE_TERMS = 4
# Below this pool size document frequencies say little; only the length is judged.
MIN_POOL_DOCS = 30

# Needs are ranked against results, results are found by needs: both read the result pool,
# the one whose vocabulary the lexical index holds.
_POOL = {ObjectKind.NEED: ObjectKind.RESULT, ObjectKind.RESULT: ObjectKind.RESULT}


def text_view(kind: str, text: str) -> MatcherView:
    chars = len(re.sub(r"\s", "", text))
    if chars < MIN_CHARS:
        return MatcherView(
            "too_short",
            _("这段文字太短（%(n)d 字），匹配效果会很差。") % {"n": chars},
            {"chars": chars},
        )
    # Multi-character terms only: single characters are in almost every document.
    terms = {t for t in tokens_for(text) if len(t) > 1}
    stats = lexical_stats(_POOL.get(kind, ObjectKind.RESULT), terms)
    signals = {"chars": chars, "pool_docs": stats.n_docs}
    if stats.n_docs < MIN_POOL_DOCS:
        return MatcherView("ok", _("文字长度足以匹配。"), signals)
    limit = max(1, int(stats.n_docs * DISTINCTIVE_DF_SHARE))
    distinctive = sorted((t for t in terms if 0 < stats.df.get(t, 0) <= limit), key=stats.df.get)
    signals |= {"distinctive_terms": len(distinctive), "examples": distinctive[:5]}
    if len(distinctive) < MIN_DISTINCTIVE_TERMS:
        return MatcherView(
            "too_generic",
            _("用词太笼统：只有 %(n)d 个能区分出合适对象的专业词，匹配效果会很差。")
            % {"n": len(distinctive)},
            signals,
        )
    return MatcherView(
        "ok",
        _("有 %(n)d 个能区分出合适对象的专业词，匹配效果应当较好。") % {"n": len(distinctive)},
        signals,
    )
