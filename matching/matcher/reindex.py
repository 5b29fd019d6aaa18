"""Rebuilding the matcher's indexes and matches in batches.

Resumable by construction: an object whose content hash is already stored under a version is not
embedded again, so a run that was interrupted picks up where it stopped. When the configured model
has a version still 'building', it is activated once every matchable object has a vector in it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from matching.matcher import indexing, pipeline
from matching.matcher.documents import doc_for, is_matchable, load_objects
from matching.models import (
    CapabilityProfile,
    Embedding,
    EmbeddingVersion,
    LexicalDocument,
    Need,
    ObjectKind,
    Result,
)

Progress = Callable[[str, int, int], None]  # (stage, done, total)

_ALL_IDS = {
    ObjectKind.NEED: lambda: Need.objects.filter(status__in=Need.OPEN_STATUSES),
    ObjectKind.RESULT: lambda: Result.objects.filter(status=Result.Status.PUBLISHED),
    ObjectKind.CAPABILITY: lambda: CapabilityProfile.objects.filter(is_published=True),
}


def _batches(ids: list[int], size: int) -> Iterable[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


def index_kind(kind: str, *, batch_size: int = 256, progress: Progress | None = None) -> int:
    """Embed and tokenise every matchable object of ``kind``; drop the rows of objects that left
    the pool. Returns the number of vectors computed."""
    ids = list(_ALL_IDS[kind]().order_by("pk").values_list("pk", flat=True))
    computed = 0
    for done, batch in enumerate(_batches(ids, batch_size), start=1):
        objects = load_objects(kind, batch)
        docs = [
            doc_for(kind, objects[i])
            for i in batch
            if i in objects and is_matchable(kind, objects[i])
        ]
        computed += indexing.index_docs(kind, docs, batch_size=32)
        if progress:
            progress(f"index {kind}", min(done * batch_size, len(ids)), len(ids))
    live = set(ids)
    stale = set(LexicalDocument.objects.filter(kind=kind).values_list("object_id", flat=True))
    stale |= set(Embedding.objects.filter(kind=kind).values_list("object_id", flat=True))
    for object_id in sorted(stale - live):
        indexing.remove_object(kind, object_id)
    return computed


def complete_building_version() -> bool:
    """Activate the configured model's version if it is being built and now covers the pool."""
    version = indexing.version_for_current_model()
    if version.status != EmbeddingVersion.Status.BUILDING:
        return False
    for kind, queryset in _ALL_IDS.items():
        expected = queryset().count()
        have = Embedding.objects.filter(version=version, kind=kind).count()
        if have < expected:
            return False
    indexing.activate_version(version)
    return True


def rematch_all(*, progress: Progress | None = None) -> int:
    ids = list(pipeline.needs_to_rematch())
    for done, need_id in enumerate(ids, start=1):
        need = Need.objects.filter(pk=need_id).first()
        if need is not None and need.status in Need.OPEN_STATUSES:
            # A bulk rebuild (demo start-up, model switch) must not email every user.
            pipeline.match_need(need, notify=False)
        if progress:
            progress("match needs", done, len(ids))
    return len(ids)


# Candidates first: a need indexed before the pool it is matched against would get no matches.
DEFAULT_ORDER = (ObjectKind.RESULT, ObjectKind.CAPABILITY, ObjectKind.NEED)


def reindex(
    *,
    kinds: Iterable[str] = DEFAULT_ORDER,
    batch_size: int = 256,
    match: bool = True,
    progress: Progress | None = None,
) -> dict:
    computed = {kind: index_kind(kind, batch_size=batch_size, progress=progress) for kind in kinds}
    activated = complete_building_version()
    matched = rematch_all(progress=progress) if match else 0
    return {"embedded": computed, "activated": activated, "needs_matched": matched}
