"""Celery tasks of the matcher. Thin: each reloads by id and calls ``matching.pipeline``."""

from __future__ import annotations

from celery import shared_task


@shared_task(
    acks_late=True,
    autoretry_for=(ConnectionError, TimeoutError),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=5,
    name="matching.index_and_match",
)
def index_and_match(kind: str, object_id: int) -> dict:
    """Embed and tokenise one need/result/capability profile (skipped when its content hash is
    unchanged), then recompute its matches. Idempotent: re-running yields the same match rows."""
    from matching import pipeline

    return pipeline.index_and_match(kind=kind, object_id=object_id)
