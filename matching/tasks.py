"""Celery tasks of the matcher. Thin: each reloads by id and calls ``matching.matcher.pipeline``."""

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
    from matching.matcher import pipeline

    return pipeline.index_and_match(kind=kind, object_id=object_id)


@shared_task(
    acks_late=True, name="matching.reindex_all", time_limit=3 * 3600, soft_time_limit=3 * 3600 - 60
)
def reindex_all() -> dict:
    """Rebuild indexes and matches (after loading data, or to switch to a new model)."""
    from matching.matcher.reindex import reindex

    return reindex()


@shared_task(acks_late=True, name="matching.ensure_index_current")
def ensure_index_current() -> dict:
    """Beat: when the configured model's index is still being built, continue building it."""
    from matching.matcher import indexing
    from matching.matcher.reindex import reindex
    from matching.models import EmbeddingVersion

    if indexing.version_for_current_model().status != EmbeddingVersion.Status.BUILDING:
        return {"building": False}
    return reindex()


@shared_task(acks_late=True, name="matching.answers_sweep")
def answers_sweep() -> dict:
    """Beat: remind enterprises of access requests due soon and record missed answer deadlines.
    Idempotent (each reminder and record is claimed once), so ``acks_late`` is safe."""
    from matching.catalogue.services.access import access_answers_sweep

    return access_answers_sweep()


@shared_task(acks_late=True, name="matching.listings_expiry_sweep")
def listings_expiry_sweep() -> dict:
    """Beat: remind owners of needs and results about to expire and mark expired ones.
    Idempotent (each reminder and expiry is claimed once), so ``acks_late`` is safe."""
    from matching.catalogue.services.freshness import listings_expiry_sweep as sweep

    return sweep()
