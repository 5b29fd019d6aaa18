"""What the matcher reads of each object: its text for embeddings and BM25, and its structured
attributes. Needs are the query side, results and capability profiles the document side."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field

from matching.models import CapabilityProfile, Need, ObjectKind, Result

# Sentence ends in Chinese and Western punctuation; used for evidence sentences.
_SENTENCE_END = re.compile(r"(?<=[。！？；;!?\n])")


@dataclass(frozen=True)
class MatchDoc:
    """A need, result or capability profile as the ranking sees it."""

    kind: str
    object_id: int | None
    text: str  # embedded and tokenised
    public_text: str = ""  # what anyone may see (needs: title + summary); used for public evidence
    sentences: tuple[str, ...] = ()
    field_codes: tuple[str, ...] = ()
    trl: int | None = None
    modes: tuple[str, ...] = ()
    budget_min: float | None = None
    budget_max: float | None = None
    region: str | None = None
    indicators: tuple[str, ...] = ()
    extra: dict = field(default_factory=dict)

    @property
    def embedding_kind(self) -> str:
        return "query" if self.kind == ObjectKind.NEED else "document"


def split_sentences(text: str, *, min_chars: int = 6) -> list[str]:
    parts = [p.strip(" \t\r\n，,") for p in _SENTENCE_END.split(text or "")]
    return [p for p in parts if len(p) >= min_chars]


def _join(*parts: str) -> str:
    return "\n".join(p.strip() for p in parts if p and p.strip())


def _float(value) -> float | None:
    return None if value is None else float(value)


def need_doc(need: Need) -> MatchDoc:
    indicators = tuple(str(i) for i in need.indicators.all())
    text = _join(need.title, need.summary, need.description, need.scenario, "；".join(indicators))
    return MatchDoc(
        kind=ObjectKind.NEED,
        object_id=need.pk,
        text=text,
        public_text=_join(need.title, need.summary),
        sentences=tuple(split_sentences(_join(need.description, need.scenario))) + indicators,
        field_codes=(need.field.code,) if need.field_id else (),
        trl=need.trl_min,
        modes=tuple(need.coop_modes),
        budget_min=_float(need.budget_min),
        budget_max=_float(need.budget_max),
        region=need.region.name if need.region_id else None,
        indicators=indicators,
    )


def result_doc(result: Result) -> MatchDoc:
    keywords = "、".join(result.keywords)
    text = _join(result.title, result.abstract, keywords, "、".join(result.application_fields))
    org = result.organization
    return MatchDoc(
        kind=ObjectKind.RESULT,
        object_id=result.pk,
        text=text,
        public_text=text,
        sentences=tuple(split_sentences(result.abstract)),
        field_codes=(result.field.code,) if result.field_id else (),
        trl=result.trl,
        modes=tuple(result.transfer_modes),
        budget_min=_float(result.price_min),
        budget_max=_float(result.price_max),
        region=org.region.name if org.region_id else None,
    )


def capability_doc(profile: CapabilityProfile) -> MatchDoc:
    text = _join(profile.title, profile.description, profile.past_projects, profile.equipment)
    org = profile.organization
    return MatchDoc(
        kind=ObjectKind.CAPABILITY,
        object_id=profile.pk,
        text=text,
        public_text=text,
        sentences=tuple(split_sentences(_join(profile.description, profile.past_projects))),
        field_codes=tuple(f.code for f in profile.fields.all()),
        region=org.region.name if org.region_id else None,
    )


def text_doc(text: str, **attributes) -> MatchDoc:
    """An ad-hoc query (the API's POST /match/), shaped like a need."""
    return MatchDoc(
        kind=ObjectKind.NEED,
        object_id=None,
        text=text,
        public_text=text,
        sentences=tuple(split_sentences(text)),
        **attributes,
    )


def content_hash(model_id: str, text: str) -> str:
    return hashlib.sha256(f"{model_id}\x00{text}".encode()).hexdigest()


def load_objects(kind: str, ids) -> dict[int, object]:
    """Objects of one kind by id, with what their docs read, in a fixed number of queries."""
    if kind == ObjectKind.NEED:
        qs = Need.objects.select_related("field", "region", "organization").prefetch_related(
            "indicators"
        )
    elif kind == ObjectKind.RESULT:
        qs = Result.objects.select_related("field", "organization__region")
    elif kind == ObjectKind.CAPABILITY:
        qs = CapabilityProfile.objects.select_related("organization__region").prefetch_related(
            "fields"
        )
    else:
        raise ValueError(f"unknown kind {kind!r}")
    return qs.in_bulk(list(ids))


DOC_BUILDERS = {
    ObjectKind.NEED: need_doc,
    ObjectKind.RESULT: result_doc,
    ObjectKind.CAPABILITY: capability_doc,
}


def doc_for(kind: str, obj) -> MatchDoc:
    return DOC_BUILDERS[kind](obj)


def is_matchable(kind: str, obj) -> bool:
    """Whether the object takes part in matching now (open needs, published results/profiles)."""
    if kind == ObjectKind.NEED:
        return obj.status in Need.OPEN_STATUSES
    if kind == ObjectKind.RESULT:
        return obj.status == Result.Status.PUBLISHED
    return obj.is_published
