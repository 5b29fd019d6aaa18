"""``manage.py tune_ranking`` end to end: feedback that prefers one field moves the weights, the refit
is evaluated against the configuration in force on (a subset of) dev, activated only when it is not
worse, audited, and read by the ranker at run time."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings
from django.core.management import call_command

from core.models import AuditEvent
from matching.matcher import (
    active,
    calibration,
    embedding,
    engine,
    pipeline,
    preferences,
    ranking,
    tuning,
)
from matching.matcher.evaluation import demand_text, lexical_matrix, result_text
from matching.matches.services import match_feedback_give
from matching.models import Match, MatchFeedback, RankingConfiguration
from tests.factories import FieldFactory, NeedFactory, ResultFactory
from tests.test_matching_pipeline import RESULTS

pytestmark = pytest.mark.django_db

DEV = Path(settings.MATCHER_TUNE_DATA)
SUBSET_DEMANDS = 40
SUBSET_DISTRACTORS = 80
CONFUSERS = 4


@pytest.fixture(autouse=True)
def _fresh_state():
    engine.clear_pool_samples()
    active.clear_cache()
    yield
    engine.clear_pool_samples()
    active.clear_cache()


def _md5(value: str) -> str:
    return hashlib.md5(value.encode(), usedforsecurity=False).hexdigest()


@pytest.fixture(scope="module")
def dev_subset(tmp_path_factory) -> tuple[Path, Path]:
    """A fixed subset of dev: 40 needs (md5 order), their labelled results, the 4 best BM25 results
    of each that are not labelled (so that ranking matters) and 80 other results; with a vector
    cache shared by the module's runs."""
    if not (DEV / "qrels.jsonl").is_file():
        pytest.skip(f"the dev split is not at {DEV} (MATCHER_TUNE_DATA)")
    lines = {
        name: (DEV / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
        for name in ("demands", "results", "qrels")
    }
    demands = sorted(
        (json.loads(line) for line in lines["demands"] if line.strip()),
        key=lambda d: _md5(d["id"]),
    )[:SUBSET_DEMANDS]
    demand_ids = {d["id"] for d in demands}
    qrels = [
        q
        for q in (json.loads(line) for line in lines["qrels"] if line.strip())
        if q["demand_id"] in demand_ids
    ]
    labelled = {q["result_id"] for q in qrels}
    results = [json.loads(line) for line in lines["results"] if line.strip()]
    # Distractors that make the subset hard: each need's best BM25 results that are not labelled.
    scores = lexical_matrix(
        [demand_text(d.get("title"), d.get("description")) for d in demands],
        [result_text(r.get("title"), r.get("abstract"), r.get("keywords")) for r in results],
    )
    confusers = []
    for row in scores:
        top = [results[j]["id"] for j in np.argsort(-row, kind="stable")[: CONFUSERS + 3]]
        confusers += [rid for rid in top if rid not in labelled][:CONFUSERS]
    others = sorted((r for r in results if r["id"] not in labelled), key=lambda r: _md5(r["id"]))
    keep = labelled | set(confusers) | {r["id"] for r in others[:SUBSET_DISTRACTORS]}
    directory = tmp_path_factory.mktemp("dev_subset")
    for name, rows in (
        ("demands", demands),
        ("results", [r for r in results if r["id"] in keep]),
        ("qrels", qrels),
    ):
        (directory / f"{name}.jsonl").write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
        )
    return directory, tmp_path_factory.mktemp("vectors")


def tune(dev_subset, *extra: str) -> dict:
    data, vectors = dev_subset
    out = io.StringIO()
    call_command("tune_ranking", "--data", str(data), "--vectors", str(vectors), *extra, stdout=out)
    text = out.getvalue()
    assert "current" in text and "candidate" in text and "ndcg@10" in text  # the comparison
    return json.loads(text.strip().splitlines()[-1])


def give_field_preferring_feedback() -> list[Match]:
    """An enterprise whose needs are in 动力电池: every result of its own field is 感兴趣, every
    result of another field 不相关 (领域不符), however close its text."""
    own = FieldFactory(code="new_energy.batteries")
    other = FieldFactory(code="materials.polymers", name="高分子材料")
    results = []
    for title, abstract, keywords in RESULTS:
        results.append(ResultFactory(title=title, abstract=abstract, keywords=keywords, field=own))
        results.append(
            ResultFactory(
                title=title + "（高分子）", abstract=abstract, keywords=keywords, field=other
            )
        )
    for result in results:
        pipeline.index_and_match(kind="result", object_id=result.pk)
    first = NeedFactory(field=own)
    needs = [
        first,
        NeedFactory(
            organization=first.organization,
            created_by=first.created_by,
            field=own,
            title="锂电池隔膜高温收缩",
            summary="寻求耐高温隔膜。",
            description="动力电池隔膜在150℃下热收缩严重，需要陶瓷涂覆等耐高温隔膜技术。",
        ),
    ]
    matches = []
    for need in needs:
        pipeline.index_and_match(kind="need", object_id=need.pk)
        for match in Match.objects.filter(need=need, result__isnull=False).select_related(
            "need", "result", "need__organization"
        ):
            in_field = match.result.field_id == own.pk
            match_feedback_give(
                match=match,
                user=need.created_by,
                verdict="interested" if in_field else "not_relevant",
                reason="" if in_field else "wrong_field",
            )
            matches.append(match)
    assert MatchFeedback.objects.filter(verdict="not_relevant").exists()
    assert MatchFeedback.objects.filter(verdict="interested").exists()
    return matches


