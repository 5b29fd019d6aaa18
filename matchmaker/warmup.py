"""Loading the matcher's embedding model when a process starts, not inside its first request or
task: a Celery worker's pool process (``matchmaker.celery``) and a gunicorn worker that answers
``POST /api/v1/match/`` (``gunicorn.conf.py``)."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def preload_embedding_model() -> bool:
    """Load the configured model and run one encoding (the first one pays for setting up the
    model's kernels). False, with a warning, when the model is not built."""
    import os
    import time

    from matching.matcher import embedding

    started = time.monotonic()
    try:
        embedding.encode(["预热"], kind="query")
    except (embedding.ModelNotBuiltError, OSError) as exc:
        log.warning("embedding model not preloaded: %s", exc)
        return False
    log.info(
        "embedding model preloaded in process %d: %s (%.1f s)",
        os.getpid(),
        embedding.model_id(),
        time.monotonic() - started,
    )
    return True
