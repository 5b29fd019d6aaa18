"""Rebuilding the matcher's indexes and matches in batches that any number of workers share.

A rebuild is planned as rows of ``ReindexBatch`` under the configured model's index version:

1. stage ``index``: the ids of each kind's pool (results and capability profiles, then needs), in
   batches of ``REINDEX_BATCH_SIZE``; a batch embeds and tokenises its objects;
2. once every index batch is done (``finish``): the rows of objects that left the pool are dropped,
   a version being built is activated, and stage ``match`` is planned: the open needs in batches,
   each re-matched against the (new) pool.

Each batch is one Celery task on the ``reindex`` queue (``matching.tasks``), sent as a chord whose
callback is ``finish``; live publishing stays on the default queue, served by its own workers, and
keeps priority where they share cores: a batch encodes in small chunks and waits between them while
live matching runs (``matching.matcher.priority``).

- **Each batch once.** A task claims its batch in a short transaction (``SELECT … FOR UPDATE SKIP
  LOCKED`` on an unclaimed row, or one whose claim is older than ``REINDEX_BATCH_LEASE``: its
  worker died) and marks it done with the same claim token. A duplicate delivery, or a second
  worker handed the same batch, finds it claimed or done and skips it.
- **Resumable.** Planning only adds batches for ids no batch of the version holds yet; batches not
  done are sent again. A rerun after a complete rebuild plans nothing and does nothing.
- **Progress.** Counts of done and planned batches per stage (``progress_counts()``), shown in ``/healthz``
  and by the ``reindex`` command.

New results or profiles (ids no index batch held) make every need's matches stale, so planning
them clears the version's done match batches: the match stage then re-matches all open needs.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from matching.matcher import indexing, pipeline, priority
from matching.matcher.documents import doc_for, is_matchable, load_objects
from matching.models import (
    CapabilityProfile,
    Embedding,
    EmbeddingVersion,
    LexicalDocument,
    Need,
    ObjectKind,
    ReindexBatch,
    Result,
)

Progress = Callable[[str, int, int], None]  # (stage, done, total)
Stage = ReindexBatch.Stage

_POOL = {
    ObjectKind.NEED: lambda: Need.objects.filter(status__in=Need.OPEN_STATUSES),
    ObjectKind.RESULT: lambda: Result.objects.filter(status=Result.Status.PUBLISHED),
    ObjectKind.CAPABILITY: lambda: CapabilityProfile.objects.filter(is_published=True),
}

# Candidates first: a need indexed before the pool it is matched against would get no matches.
DEFAULT_ORDER = (ObjectKind.RESULT, ObjectKind.CAPABILITY, ObjectKind.NEED)
_CANDIDATE_KINDS = {ObjectKind.RESULT, ObjectKind.CAPABILITY}


def _batches(ids: list[int], size: int) -> Iterable[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def _lock_version(version: EmbeddingVersion) -> None:
    """Serialise planning for one version (transaction-scoped), so two planners never split the
    same new ids into different batches."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [0x5EED, int(version.pk)])


def _plan_stage(version: EmbeddingVersion, stage: str, kind: str, batch_size: int) -> int:
    """Add batches for the pool ids of ``kind`` that no batch of ``version``/``stage`` holds.
    Returns how many batches were added."""
    ids = list(_POOL[kind]().order_by("pk").values_list("pk", flat=True))
    held: set[int] = set()
    for object_ids in ReindexBatch.objects.filter(
        version=version, stage=stage, kind=kind
    ).values_list("object_ids", flat=True):
        held.update(object_ids)
    new = [i for i in ids if i not in held]
    rows = [
        ReindexBatch(version=version, stage=stage, kind=kind, first_id=batch[0], object_ids=batch)
        for batch in _batches(new, batch_size)
    ]
    ReindexBatch.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def plan_index(
    version: EmbeddingVersion,
    *,
    kinds: Iterable[str] = DEFAULT_ORDER,
    batch_size: int | None = None,
) -> list[int]:
    """Plan the index stage; return the ids of its batches not done yet, candidates first."""
    batch_size = batch_size or settings.REINDEX_BATCH_SIZE
    kinds = list(kinds)
    with transaction.atomic():
        _lock_version(version)
        added = {kind: _plan_stage(version, Stage.INDEX, kind, batch_size) for kind in kinds}
        if any(added[kind] for kind in kinds if kind in _CANDIDATE_KINDS):
            # New candidates entered the pool: every need's matches are stale.
            ReindexBatch.objects.filter(version=version, stage=Stage.MATCH).delete()
    return _pending(version, Stage.INDEX, kinds)