def test_feedback_preferring_one_field_raises_its_weight_and_the_refit_serves(dev_subset):
    model_id = embedding.model_id()
    give_field_preferring_feedback()
    shipped_field = ranking.DEFAULT_CONFIG.structured["field"]

    report = tune(dev_subset)

    assert report["feedback_rows"] >= 10 and report["feedback_interested"] >= 5
    search = report["search"]
    assert search["feedback_auc_candidate"] > search["feedback_auc_current"]
    assert report["weights"]["structured"]["field"] > shipped_field
    # Activated only because dev did not get worse.
    assert report["candidate"]["ndcg@10"] >= report["current"]["ndcg@10"]
    assert report["activated"], report["refusals"]
    row = RankingConfiguration.objects.get(pk=report["configuration"])
    assert row.status == RankingConfiguration.Status.ACTIVE and row.model_id == model_id
    event = AuditEvent.objects.get(action="ranking.activate", target_id=str(row.pk))
    assert event.to_state == "active" and event.data["current"]["ndcg@10"] is not None

    # The ranker reads the active configuration at run time: weights and calibration.
    assert active.ranking_config(model_id).structured["field"] == pytest.approx(
        report["weights"]["structured"]["field"]
    )
    assert calibration.for_model(model_id).to_dict() == row.calibration["main"]
    need = Match.objects.filter(feedback__verdict="interested").first().need
    pipeline.index_and_match(kind="need", object_id=need.pk)
    in_field = Match.objects.filter(need=need, result__field__code="new_energy.batteries").first()
    # The organization's own 领域不符 reasons scale the active weight further (its preferences).
    factor = preferences.factors_for(need.organization_id)["field"]
    assert factor == preferences.MAX_FACTOR
    assert in_field.components["field"] == pytest.approx(
        report["weights"]["structured"]["field"] * factor * in_field.components["fit_field"],
        abs=1e-5,
    )


def test_a_worse_candidate_is_refused_audited_and_the_current_configuration_stays(dev_subset):
    model_id = embedding.model_id()
    before = active.for_model(model_id)
    # Deliberately worse: lexical only, scored with the calibration in force (not refitted to it).
    report = tune(
        dev_subset,
        "--keep-calibration",
        "--weights",
        json.dumps({"dense": 0.0, "structured": {"field": 0.3}}),
    )

    assert not report["activated"] and not report["accepted"]
    assert report["candidate"]["ndcg@10"] < report["current"]["ndcg@10"]
    assert any(r.startswith("ndcg@10") for r in report["refusals"])
    row = RankingConfiguration.objects.get(pk=report["configuration"])
    assert row.status == RankingConfiguration.Status.REJECTED
    assert AuditEvent.objects.filter(action="ranking.reject", target_id=str(row.pk)).exists()
    assert not RankingConfiguration.objects.filter(
        model_id=model_id, status=RankingConfiguration.Status.ACTIVE
    ).exists()
    active.clear_cache()
    assert active.for_model(model_id) == before == active.SHIPPED


def test_dry_run_compares_without_storing(dev_subset):
    report = tune(dev_subset, "--dry-run")
    assert report["configuration"] is None and not report["activated"]
    assert not RankingConfiguration.objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="ranking.").exists()


def test_decision_rule_keeps_targets_that_held_and_forbids_worse_misses():
    current = {"ndcg@10": 0.9, "orphan_alert_rate": 0.08, "alert_recall": 0.8, "ece": 0.02}
    ok, why = tuning.decide(current, {**current, "alert_recall": 0.82})
    assert ok, why  # recall still misses 0.85 but is better than before
    ok, why = tuning.decide(current, {**current, "orphan_alert_rate": 0.12})
    assert not ok and "orphan_alert_rate" in why[0]
    ok, why = tuning.decide(current, {**current, "alert_recall": 0.79})
    assert not ok
    ok, why = tuning.decide(current, {**current, "ndcg@10": 0.8999})
    assert not ok and why[0].startswith("ndcg@10")


def test_bad_weights_are_a_command_error(dev_subset):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("tune_ranking", "--data", str(dev_subset[0]), "--weights", "[1, 2]")
    assert not RankingConfiguration.objects.exists()
