"""On the demo data: a demo need's top match is one of the results written to answer it."""

from __future__ import annotations

import pytest

from accounts.demo import load_accounts
from core.demo import DEMO_DIR, read_parts
from matching.catalogue.demo import load_matching
from matching.matcher import engine, indexing, pipeline
from matching.matcher.documents import result_doc
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


def test_demo_need_gets_a_written_answer_first(answers):
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