def plan_match(version: EmbeddingVersion, *, batch_size: int | None = None) -> list[int]:
    """Plan the match stage (open needs); return the ids of its batches not done yet."""
    batch_size = batch_size or settings.REINDEX_BATCH_SIZE
    with transaction.atomic():
        _lock_version(version)
        _plan_stage(version, Stage.MATCH, ObjectKind.NEED, batch_size)
    return _pending(version, Stage.MATCH, [ObjectKind.NEED])


def _pending(version: EmbeddingVersion, stage: str, kinds: list[str]) -> list[int]:
    rows = ReindexBatch.objects.filter(
        version=version, stage=stage, kind__in=kinds, done_at__isnull=True
    ).values_list("pk", "kind")
    order = {kind: i for i, kind in enumerate(kinds)}
    return [pk for pk, kind in sorted(rows, key=lambda row: (order[row[1]], row[0]))]


# --- Doing one batch ------------------------------------------------------------------------------


def _claim(batch_id: int, worker: str) -> ReindexBatch | None:
    lease = timezone.now() - timedelta(seconds=settings.REINDEX_BATCH_LEASE)
    with transaction.atomic():
        batch = (
            ReindexBatch.objects.select_for_update(skip_locked=True)
            .filter(pk=batch_id, done_at__isnull=True)
            .filter(Q(claimed_at__isnull=True) | Q(claimed_at__lt=lease))
            .first()
        )
        if batch is None:
            return None
        batch.claimed_at = timezone.now()
        batch.claimed_by = worker[:200]
        batch.claim_token = uuid.uuid4().hex
        batch.attempts += 1
        batch.save(update_fields=["claimed_at", "claimed_by", "claim_token", "attempts"])
    return batch


class _Yielded:
    """A rebuild batch's pause between chunks: yield to live matching, and count the seconds."""

    def __init__(self) -> None:
        self.seconds = 0.0

    def __call__(self) -> None:
        self.seconds += priority.yield_to_live()


def _index_ids(kind: str, ids: list[int], pause: _Yielded) -> int:
    objects = load_objects(kind, ids)
    docs = [
        doc_for(kind, objects[i]) for i in ids if i in objects and is_matchable(kind, objects[i])
    ]
    return indexing.index_docs(kind, docs, batch_size=32, pause=pause)


def _match_ids(ids: list[int], pause: _Yielded) -> int:
    matched = 0
    for need in Need.objects.filter(pk__in=ids, status__in=Need.OPEN_STATUSES).order_by("pk"):
        pause()
        # A bulk rebuild (demo start-up, model switch) must not email every user.
        pipeline.match_need(need, notify=False)
        matched += 1
    return matched


def run_batch(batch_id: int, *, worker: str = "") -> dict:
    """Claim and do one batch; a batch done or claimed by a live worker is skipped. The result
    says how long the batch waited for live matching (``yielded_s``)."""
    batch = _claim(batch_id, worker)
    if batch is None:
        return {"batch": batch_id, "skipped": True}
    pause = _Yielded()
    try:
        if batch.stage == Stage.INDEX:
            computed = _index_ids(batch.kind, list(batch.object_ids), pause)
        else:
            computed = _match_ids(list(batch.object_ids), pause)
    except Exception:
        # Give the batch back at once, so the task's retry (or another worker) can claim it.
        ReindexBatch.objects.filter(pk=batch.pk, claim_token=batch.claim_token).update(
            claimed_at=None, claimed_by="", claim_token=""
        )
        raise
    ReindexBatch.objects.filter(pk=batch.pk, claim_token=batch.claim_token).update(
        done_at=timezone.now(), computed=computed
    )
    return {
        "batch": batch_id,
        "stage": batch.stage,
        "kind": batch.kind,
        "computed": computed,
        "yielded_s": round(pause.seconds, 2),
    }


# --- After the index stage ------------------------------------------------------------------------


def drop_stale(kind: str) -> int:
    """Drop the index rows of objects of ``kind`` that left the pool; return how many."""
    live = set(_POOL[kind]().values_list("pk", flat=True))
    stale = set(LexicalDocument.objects.filter(kind=kind).values_list("object_id", flat=True))
    stale |= set(Embedding.objects.filter(kind=kind).values_list("object_id", flat=True))
    for object_id in sorted(stale - live):
        indexing.remove_object(kind, object_id)
    return len(stale - live)


def complete_building_version() -> bool:
    """Activate the configured model's version if it is being built and now covers the pool."""
    version = indexing.version_for_current_model()
    if version.status != EmbeddingVersion.Status.BUILDING:
        return False
    for kind, queryset in _POOL.items():
        expected = queryset().count()
        have = Embedding.objects.filter(version=version, kind=kind).count()
        if have < expected:
            return False
    indexing.activate_version(version)
    return True


