"""What the ``index_and_match`` task does, and the match writes.

Matches are always computed from the need's side: a need's stored matches are its current top
results and capability profiles. When a result or profile changes, the needs it may now belong to
(its nearest open needs, and those it is already matched to) are re-matched. Every step is
idempotent: re-running produces the same rows (unique constraints, row lock on the need), so a task
redelivered after a worker died completes the work without duplicates.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence

from django.db import transaction

from matching.matcher import active, engine, explain, indexing, preferences, priority
from matching.matcher.documents import MatchDoc, doc_for, is_matchable, load_objects, need_doc
from matching.models import Match, MatchFeedback, Need, ObjectKind

log = logging.getLogger(__name__)

RESULTS_PER_NEED = 20
CAPABILITIES_PER_NEED = 5
# How many open needs a new result or profile is tried against.
NEEDS_PER_CANDIDATE = 20


def index_and_match(*, kind: str, object_id: int) -> dict:
    """Live matching of one object (publish, edit, withdraw): a running rebuild yields to it."""
    with priority.live():
        return _index_and_match(kind=kind, object_id=object_id)


def _index_and_match(*, kind: str, object_id: int) -> dict:
    objects = load_objects(kind, [object_id])
    obj = objects.get(object_id)
    if obj is None or not is_matchable(kind, obj):
        return _retire(kind, object_id)
    doc = doc_for(kind, obj)
    computed = indexing.index_docs(kind, [doc])
    if kind == ObjectKind.NEED:
        stored = match_need(obj)
        return {"kind": kind, "id": object_id, "embedded": computed, "matches": len(stored)}
    needs = affected_needs(kind, doc)
    for need in needs:
        match_need(need)
    return {"kind": kind, "id": object_id, "embedded": computed, "needs_rematched": len(needs)}


def _retire(kind: str, object_id: int) -> dict:
    """The object left the pool: drop it from the indexes and from matches, and let the needs it
    was matched to fill the gap."""
    indexing.remove_object(kind, object_id)
    if kind == ObjectKind.NEED:
        Match.objects.filter(need_id=object_id, feedback__isnull=True).delete()
        return {"kind": kind, "id": object_id, "retired": True}
    column = "result_id" if kind == ObjectKind.RESULT else "capability_id"
    need_ids = list(Match.objects.filter(**{column: object_id}).values_list("need_id", flat=True))
    Match.objects.filter(**{column: object_id}).delete()
    for need in Need.objects.filter(pk__in=need_ids, status__in=Need.OPEN_STATUSES):
        match_need(need)
    return {"kind": kind, "id": object_id, "retired": True, "needs_rematched": len(need_ids)}


def query_vector(version, doc: MatchDoc):
    """The stored vector of an indexed object, or a fresh encoding of ad-hoc text."""
    if doc.object_id is not None:
        vector = engine.stored_vector(version, doc.kind, doc.object_id)
        if vector is not None:
            return vector
    return indexing.encode_for(version, [doc.text], kind=doc.embedding_kind)[0]


def affected_needs(kind: str, doc: MatchDoc) -> list[Need]:
    """Open needs a changed result/profile may now match: its nearest needs by the same ranking,
    plus the needs it is already matched to."""
    version = indexing.serving_version()
    qvec = query_vector(version, doc)
    nearest = engine.rank(
        version=version, kind=ObjectKind.NEED, query=doc, qvec=qvec, limit=NEEDS_PER_CANDIDATE
    )
    column = "result_id" if kind == ObjectKind.RESULT else "capability_id"
    current = set(Match.objects.filter(**{column: doc.object_id}).values_list("need_id", flat=True))
    ids = list(dict.fromkeys([c.object_id for c in nearest] + sorted(current)))
    needs = load_objects(ObjectKind.NEED, ids)
    return [needs[i] for i in ids if i in needs and needs[i].status in Need.OPEN_STATUSES]


def rejected_candidates(need: Need) -> tuple[set[int], set[int]]:
    """Results and profiles the need's own organization marked as not relevant: they drop out."""
    rows = MatchFeedback.objects.filter(
        match__need=need,
        organization_id=need.organization_id,
        verdict=MatchFeedback.Verdict.NOT_RELEVANT,
    ).values_list("match__result_id", "match__capability_id")
    results = {r for r, _c in rows if r}
    capabilities = {c for _r, c in rows if c}
    return results, capabilities


