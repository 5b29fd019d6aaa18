"""Embeddings of an evaluation split, cached on disk between runs (``evaluate_matcher --vectors``).

Encoding a split is most of an evaluation's time (dev: ~4 min on 2 cores); fitting the calibration
re-ranks the same split many times. The cache key is the model id, the text kind and every text, so
a changed model, prompt side or split never reuses stale vectors.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from matching.matcher import embedding


def cache_key(model_id: str, kind: str, texts: Sequence[str]) -> str:
    digest = hashlib.sha256(f"{model_id}\n{kind}\n".encode())
    for text in texts:
        digest.update(text.encode())
        digest.update(b"\x00")
    return digest.hexdigest()[:24]


def encode_cached(
    texts: Sequence[str],
    *,
    model_name: str | None,
    kind: embedding.TextKind,
    batch_size: int = 32,
    cache_dir: Path | None = None,
) -> np.ndarray:
    """``embedding.encode`` of ``texts``; read from / written to ``cache_dir`` when given."""
    if cache_dir is None:
        return embedding.encode(texts, model_name=model_name, kind=kind, batch_size=batch_size)
    path = Path(cache_dir) / f"{cache_key(embedding.model_id(model_name), kind, texts)}.npy"
    if path.is_file():
        return np.load(path)
    vectors = embedding.encode(texts, model_name=model_name, kind=kind, batch_size=batch_size)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, vectors)
    tmp.replace(path)
    return vectors