def finish_index(version: EmbeddingVersion, *, kinds: Iterable[str] = DEFAULT_ORDER) -> dict:
    """After the index stage: if every index batch is done, drop stale rows and activate a version
    being built. ``ready`` says whether the match stage may start (the version serves)."""
    waiting = ReindexBatch.objects.filter(
        version=version, stage=Stage.INDEX, done_at__isnull=True
    ).count()
    if waiting:
        return {"ready": False, "index_batches_waiting": waiting, "activated": False}
    dropped = {kind: drop_stale(kind) for kind in kinds}
    activated = complete_building_version()
    version.refresh_from_db()
    return {
        "ready": version.status == EmbeddingVersion.Status.ACTIVE,
        "dropped": dropped,
        "activated": activated,
    }


# --- Progress -------------------------------------------------------------------------------------


def progress_counts(version: EmbeddingVersion | None = None) -> dict:
    """Done and planned batches (and objects) per stage for ``version`` (default: the configured
    model's version, if it exists). Read-only."""
    if version is None:
        version = EmbeddingVersion.objects.filter(model_id=indexing.current_model_id()).first()
    if version is None:
        return {"model_id": indexing.current_model_id(), "stages": {}}
    stages = {}
    rows = (
        ReindexBatch.objects.filter(version=version)
        .values("stage")
        .annotate(
            batches=Count("pk"),
            done=Count("pk", filter=Q(done_at__isnull=False)),
            claimed=Count("pk", filter=Q(done_at__isnull=True, claimed_at__isnull=False)),
            computed=Sum("computed"),
        )
    )
    for row in rows:
        stages[row["stage"]] = {
            "batches": row["batches"],
            "done": row["done"],
            "running": row["claimed"],
            "computed": row["computed"] or 0,
        }
    return {"model_id": version.model_id, "status": version.status, "stages": stages}


def pending_progress() -> dict | None:
    """``{"done": n, "batches": m}`` over every stage while the configured model's rebuild has
    batches not done (matches are still being computed), else None. Read-only: one query."""
    counts = ReindexBatch.objects.filter(version__model_id=indexing.current_model_id()).aggregate(
        batches=Count("pk"), done=Count("pk", filter=Q(done_at__isnull=False))
    )
    if not counts["batches"] or counts["done"] == counts["batches"]:
        return None
    return counts


def reset(version: EmbeddingVersion) -> int:
    """Forget the version's batches, so the next rebuild plans (and checks) everything again."""
    deleted, _ = ReindexBatch.objects.filter(version=version).delete()
    return deleted


# --- In one process -------------------------------------------------------------------------------


def reindex(
    *,
    kinds: Iterable[str] = DEFAULT_ORDER,
    batch_size: int | None = None,
    match: bool = True,
    progress: Progress | None = None,
    worker: str = "inline",
) -> dict:
    """The whole rebuild in this process, through the same batches the workers share (so it is
    resumable and may run alongside them)."""
    kinds = list(kinds)
    version = indexing.version_for_current_model()
    computed = dict.fromkeys(kinds, 0)
    pending = plan_index(version, kinds=kinds, batch_size=batch_size)
    _run_all(pending, "index", worker, progress, computed)
    finished = finish_index(version, kinds=kinds)
    matched = {ObjectKind.NEED: 0}
    if match and finished["ready"]:
        _run_all(plan_match(version, batch_size=batch_size), "match", worker, progress, matched)
    return {
        "embedded": computed,
        "activated": finished["activated"],
        "needs_matched": matched[ObjectKind.NEED],
    }


def _run_all(
    batch_ids: list[int], stage: str, worker: str, report: Progress | None, totals: dict
) -> None:
    for done, batch_id in enumerate(batch_ids, start=1):
        outcome = run_batch(batch_id, worker=worker)
        if not outcome.get("skipped"):
            totals[outcome["kind"]] = totals.get(outcome["kind"], 0) + outcome["computed"]
        if report:
            report(stage, done, len(batch_ids))


def index_kind(kind: str, *, batch_size: int | None = None) -> int:
    """Index one kind's pool in this process and drop its stale rows; returns the vectors computed."""
    totals = {kind: 0}
    version = indexing.version_for_current_model()
    _run_all(
        plan_index(version, kinds=[kind], batch_size=batch_size), "index", "inline", None, totals
    )
    drop_stale(kind)
    return totals[kind]


def in_progress(version: EmbeddingVersion) -> bool:
    """Whether some worker claimed or finished one of the version's batches within the lease: a
    rebuild is running, so nothing needs to be sent again."""
    since = timezone.now() - timedelta(seconds=settings.REINDEX_BATCH_LEASE)
    return ReindexBatch.objects.filter(
        Q(claimed_at__gte=since) | Q(done_at__gte=since), version=version
    ).exists()
