"""Keeping the matcher's indexes in PostgreSQL: one vector per object and index version (pgvector,
HNSW per version and kind), and one lexical document per object with document frequencies.

Only matchable objects (open needs, published results and profiles) are indexed, so the ANN and
lexical candidate queries need no status filter to exclude drafts or withdrawn items; removing an
object from the pool removes its rows and decrements its terms' frequencies.
"""

from __future__ import annotations

import logging
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Sequence

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from matching.matcher import embedding, lexical
from matching.matcher.documents import MatchDoc, content_hash
from matching.models import Embedding, EmbeddingVersion, LexicalDocument, ObjectKind

log = logging.getLogger(__name__)

MAX_TOKEN_CHARS = 64  # LexicalDocument.tokens item length


def current_model_id() -> str:
    return embedding.model_id()


def active_version() -> EmbeddingVersion | None:
    return EmbeddingVersion.objects.filter(status=EmbeddingVersion.Status.ACTIVE).first()


def version_for_current_model() -> EmbeddingVersion:
    """The index version of the configured model. The first version ever is active at once; a
    later model starts as 'building' and is switched to by ``activate_version`` once every object
    has a vector in it (``matching.matcher.reindex``)."""
    model_id = current_model_id()
    version = EmbeddingVersion.objects.filter(model_id=model_id).first()
    if version is not None:
        return version
    with transaction.atomic():
        has_active = (
            EmbeddingVersion.objects.select_for_update()
            .filter(status=EmbeddingVersion.Status.ACTIVE)
            .exists()
        )
        version, _created = EmbeddingVersion.objects.get_or_create(
            model_id=model_id,
            defaults={
                "model_name": embedding.default_model_name(),
                "dimension": embedding.dimension(),
                "status": EmbeddingVersion.Status.BUILDING
                if has_active
                else EmbeddingVersion.Status.ACTIVE,
                "activated_at": None if has_active else timezone.now(),
            },
        )
    if version.status == EmbeddingVersion.Status.ACTIVE:
        # A version being built gets its indexes once it is filled (``activate_version``):
        # building an HNSW graph over a full table is several times faster than inserting
        # every vector into it one by one.
        ensure_ann_indexes(version)
    return version


def serving_version() -> EmbeddingVersion:
    """The version matches are computed on: the active one, even while a newer model's version is
    still being built, so a model change never serves a half-filled index."""
    version_for_current_model()
    return active_version()


def writable_versions() -> list[EmbeddingVersion]:
    """Versions kept up to date as objects change: the active one and one being built."""
    return list(
        EmbeddingVersion.objects.filter(
            status__in=[EmbeddingVersion.Status.ACTIVE, EmbeddingVersion.Status.BUILDING]
        ).order_by("pk")
    )


def encode_for(version: EmbeddingVersion, texts: Sequence[str], *, kind: str, batch_size: int = 32):
    """Encode for ``version`` with its model at the input length its vectors were made with (its
    model id's ``:tok<N>`` tag), so a version's vectors never mix lengths."""
    return embedding.encode(
        texts,
        model_name=version.model_name or None,
        kind=kind,
        batch_size=batch_size,
        max_tokens=embedding.max_tokens_of(version.model_id),
    )


def _ann_index_name(version: EmbeddingVersion, kind: str) -> str:
    return f"matching_emb_v{int(version.pk)}_{kind}_hnsw"


def ensure_ann_indexes(version: EmbeddingVersion) -> None:
    """Partial HNSW (cosine) indexes for one version, one per kind, on the typed vector.

    Outside a transaction the indexes are built ``CONCURRENTLY``, so publishing goes on while a
    new version's indexes build over a full table (an invalid index left by an interrupted build
    is dropped first). The build gets ``MATCHER_INDEX_BUILD_MEMORY`` of maintenance memory: with
    PostgreSQL's 64 MB default a 100k-vector graph no longer fits and builds about 3.6× slower
    (docs/benchmarks.md)."""
    names = {kind: _ann_index_name(version, kind) for kind in ObjectKind.values}
    concurrently = not connection.in_atomic_block
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid "
            "WHERE c.relname = ANY(%s) AND NOT i.indisvalid",
            [list(names.values())],
        )
        for (invalid,) in cursor.fetchall():
            cursor.execute(f"DROP INDEX {'CONCURRENTLY ' if concurrently else ''}{invalid}")
        # Session-wide outside a transaction (reset below), transaction-local inside one.
        cursor.execute(
            "SELECT set_config('maintenance_work_mem', %s, %s)",
            [settings.MATCHER_INDEX_BUILD_MEMORY, not concurrently],
        )
        try:
            for kind, name in names.items():
                cursor.execute(
                    f"CREATE INDEX {'CONCURRENTLY ' if concurrently else ''}IF NOT EXISTS {name} "  # noqa: S608 - ints and enum values only
                    f"ON matching_embedding "
                    f"USING hnsw ((vector::vector({int(version.dimension)})) vector_cosine_ops) "
                    f"WHERE version_id = {int(version.pk)} AND kind = '{kind}'"
                )
        finally:
            if concurrently:
                cursor.execute("RESET maintenance_work_mem")


