"""Keeping the matcher's indexes in PostgreSQL: one vector per object and index version (pgvector,
HNSW per version and kind), and one lexical document per object with document frequencies.

Only matchable objects (open needs, published results and profiles) are indexed, so the ANN and
lexical candidate queries need no status filter to exclude drafts or withdrawn items; removing an
object from the pool removes its rows and decrements its terms' frequencies.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Iterable, Sequence

from django.db import connection, transaction
from django.utils import timezone

from matching import embedding, lexical
from matching.documents import MatchDoc, content_hash
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
    has a vector in it (``matching.reindex``)."""
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
    return embedding.encode(
        texts, model_name=version.model_name or None, kind=kind, batch_size=batch_size
    )


def ensure_ann_indexes(version: EmbeddingVersion) -> None:
    """Partial HNSW (cosine) indexes for one version, one per kind, on the typed vector."""
    with connection.cursor() as cursor:
        for kind in ObjectKind.values:
            name = f"matching_emb_v{version.pk}_{kind}_hnsw"
            cursor.execute(
                f"CREATE INDEX IF NOT EXISTS {name} ON matching_embedding "  # noqa: S608 - ints and enum values only
                f"USING hnsw ((vector::vector({int(version.dimension)})) vector_cosine_ops) "
                f"WHERE version_id = {int(version.pk)} AND kind = '{kind}'"
            )


@transaction.atomic
def activate_version(version: EmbeddingVersion) -> None:
    """Switch the matcher to ``version`` and retire the previous one (after a full rebuild)."""
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


def index_docs(kind: str, docs: Sequence[MatchDoc], *, batch_size: int = 32) -> int:
    """Embed and tokenise ``docs`` of one kind; unchanged content is never re-embedded.
    Returns how many vectors were computed."""
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
        for start in range(0, len(todo), batch_size):
            batch = todo[start : start + batch_size]
            vectors = encode_for(
                version,
                [d.text for d in batch],
                kind=batch[0].embedding_kind,
                batch_size=batch_size,
            )
            Embedding.objects.bulk_create(
                [
                    Embedding(
                        version=version,
                        kind=kind,
                        object_id=d.object_id,
                        content_hash=hashes[d.object_id],
                        vector=v,
                    )
                    for d, v in zip(batch, vectors, strict=True)
                ],
                update_conflicts=True,
                unique_fields=["version", "kind", "object_id"],
                update_fields=["content_hash", "vector", "updated_at"],
            )
            computed += len(batch)
    for doc in docs:
        _index_lexical(kind, doc)
    return computed


@transaction.atomic
def _index_lexical(kind: str, doc: MatchDoc) -> None:
    _lock(kind, doc.object_id)
    text_hash = content_hash("lexical", doc.text)
    current = LexicalDocument.objects.filter(kind=kind, object_id=doc.object_id).first()
    if current is not None and current.content_hash == text_hash:
        return
    tokens = tokens_for(doc.text)
    old_terms = set(current.tokens) if current is not None else set()
    new_terms = set(tokens)
    LexicalDocument.objects.update_or_create(
        kind=kind,
        object_id=doc.object_id,
        defaults={"tokens": tokens, "length": len(tokens), "content_hash": text_hash},
    )
    _adjust_df(kind, new_terms - old_terms, +1)
    _adjust_df(kind, old_terms - new_terms, -1)


def _adjust_df(kind: str, terms: Iterable[str], delta: int) -> None:
    terms = sorted(terms)
    if not terms:
        return
    with connection.cursor() as cursor:
        if delta > 0:
            cursor.execute(
                "INSERT INTO matching_lexicalterm (kind, term, df) SELECT %s, t, %s FROM unnest(%s::varchar[]) t "
                "ON CONFLICT (kind, term) DO UPDATE SET df = matching_lexicalterm.df + EXCLUDED.df",
                [kind, delta, terms],
            )
        else:
            cursor.execute(
                "UPDATE matching_lexicalterm SET df = GREATEST(df + %s, 0) WHERE kind = %s AND term = ANY(%s::varchar[])",
                [delta, kind, terms],
            )


@transaction.atomic
def remove_object(kind: str, object_id: int) -> None:
    """Take an object out of the matching pool (withdrawn, closed, unpublished, deleted)."""
    _lock(kind, object_id)
    current = LexicalDocument.objects.filter(kind=kind, object_id=object_id).first()
    if current is not None:
        _adjust_df(kind, set(current.tokens), -1)
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
