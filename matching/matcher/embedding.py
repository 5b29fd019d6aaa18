"""Text embeddings for the matcher.

This is the only module in the project that imports sentence_transformers. Models are
loaded lazily and cached per process, one instance per resolved name.

The default model (``settings.MATCHER_MODEL``) is a local directory built offline by
``make setup`` (scripts/build_default_model.py). Any other name that is not a local
directory is passed straight to ``SentenceTransformer`` (which works where a model hub
is reachable).
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

# Used when Django is not configured (scripts, research, tests) and no env override is set.
DEFAULT_MODEL_PATH = "var/models/default"
# Which side of a match a text is on. Asymmetric models (e5) prepend a different prompt
# to each side; models without such prompts ignore it.
TextKind = Literal["query", "document"]

_models: dict[str, SentenceTransformer] = {}
_lock = threading.Lock()


class ModelNotBuiltError(RuntimeError):
    """The default model directory is missing: the set-up step has not been run."""


def _settings_value(name: str) -> str | None:
    """Read a Django setting if Django is configured (or configurable from
    DJANGO_SETTINGS_MODULE), without requiring Django."""
    try:
        from django.conf import settings
        from django.core.exceptions import ImproperlyConfigured
    except ImportError:
        return None
    if not (settings.configured or os.environ.get("DJANGO_SETTINGS_MODULE")):
        return None
    try:
        value = getattr(settings, name, None)
    except ImproperlyConfigured:
        return None
    return None if value is None else str(value)


def default_model_name() -> str:
    return _settings_value("MATCHER_MODEL") or os.environ.get("MATCHER_MODEL") or DEFAULT_MODEL_PATH


def _base_dir() -> Path:
    base = _settings_value("BASE_DIR")
    return Path(base) if base else Path.cwd()


def _looks_like_path(name: str) -> bool:
    """A hub id looks like 'org/model'; our default looks like 'var/models/x' or is absolute."""
    path = Path(name).expanduser()
    return (
        path.is_absolute()
        or name.startswith((".", "~"))
        or path.parts[0] == "var"
        or (len(path.parts) > 2)
    )


def resolve_model_name(name: str | None = None) -> str:
    """Return the string to hand to SentenceTransformer: an absolute directory when the
    name is a local directory, else the name unchanged (hub id).

    Raises ModelNotBuiltError when the *default* model looks like a local path that does
    not exist yet.
    """
    use_default = name is None
    name = name or default_model_name()
    path = Path(name).expanduser()
    if not path.is_absolute():
        path = _base_dir() / path
    if path.is_dir():
        return str(path.resolve())
    if use_default and _looks_like_path(name):
        raise ModelNotBuiltError(
            f"The matcher's embedding model directory {path} does not exist. "
            "Run `make setup` (it builds the model offline with "
            f"`python scripts/build_default_model.py {name}`)."
        )
    return name


def configured_max_tokens() -> int | None:
    """``EMBEDDING_MAX_TOKENS``: the input length texts are cut to (None: the model's own)."""
    value = _settings_value("EMBEDDING_MAX_TOKENS") or os.environ.get("EMBEDDING_MAX_TOKENS")
    return int(value) if value else None


def _built_max_tokens(key: str) -> int | None:
    info_path = Path(key) / "BUILD_INFO.json"
    if info_path.is_file():
        value = json.loads(info_path.read_text()).get("max_seq_length")
        return int(value) if value else None
    return None


# ``max_tokens=MODEL_LENGTH``: the model's own input length, whatever the setting says.
MODEL_LENGTH = 0


def _max_tokens(key: str, max_tokens: int | None) -> int | None:
    """The input length to use for the model at ``key``: ``max_tokens``, else the setting; None
    when that is the model's own length (so its id and vectors stay as built)."""
    if max_tokens == MODEL_LENGTH:
        return None
    wanted = max_tokens or configured_max_tokens()
    return None if wanted is None or wanted == _built_max_tokens(key) else wanted


def _apply_thread_setting() -> None:
    """``MATCHER_TORCH_THREADS``: torch's threads in this process (0: torch's default, every core).
    Several worker processes on one machine should share its cores, not each take all of them."""
    value = _settings_value("MATCHER_TORCH_THREADS") or os.environ.get("MATCHER_TORCH_THREADS")
    if value and int(value) > 0:
        import torch

        torch.set_num_threads(int(value))


def get_model(name: str | None = None, *, max_tokens: int | None = None) -> SentenceTransformer:
    """Load (once per process, name and input length) and return the SentenceTransformer."""
    key = resolve_model_name(name)
    length = _max_tokens(key, max_tokens)
    cache_key = key if length is None else f"{key}#tok{length}"
    model = _models.get(cache_key)
    if model is None:
        with _lock:
            model = _models.get(cache_key)
            if model is None:
                from sentence_transformers import SentenceTransformer

                _apply_thread_setting()
                model = SentenceTransformer(key, device="cpu")
                if length is not None:
                    model.max_seq_length = length
                model.eval()
                _models[cache_key] = model
    return model


def encode(
    texts: Sequence[str],
    *,
    model_name: str | None = None,
    batch_size: int = 32,
    kind: TextKind | None = None,
    max_tokens: int | None = None,
) -> np.ndarray:
    """Embed texts as float32, L2-normalised rows (shape (len(texts), dimension)).

    ``kind`` selects the model's "query" or "document" prompt when it defines one (the
    default e5 model does: demands are queries, results are documents). ``max_tokens`` overrides
    ``EMBEDDING_MAX_TOKENS`` (benchmarks, evaluation).
    """
    model = get_model(model_name, max_tokens=max_tokens)
    if len(texts) == 0:
        return np.zeros((0, dimension(model_name)), dtype=np.float32)
    prompt_name = kind if kind is not None and kind in (model.prompts or {}) else None
    vectors = model.encode(
        list(texts),
        prompt_name=prompt_name,
        batch_size=batch_size,
        convert_to_numpy=True,
        show_progress_bar=False,
    )
    vectors = np.asarray(vectors, dtype=np.float32)
    # Normalise here too: not every model ends with a Normalize module.
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


def max_tokens_of(model_id_value: str) -> int:
    """The input length a stored model id was encoded at (``MODEL_LENGTH`` without a tag)."""
    tag = re.search(r":tok(\d+)$", model_id_value)
    return int(tag.group(1)) if tag else MODEL_LENGTH


def model_id(name: str | None = None, *, max_tokens: int | None = None) -> str:
    """A stable id for the model behind ``name``, used to tag stored vectors so that
    vectors from another model (or another build of it, or cut to another input length:
    ``:tok<N>`` when ``EMBEDDING_MAX_TOKENS`` differs from the built length) are never compared."""
    key = resolve_model_name(name)
    length = _max_tokens(key, max_tokens)
    suffix = "" if length is None else f":tok{length}"
    info_path = Path(key) / "BUILD_INFO.json"
    if info_path.is_file():
        info = json.loads(info_path.read_text())
        return f"{info['model']}:{info['build_version']}:{info['source_sha256'][:12]}{suffix}"
    if Path(key).is_dir():
        return Path(key).name + suffix
    return key + suffix


def dimension(name: str | None = None) -> int:
    model = get_model(name)
    getter = (
        getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    )
    dim = getter()
    if dim is None:  # some modules do not declare it; measure instead
        dim = int(model.encode(["x"], convert_to_numpy=True).shape[1])
    return int(dim)


def clear_cache() -> None:
    """Forget loaded models (tests; freeing memory)."""
    with _lock:
        _models.clear()