def activate_version(version: EmbeddingVersion) -> None:
    """Build ``version``'s indexes, then switch the matcher to it and retire the previous one
    (after a full rebuild). The previous version keeps serving while the indexes build."""
    ensure_ann_indexes(version)
    _switch_to(version)


@transaction.atomic
def _switch_to(version: EmbeddingVersion) -> None:
    EmbeddingVersion.objects.select_for_update().filter(
        status=EmbeddingVersion.Status.ACTIVE
    ).exclude(pk=version.pk).update(status=EmbeddingVersion.Status.RETIRED)
    EmbeddingVersion.objects.filter(pk=version.pk).update(
        status=EmbeddingVersion.Status.ACTIVE, activated_at=timezone.now()
    )


def _lock(kind: str, object_id: int) -> None:
    """Serialise index writes for one object across workers (transaction-scoped)."""
    key = (zlib.crc32(kind.encode()) << 32) ^ (object_id & 0xFFFFFFFF)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s)", [key - (1 << 63) if key >= (1 << 63) else key]
        )


def tokens_for(text: str) -> list[str]:
    return [t[:MAX_TOKEN_CHARS] for t in lexical.tokenize(text)]


def index_docs(
    kind: str,
    docs: Sequence[MatchDoc],
    *,
    batch_size: int = 32,
    pause: Callable[[], object] | None = None,
) -> int:
    """Embed and tokenise ``docs`` of one kind; unchanged content is never re-embedded.
    Returns how many vectors were computed. With ``pause`` (the rebuild yielding to live matching),
    the texts are encoded ``REINDEX_ENCODE_CHUNK`` at a time and ``pause()`` runs before each chunk."""
    computed = 0
    version_for_current_model()
    for version in writable_versions():
        hashes = {d.object_id: content_hash(version.model_id, d.text) for d in docs}
        existing = dict(
            Embedding.objects.filter(
                version=version, kind=kind, object_id__in=list(hashes)
            ).values_list("object_id", "content_hash")
        )
        todo = [d for d in docs if existing.get(d.object_id) != hashes[d.object_id]]
        if not todo:
            continue
        vectors = _encode_docs(version, todo, batch_size=batch_size, pause=pause)
        Embedding.objects.bulk_create(
            [
                Embedding(
                    version=version,
                    kind=kind,
                    object_id=d.object_id,
                    content_hash=hashes[d.object_id],
                    vector=v,
                )
                for d, v in zip(todo, vectors, strict=True)
            ],
            batch_size=500,
            update_conflicts=True,
            unique_fields=["version", "kind", "object_id"],
            update_fields=["content_hash", "vector", "updated_at"],
        )
        computed += len(todo)
    _index_lexical(kind, docs)
    return computed


def _encode_docs(
    version: EmbeddingVersion,
    docs: Sequence[MatchDoc],
    *,
    batch_size: int,
    pause: Callable[[], object] | None,
) -> list:
    """The vectors of ``docs``, in their order."""
    texts = [d.text for d in docs]
    kind = docs[0].embedding_kind
    if pause is None:
        # One encode call for all of them: the model sorts the texts by length before batching,
        # so the more texts it sees at once, the less padding it computes.
        return list(encode_for(version, texts, kind=kind, batch_size=batch_size))
    # Sort by length here, as the model would, so that small chunks pad as little as one call.
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]), reverse=True)
    chunk = settings.REINDEX_ENCODE_CHUNK
    vectors: list = [None] * len(texts)
    for start in range(0, len(order), chunk):
        pause()
        part = order[start : start + chunk]
        encoded = encode_for(version, [texts[i] for i in part], kind=kind, batch_size=batch_size)
        for i, vector in zip(part, encoded, strict=True):
            vectors[i] = vector
    return vectors