def rank_for_need(
    need: Need, doc: MatchDoc | None = None
) -> tuple[list[engine.Candidate], list[engine.Candidate]]:
    """The need's ranked results and capability profiles: with the active weights scaled by its
    organization's preferences, without the pairs it rejected, their near-duplicates lowered
    (``matching.matcher.preferences``)."""
    version = indexing.serving_version()
    doc = doc or need_doc(need)
    qvec = query_vector(version, doc)
    rejected_results, rejected_caps = rejected_candidates(need)
    config = active.ranking_config(version.model_id).scaled(
        preferences.factors_for(need.organization_id)
    )
    results = engine.rank(
        version=version,
        kind=ObjectKind.RESULT,
        query=doc,
        qvec=qvec,
        limit=RESULTS_PER_NEED,
        filters=engine.Filters(exclude_ids=tuple(sorted(rejected_results))),
        config=config,
    )
    capabilities = engine.rank(
        version=version,
        kind=ObjectKind.CAPABILITY,
        query=doc,
        qvec=qvec,
        limit=CAPABILITIES_PER_NEED,
        filters=engine.Filters(exclude_ids=tuple(sorted(rejected_caps))),
        config=config,
    )
    return (
        lower_near_duplicates(version, ObjectKind.RESULT, results, rejected_results),
        lower_near_duplicates(version, ObjectKind.CAPABILITY, capabilities, rejected_caps),
    )


def lower_near_duplicates(
    version, kind: str, candidates: list[engine.Candidate], rejected: set[int]
) -> list[engine.Candidate]:
    """Multiply the score of every candidate within ``preferences.NEAR_DUPLICATE_COSINE`` of a
    rejected object by ``NEAR_DUPLICATE_FACTOR`` (noting the cosine in its components), and re-order
    as ``engine.rank`` does: by score, ties by the fused score."""
    if not rejected or not candidates:
        return candidates
    ids = [c.object_id for c in candidates]
    closest: dict[int, float] = {}
    for object_id in sorted(rejected):
        vector = engine.stored_vector(version, kind, object_id)
        if vector is None:
            continue
        for candidate_id, cosine in engine.dense_similarities(version, kind, vector, ids).items():
            closest[candidate_id] = max(closest.get(candidate_id, -1.0), cosine)
    for candidate in candidates:
        cosine = closest.get(candidate.object_id, -1.0)
        if cosine >= preferences.NEAR_DUPLICATE_COSINE:
            candidate.score *= preferences.NEAR_DUPLICATE_FACTOR
            candidate.components["near_duplicate"] = cosine
    return sorted(candidates, key=lambda c: (-round(c.score, 6), -c.fused))


def build_matches(
    need: Need, doc: MatchDoc, candidates: Sequence[engine.Candidate], model_version: str
) -> list[Match]:
    codes = set(doc.field_codes)
    for candidate in candidates:
        codes.update(candidate.doc.field_codes)
    names = engine.field_names(codes | {c.split(".")[0] for c in codes})
    stats = explain_stats(doc)
    rows = []
    for rank, candidate in enumerate(candidates, start=1):
        components = {
            **candidate.components,
            **candidate.signals,
            "dense_cosine": candidate.dense,
            "bm25": candidate.lexical,
            "fused": candidate.fused,
        }
        rows.append(
            Match(
                need=need,
                result_id=candidate.object_id if candidate.kind == ObjectKind.RESULT else None,
                capability_id=candidate.object_id
                if candidate.kind == ObjectKind.CAPABILITY
                else None,
                score=round(candidate.score, 6),
                components={k: round(v, 6) for k, v in components.items()},
                explanation=explain.explain(
                    doc,
                    candidate.doc,
                    candidate.components,
                    names,
                    stats=stats,
                    model_id=model_version,
                ),
                model_version=model_version,
                rank=rank,
            )
        )
    return rows


