"""EMBEDDING_MAX_TOKENS: another input length is another model id, and each index version is
encoded at the length its vectors were made with, so stored vectors never mix lengths."""

from __future__ import annotations

import numpy as np
import pytest

from matching.matcher import embedding, indexing
from matching.models import EmbeddingVersion

pytestmark = pytest.mark.django_db

LONG = "高镍三元正极材料表面包覆改性技术，" * 40  # far beyond 64 tokens


def test_model_id_is_tagged_only_when_the_length_differs_from_the_built_one(settings):
    built = embedding.model_id()
    settings.EMBEDDING_MAX_TOKENS = 128  # the default model's own length
    assert embedding.model_id() == built
    settings.EMBEDDING_MAX_TOKENS = 64
    assert embedding.model_id() == f"{built}:tok64"
    assert embedding.get_model().max_seq_length == 64
    assert embedding.max_tokens_of(embedding.model_id()) == 64
    assert embedding.max_tokens_of(built) == embedding.MODEL_LENGTH


def test_each_version_is_encoded_at_its_own_length(settings):
    settings.EMBEDDING_MAX_TOKENS = None
    full = embedding.encode([LONG], kind="document")
    settings.EMBEDDING_MAX_TOKENS = 64
    short = embedding.encode([LONG], kind="document")
    assert not np.allclose(full, short, atol=1e-4)  # the cut changes the vector

    old = EmbeddingVersion(
        model_id=embedding.model_id(max_tokens=embedding.MODEL_LENGTH),
        model_name=settings.MATCHER_MODEL,
        dimension=full.shape[1],
    )
    new = EmbeddingVersion(
        model_id=embedding.model_id(), model_name=settings.MATCHER_MODEL, dimension=full.shape[1]
    )
    assert new.model_id.endswith(":tok64")
    # With the setting at 64, the previous (untagged) version still gets full-length vectors.
    np.testing.assert_allclose(indexing.encode_for(old, [LONG], kind="document"), full, atol=1e-5)
    np.testing.assert_allclose(indexing.encode_for(new, [LONG], kind="document"), short, atol=1e-5)
