"""On the demo data: a demo need's top match is one of the results written to answer it."""

from __future__ import annotations

import unicodedata

import pytest

from accounts.demo import load_accounts
from core.demo import DEMO_DIR, read_parts
from matching.catalogue.demo import load_matching
from matching.matcher import engine, explain, indexing, pipeline
from matching.matcher.documents import need_doc, result_doc
from matching.models import Match, Need, Result
from taxonomy.services import taxonomy_load

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

NEEDS = ["need-p3-003", "need-p3-005", "need-p3-001"]


@pytest.fixture(scope="module")
def answers() -> dict[str, set[str]]:
    table: dict[str, set[str]] = {}
    for result in read_parts("results"):
        for key in result.get("answers", []):
            table.setdefault(key, set()).add(result["key"])
    return table


def load_demo_pool() -> None:
    engine.clear_pool_samples()
    taxonomy_load(path=DEMO_DIR / "taxonomy.json")
    load_accounts(password="demo-pass-123")
    load_matching()
    # The pool: every published result of four fields (the needs' own, neighbouring materials, and
    # two unrelated ones), about a sixth of the demo results, so the test stays quick.
    pool = list(
        Result.objects.filter(
            status=Result.Status.PUBLISHED,
            field__code__regex=r"^(new_energy|new_materials|environment|advanced_manufacturing)\.",
        ).select_related("field", "organization__region")
    )
    assert len(pool) > 150
    indexing.index_docs("result", [result_doc(r) for r in pool])


def test_demo_need_gets_a_written_answer_first(answers):
    load_demo_pool()
    for key in NEEDS:
        need = Need.objects.get(external_ref=key)
        pipeline.index_and_match(kind="need", object_id=need.pk)
        top = (
            Match.objects.filter(need=need, result__isnull=False)
            .order_by("-score")
            .select_related("result")
            .first()
        )
        assert top.result.external_ref in answers[key], (key, top.result.title)
        assert top.explanation["shared_terms"] or top.explanation["evidence"]


def test_demo_explanations_name_no_generic_term_and_keep_the_original_casing():
    load_demo_pool()
    needs = Need.objects.filter(
        status__in=Need.OPEN_STATUSES,
        field__code__regex=r"^(new_energy|new_materials|environment|advanced_manufacturing)\.",
    ).order_by("pk")[:12]
    checked = 0
    for need in needs:
        pipeline.index_and_match(kind="need", object_id=need.pk)
        need_text = unicodedata.normalize("NFKC", need_doc(need).text)
        for match in Match.objects.filter(need=need):
            for explanation in (match.explanation, match.explanation["public"]):
                terms = explanation["shared_terms"]
                assert len(terms) <= explain.MAX_TERMS
                assert not set(terms) & explain.GENERIC_WORDS, (need.title, terms)
                for term in terms:
                    if term.isascii():  # codes and units as the need writes them (LDMOS, 15 kV)
                        assert term in need_text, (term, need.title)
                checked += len(terms)
            for pair in match.explanation["evidence"]:
                assert pair["level"] in {"strong", "medium", "weak"}
    assert checked > 20