def match_need(need: Need, *, notify: bool = True) -> list[Match]:
    """Recompute and store the need's matches. Returns the stored rows. ``notify=False`` (bulk
    reindexing) stores new pairs without announcing them: only a change people made emails anyone."""
    doc = need_doc(need)
    results, capabilities = rank_for_need(need, doc)
    version = indexing.serving_version()
    rows = build_matches(need, doc, results, version.model_id) + build_matches(
        need, doc, capabilities, version.model_id
    )
    return store_matches(need=need, rows=rows, notify=notify)


@transaction.atomic
def store_matches(*, need: Need, rows: Iterable[Match], notify: bool = True) -> list[Match]:
    """Replace the need's matches by ``rows``: update the pairs that stay, add new ones, delete the
    ones that fell out (unless someone gave feedback on them). New pairs are handed to the
    notifications in the same transaction, so an email exists exactly when its match does."""
    Need.objects.select_for_update().filter(pk=need.pk).first()
    existing = {(m.result_id, m.capability_id): m for m in Match.objects.filter(need=need)}
    keep: set[int] = set()
    created: list[Match] = []
    stored: list[Match] = []
    for row in rows:
        current = existing.get((row.result_id, row.capability_id))
        if current is None:
            row.save()
            created.append(row)
            stored.append(row)
            continue
        keep.add(current.pk)
        changed = [
            name
            for name in ("score", "components", "explanation", "model_version", "rank")
            if getattr(current, name) != getattr(row, name)
        ]
        for name in changed:
            setattr(current, name, getattr(row, name))
        if changed:
            current.save(update_fields=[*changed, "updated_at"])
        stored.append(current)
    stale = Match.objects.filter(need=need).exclude(pk__in=keep | {m.pk for m in created})
    stale.filter(feedback__isnull=True).delete()
    if created and notify:
        _notify(created)
    return stored


# Who is told about new matches. The matcher does not know its consumers: the notifications app
# subscribes in its ``AppConfig.ready`` (the import arrow runs notifications → matching, never the
# reverse). Subscribers run inside the transaction that stores the matches.
_new_match_subscribers: list[Callable[..., object]] = []


def subscribe_new_matches(callback: Callable[..., object]) -> None:
    """Call ``callback(matches=[...])`` with the new matches, in the transaction that stores them."""
    if callback not in _new_match_subscribers:
        _new_match_subscribers.append(callback)


def _notify(matches: Sequence[Match]) -> None:
    for callback in _new_match_subscribers:
        callback(matches=matches)


def needs_to_rematch() -> Iterable[int]:
    return (
        Need.objects.filter(status__in=Need.OPEN_STATUSES)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def rank_text(
    *,
    text: str,
    field: str | None = None,
    region: str | None = None,
    trl_min: int | None = None,
    coop_modes: list[str] | None = None,
    budget_max=None,
    limit: int = 10,
) -> list[tuple[engine.Candidate, dict]]:
    """Ad-hoc matching of a free-text need against published results, with explanations (live
    work: a running rebuild yields to it)."""
    from matching.matcher.documents import text_doc

    with priority.live():
        doc = text_doc(
            text,
            field_codes=(field,) if field else (),
            trl=trl_min,
            modes=tuple(coop_modes or ()),
            budget_max=float(budget_max) if budget_max is not None else None,
            region=region,
        )
        version = indexing.serving_version()
        qvec = query_vector(version, doc)
        filters = engine.Filters(field_code=field, region=region, trl_min=trl_min)
        ranked = engine.rank(
            version=version,
            kind=ObjectKind.RESULT,
            query=doc,
            qvec=qvec,
            limit=limit,
            filters=filters,
        )
        codes = set(doc.field_codes) | {c for cand in ranked for c in cand.doc.field_codes}
        names = engine.field_names(codes | {c.split(".")[0] for c in codes})
        stats = explain_stats(doc)
        return [
            (
                c,
                explain.explain(
                    doc, c.doc, c.components, names, stats=stats, model_id=version.model_id
                ),
            )
            for c in ranked
        ]


def explain_stats(doc: MatchDoc):
    """The result pool's document frequencies of the need's terms: the IDF floor of shared terms."""
    return indexing.lexical_stats(ObjectKind.RESULT, indexing.tokens_for(doc.text))
