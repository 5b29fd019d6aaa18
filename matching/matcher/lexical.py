"""Chinese tokenisation and BM25 for lexical matching (pure Python + numpy).

Chinese has no spaces, so the default tokens are the single characters and overlapping
character bigrams of each run of CJK characters (dictionary-free; the single characters
keep some overlap when a need is worded differently, e.g. 锂 in 补充锂 vs 预锂化), plus whole
ASCII words (``PID``, ``LSTM``, ``5g``). jieba words are available as an alternative scheme.

Corpus statistics (``Bm25Stats``) are kept apart from the documents being scored so the
service can persist them for the whole result pool and score any candidate subset with
global IDF and average length.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

Scheme = Literal["bigram", "unibigram", "jieba", "jieba_bigram"]
DEFAULT_SCHEME: Scheme = "unibigram"

# CJK unified ideographs (+ extension A and compatibility ideographs).
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_RUN = re.compile(rf"[{_CJK}]+|[a-z0-9]+(?:[.\-][a-z0-9]+)*")
_CJK_RUN = re.compile(rf"^[{_CJK}]+$")
# Bare numbers are mostly quantities ("2002", "10") that say little about the topic.
_NUMBER = re.compile(r"^[0-9.\-]+$")


def normalize(text: str) -> str:
    """NFKC folds full-width letters/digits to ASCII; lower-case for ASCII words."""
    return unicodedata.normalize("NFKC", text or "").lower()


def _cjk_bigrams(run: str) -> list[str]:
    if len(run) == 1:
        return [run]
    return [run[i : i + 2] for i in range(len(run) - 1)]


def tokenize(text: str, scheme: Scheme = DEFAULT_SCHEME) -> list[str]:
    """Split text into lexical tokens.

    - ``bigram``: CJK runs -> overlapping character bigrams (a 1-char run stays a unigram).
    - ``unibigram``: bigrams plus every single CJK character.
    - ``jieba``: jieba search-mode words for CJK runs.
    - ``jieba_bigram``: both jieba words (prefixed ``w:``) and bigrams.
    ASCII words are kept whole in every scheme; bare numbers are dropped.
    """
    tokens: list[str] = []
    for run in _RUN.findall(normalize(text)):
        if not _CJK_RUN.match(run):
            if not _NUMBER.match(run):
                tokens.append(run)
            continue
        if scheme in ("bigram", "unibigram", "jieba_bigram"):
            tokens.extend(_cjk_bigrams(run))
        if scheme == "unibigram" and len(run) > 1:
            tokens.extend(run)
        if scheme in ("jieba", "jieba_bigram"):
            words = _jieba_words(run)
            tokens.extend(words if scheme == "jieba" else [f"w:{w}" for w in words])
    return tokens


@functools.cache
def _jieba():
    import jieba

    # Silence the dictionary-loading banner, once: setLogLevel clears the logging caches, which
    # cost more than the segmentation itself when it ran on every call.
    jieba.setLogLevel(60)
    return jieba


def _jieba_words(run: str) -> list[str]:
    return [w for w in _jieba().lcut_for_search(run) if w.strip()]


@dataclass
class Bm25Stats:
    """Corpus statistics for BM25: document count, total length and document
    frequencies. Serialisable with to_dict()/from_dict() and updatable in place when
    documents are added to or removed from the pool."""

    n_docs: int = 0
    total_len: int = 0
    df: dict[str, int] = field(default_factory=dict)

    @property
    def avgdl(self) -> float:
        return self.total_len / self.n_docs if self.n_docs else 0.0

    @classmethod
    def from_documents(cls, docs: Iterable[Sequence[str]]) -> Bm25Stats:
        stats = cls()
        for tokens in docs:
            stats.add(tokens)
        return stats

    def add(self, tokens: Sequence[str]) -> None:
        self.n_docs += 1
        self.total_len += len(tokens)
        for term in set(tokens):
            self.df[term] = self.df.get(term, 0) + 1

    def remove(self, tokens: Sequence[str]) -> None:
        self.n_docs -= 1
        self.total_len -= len(tokens)
        for term in set(tokens):
            left = self.df.get(term, 0) - 1
            if left > 0:
                self.df[term] = left
            else:
                self.df.pop(term, None)

    def idf(self, term: str) -> float:
        """BM25+ style idf that never goes negative (Lucene's log(1 + (N-n+.5)/(n+.5)))."""
        n = self.df.get(term, 0)
        return math.log(1.0 + (self.n_docs - n + 0.5) / (n + 0.5))

    def to_dict(self) -> dict:
        return {"n_docs": self.n_docs, "total_len": self.total_len, "df": dict(self.df)}

    @classmethod
    def from_dict(cls, data: Mapping) -> Bm25Stats:
        return cls(int(data["n_docs"]), int(data["total_len"]), dict(data["df"]))


@dataclass(frozen=True)
class Bm25Params:
    k1: float = 1.2
    b: float = 0.75


class Bm25Corpus:
    """Term frequencies of a set of documents (e.g. a candidate subset), with an
    inverted index so a query touches only documents that share a term with it."""

    def __init__(self, docs: Sequence[Sequence[str]]):
        self.lengths = np.array([len(d) for d in docs], dtype=np.float64)
        self.postings: dict[str, tuple[list[int], list[int]]] = {}
        for i, tokens in enumerate(docs):
            for term, tf in Counter(tokens).items():
                ids, tfs = self.postings.setdefault(term, ([], []))
                ids.append(i)
                tfs.append(tf)

    def __len__(self) -> int:
        return len(self.lengths)

    def scores(
        self, query: Sequence[str], stats: Bm25Stats, params: Bm25Params = Bm25Params()
    ) -> np.ndarray:
        out = np.zeros(len(self.lengths), dtype=np.float64)
        avgdl = stats.avgdl or (float(self.lengths.mean()) if len(self.lengths) else 1.0)
        norm = params.k1 * (1.0 - params.b + params.b * self.lengths / max(avgdl, 1e-9))
        # Each distinct query term counts once: repeated terms in a long need would
        # otherwise dominate (measured slightly better than weighting by query tf).
        for term in dict.fromkeys(query):
            posting = self.postings.get(term)
            if posting is None:
                continue
            ids = np.asarray(posting[0])
            tf = np.asarray(posting[1], dtype=np.float64)
            out[ids] += stats.idf(term) * tf * (params.k1 + 1.0) / (tf + norm[ids])
        return out


def bm25_scores(
    query_tokens: Sequence[str],
    doc_token_lists: Sequence[Sequence[str]] | Bm25Corpus,
    stats: Bm25Stats,
    params: Bm25Params = Bm25Params(),
) -> np.ndarray:
    """BM25 score of every document for one query, using global ``stats`` (so the
    documents may be a candidate subset of the pool). Pass a prebuilt Bm25Corpus when
    scoring many queries against the same documents."""
    if isinstance(doc_token_lists, Bm25Corpus):
        return doc_token_lists.scores(query_tokens, stats, params)
    # One query against a fresh set of documents: count only the query's terms instead of
    # indexing every term of every document (same numbers as Bm25Corpus(docs).scores).
    terms = list(dict.fromkeys(query_tokens))
    index = {t: i for i, t in enumerate(terms)}
    lengths = np.array([len(d) for d in doc_token_lists], dtype=np.float64)
    out = np.zeros(len(lengths), dtype=np.float64)
    if not len(lengths) or not terms:
        return out
    avgdl = stats.avgdl or float(lengths.mean())
    norm = params.k1 * (1.0 - params.b + params.b * lengths / max(avgdl, 1e-9))
    idf = [stats.idf(t) for t in terms]
    for j, tokens in enumerate(doc_token_lists):
        counts = Counter(t for t in tokens if t in index)
        if counts:
            # Summed in query-term order, as Bm25Corpus.scores adds them.
            out[j] = sum(
                idf[i] * counts[t] * (params.k1 + 1.0) / (counts[t] + norm[j])
                for i, t in enumerate(terms)
                if t in counts
            )
    return out


def self_score(
    query_tokens: Sequence[str], stats: Bm25Stats, params: Bm25Params = Bm25Params()
) -> float:
    """Upper reference for a query's BM25: the score of a document of average length that
    contains each distinct query term once. Dividing by it puts BM25 on a per-query scale
    that does not depend on which candidates are being scored."""
    terms = dict.fromkeys(query_tokens)
    return sum(stats.idf(t) for t in terms) * 1.0  # tf=1, dl=avgdl -> factor 1
