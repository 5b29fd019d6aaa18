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


# --- The fanned-out rebuild (queue ``reindex``; see matching/matcher/reindex.py) -------------------


def _fan_out(batch_ids: list[int], callback=None):
    """Send one task per batch, as a chord when ``callback`` must run after all of them. Returns
    how many were sent and the callback's (or the group's) result."""
    from celery import chord, group

    if not batch_ids:
        return 0, (callback.apply_async() if callback is not None else None)
    header = group(reindex_batch.si(batch_id) for batch_id in batch_ids)
    return len(batch_ids), header.apply_async() if callback is None else chord(header)(callback)


def start_reindex(*, match: bool = True, batch_size: int | None = None):
    """Plan the rebuild of the configured model's index and send its batches to the ``reindex``
    queue. Returns the version, how many index batches were sent and the result of the index
    stage's callback (``reindex_index_done``)."""
    from matching.matcher import indexing, reindex

    version = indexing.version_for_current_model()
    pending = reindex.plan_index(version, batch_size=batch_size)
    sent, done = _fan_out(pending, reindex_index_done.si(version.pk, match, batch_size))
    return version, sent, done


@shared_task(acks_late=True, name="matching.reindex_all")
def reindex_all(match: bool = True, batch_size: int | None = None) -> dict:
    """Rebuild indexes and matches (after loading data, or to switch to a new model): plan the
    batches and send them to the ``reindex`` queue, where every worker consuming it shares them."""
    version, sent, _done = start_reindex(match=match, batch_size=batch_size)
    return {"version": version.pk, "index_batches": sent}


@shared_task(
    bind=True,
    acks_late=True,
    name="matching.reindex_batch",
    autoretry_for=(ConnectionError, TimeoutError),
    retry_backoff=True,
    max_retries=5,
)
def reindex_batch(self, batch_id: int) -> dict:
    """Claim and do one batch (skipped when done or claimed by a live worker)."""
    from matching.matcher.reindex import run_batch

    return run_batch(batch_id, worker=self.request.hostname or "")


@shared_task(acks_late=True, name="matching.reindex_index_done")
def reindex_index_done(version_id: int, match: bool = True, batch_size: int | None = None) -> dict:
    """Chord callback of the index stage: drop stale rows, activate a version being built, then
    send the match stage's batches."""
    from matching.matcher import reindex
    from matching.models import EmbeddingVersion

    version = EmbeddingVersion.objects.filter(pk=version_id).first()
    if version is None:
        return {"version": version_id, "gone": True}
    finished = reindex.finish_index(version)
    if match and finished["ready"]:
        finished["match_batches"], _ = _fan_out(reindex.plan_match(version, batch_size=batch_size))
    return finished


@shared_task(acks_late=True, name="matching.ensure_index_current")
def ensure_index_current() -> dict:
    """Beat: when the configured model's index is still being built and no worker is on it (its
    run died), send its remaining batches again."""
    from matching.matcher import indexing, reindex
    from matching.models import EmbeddingVersion

    version = indexing.version_for_current_model()
    if version.status != EmbeddingVersion.Status.BUILDING:
        return {"building": False}
    if reindex.in_progress(version):
        return {"building": True, "in_progress": True}
    return {"building": True, **reindex_all(match=True)}


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