@transaction.atomic
def _index_lexical(kind: str, docs: Sequence[MatchDoc]) -> None:
    """Tokenise a batch of documents in one transaction: one read of the stored documents, one
    upsert of the changed ones and one statement per sign for the document-frequency changes."""
    if not docs:
        return
    latest = {doc.object_id: doc for doc in docs}  # the last text wins if an id repeats
    for object_id in sorted(latest):  # one order everywhere: concurrent batches cannot deadlock
        _lock(kind, object_id)
    stored = {
        d.object_id: d
        for d in LexicalDocument.objects.filter(kind=kind, object_id__in=list(latest)).only(
            "object_id", "content_hash", "tokens"
        )
    }
    rows: list[LexicalDocument] = []
    delta: Counter[str] = Counter()
    now = timezone.now()
    for object_id, doc in latest.items():
        text_hash = content_hash("lexical", doc.text)
        current = stored.get(object_id)
        if current is not None and current.content_hash == text_hash:
            continue
        tokens = tokens_for(doc.text)
        old_terms = set(current.tokens) if current is not None else set()
        new_terms = set(tokens)
        delta.update(dict.fromkeys(new_terms - old_terms, 1))
        delta.subtract(dict.fromkeys(old_terms - new_terms, 1))
        rows.append(
            LexicalDocument(
                kind=kind,
                object_id=object_id,
                tokens=tokens,
                length=len(tokens),
                content_hash=text_hash,
                updated_at=now,
            )
        )
    if not rows:
        return
    LexicalDocument.objects.bulk_create(
        rows,
        update_conflicts=True,
        unique_fields=["kind", "object_id"],
        update_fields=["tokens", "length", "content_hash", "updated_at"],
    )
    _adjust_df(kind, {t: d for t, d in delta.items() if d})


def _adjust_df(kind: str, deltas: dict[str, int]) -> None:
    """Add each term's delta to its document frequency (inside the caller's transaction).

    Existing rows are locked first, in term order, and new terms are inserted in term order, so
    two transactions that touch overlapping terms queue behind each other instead of
    deadlocking."""
    if not deltas:
        return
    terms = sorted(deltas)
    up = [t for t in terms if deltas[t] > 0]
    down = [t for t in terms if deltas[t] < 0]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM matching_lexicalterm WHERE kind = %s AND term = ANY(%s::varchar[]) "
            "ORDER BY term FOR UPDATE",
            [kind, terms],
        )
        if up:
            cursor.execute(
                "INSERT INTO matching_lexicalterm (kind, term, df) "
                "SELECT %s, t, d FROM unnest(%s::varchar[], %s::int[]) AS u(t, d) ORDER BY t "
                "ON CONFLICT (kind, term) DO UPDATE SET df = matching_lexicalterm.df + EXCLUDED.df",
                [kind, up, [deltas[t] for t in up]],
            )
        if down:
            cursor.execute(
                "UPDATE matching_lexicalterm AS lt SET df = GREATEST(lt.df + u.d, 0) "
                "FROM unnest(%s::varchar[], %s::int[]) AS u(t, d) "
                "WHERE lt.kind = %s AND lt.term = u.t",
                [down, [deltas[t] for t in down], kind],
            )


@transaction.atomic
def remove_object(kind: str, object_id: int) -> None:
    """Take an object out of the matching pool (withdrawn, closed, unpublished, deleted)."""
    _lock(kind, object_id)
    current = LexicalDocument.objects.filter(kind=kind, object_id=object_id).first()
    if current is not None:
        _adjust_df(kind, dict.fromkeys(set(current.tokens), -1))
        current.delete()
    Embedding.objects.filter(kind=kind, object_id=object_id).delete()


def lexical_stats(kind: str, terms: Iterable[str]) -> lexical.Bm25Stats:
    """BM25 statistics of one kind's pool, with document frequencies of ``terms`` only."""
    terms = sorted(set(terms))
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*), coalesce(sum(length), 0) FROM matching_lexicaldocument WHERE kind = %s",
            [kind],
        )
        n_docs, total_len = cursor.fetchone()
        cursor.execute(
            "SELECT term, df FROM matching_lexicalterm WHERE kind = %s AND term = ANY(%s::varchar[]) AND df > 0",
            [kind, terms],
        )
        df = dict(cursor.fetchall())
    return lexical.Bm25Stats(n_docs=int(n_docs), total_len=int(total_len), df=df)
