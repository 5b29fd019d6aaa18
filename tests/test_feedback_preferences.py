"""Feedback that teaches one organization's rankings: the reasons of its 不相关 raise its weights for
the named structured fit (bounded), and a rejected result's near-duplicates are lowered for its need.
Capability profiles are scored with the same calibration as results."""

from __future__ import annotations

import numpy as np
import pytest

from matching.matcher import active, calibration, engine, pipeline, preferences, ranking
from matching.matches.services import match_feedback_give
from matching.models import CapabilityProfile, Match, OrganizationRankingPreference
from tests.factories import FieldFactory, NeedFactory, OrganizationFactory, ResultFactory
from tests.test_matching_pipeline import RESULTS, make_results

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_state():
    engine.clear_pool_samples()
    active.clear_cache()
    yield
    engine.clear_pool_samples()
    active.clear_cache()


def test_factors_grow_by_a_step_per_reason_and_are_bounded():
    assert preferences.factors_from_reasons({"wrong_field": 2, "immature": 1, "other": 5}) == {
        "field": 1.5,
        "trl": 1.25,
    }
    assert preferences.factors_from_reasons({"too_expensive": 100}) == {
        "budget": preferences.MAX_FACTOR
    }
    assert preferences.factors_from_reasons({"already_known": 3}) == {}


def _matched_need():
    results = make_results()
    for result in results:
        pipeline.index_and_match(kind="result", object_id=result.pk)
    need = NeedFactory(field=FieldFactory(code="new_energy.batteries"))
    pipeline.index_and_match(kind="need", object_id=need.pk)
    return need, results


def test_reasons_raise_that_organizations_weights_and_a_change_of_mind_takes_it_back():
    need, _results = _matched_need()
    matches = list(Match.objects.filter(need=need, result__isnull=False).order_by("rank"))
    shipped = ranking.DEFAULT_CONFIG.structured["field"]
    for match in matches[1:3]:
        match_feedback_give(
            match=match, user=need.created_by, verdict="not_relevant", reason="wrong_field"
        )
    prefs = OrganizationRankingPreference.objects.get(organization=need.organization)
    assert prefs.factors == {"field": 1 + 2 * preferences.STEP}

    pipeline.index_and_match(kind="need", object_id=need.pk)
    top = Match.objects.get(pk=matches[0].pk)
    assert top.components["field"] == pytest.approx(
        shipped * prefs.factors["field"] * top.components["fit_field"], abs=1e-5
    )
    # Another organization's needs keep the shipped weight.
    other = NeedFactory(field=need.field, title=need.title, description=need.description)
    pipeline.index_and_match(kind="need", object_id=other.pk)
    theirs = Match.objects.filter(need=other, result=top.result).get()
    assert theirs.components["field"] == pytest.approx(
        shipped * theirs.components["fit_field"], abs=1e-5
    )

    # Changing one's mind recomputes the factors from the feedback as it now stands.
    for match in matches[1:3]:
        match_feedback_give(match=match, user=need.created_by, verdict="interested")
    prefs.refresh_from_db()
    assert prefs.factors == {}


def test_a_lab_verdict_does_not_change_the_enterprises_preferences():
    need, results = _matched_need()
    match = Match.objects.filter(need=need, result=results[0]).get()
    lab_user = results[0].created_by
    match_feedback_give(match=match, user=lab_user, verdict="not_relevant", reason="wrong_field")
    assert preferences.factors_for(need.organization_id) == {}


def test_not_relevant_lowers_near_duplicates_of_the_rejected_result_for_that_need():
    field = FieldFactory(code="new_energy.batteries")
    results = make_results()
    title, abstract, keywords = RESULTS[0]
    copy = ResultFactory(
        title=title + "（二期）", abstract=abstract + "已完成中试。", keywords=keywords, field=field
    )
    for result in [*results, copy]:
        pipeline.index_and_match(kind="result", object_id=result.pk)
    need = NeedFactory(field=field)
    pipeline.index_and_match(kind="need", object_id=need.pk)
    before = {m.result_id: m.score for m in Match.objects.filter(need=need)}
    rejected = Match.objects.get(need=need, result=results[0])
    match_feedback_give(
        match=rejected, user=need.created_by, verdict="not_relevant", reason="other"
    )
    pipeline.index_and_match(kind="need", object_id=need.pk)  # what the on-commit task does

    after = {m.result_id: m for m in Match.objects.filter(need=need)}
    near = after[copy.pk]
    assert near.components["near_duplicate"] >= preferences.NEAR_DUPLICATE_COSINE
    assert near.score == pytest.approx(
        before[copy.pk] * preferences.NEAR_DUPLICATE_FACTOR, rel=1e-3
    )
    # Different results are not touched, and the lowered copy now ranks below them when it must.
    separator = after[results[1].pk]
    assert "near_duplicate" not in separator.components
    assert separator.score == pytest.approx(before[results[1].pk], rel=1e-6)
    # Another organization's need with the same text still sees the copy at full score.
    other = NeedFactory(field=field)
    pipeline.index_and_match(kind="need", object_id=other.pk)
    assert "near_duplicate" not in Match.objects.get(need=other, result=copy).components


def test_capability_profiles_pass_through_the_same_calibration():
    results = make_results()
    for result in results:
        pipeline.index_and_match(kind="result", object_id=result.pk)
    lab = OrganizationFactory(name="高镍正极实验室")
    profile = CapabilityProfile.objects.create(
        organization=lab,
        title="高镍正极材料包覆与掺杂研发团队",
        description="团队长期从事单晶高镍正极的表面包覆与体相掺杂，改善高温循环寿命。",
        is_published=True,
    )
    pipeline.index_and_match(kind="capability", object_id=profile.pk)
    need = NeedFactory(field=FieldFactory(code="new_energy.batteries"))
    pipeline.index_and_match(kind="need", object_id=need.pk)
    match = Match.objects.get(need=need, capability=profile)
    # A pool this small has no z-score scale: the need→result fit over the absolute signals applies.
    fit = calibration.for_model(match.model_version + calibration.ABSOLUTE_SUFFIX)
    assert fit is not None
    expected = fit.probability(
        {
            "cosine": np.asarray([match.components["dense_cosine"]]),
            "coverage": np.asarray([match.components["coverage"]]),
        }
    )[0]
    # (components are stored rounded to 6 digits)
    assert match.score == pytest.approx(expected, abs=1e-4)
    assert calibration.strength(match.score, match.model_version) in {"strong", "weak"}
