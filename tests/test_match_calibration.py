"""The calibrated match score: what it is fitted to, and what follows from it (who is emailed, what
the pages and the API call strong)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from matching.matcher import calibration, calibration_fit, embedding, engine, pipeline
from matching.models import Match
from matching.tasks import index_and_match
from notifications.models import Notification
from tests.factories import NeedFactory
from tests.test_matching_pipeline import make_results
from tests.test_notifications_worker import worker_smtp  # noqa: F401 - fixture

NO_COUNTERPART = dict(
    title="婚礼策划与婚纱摄影服务",
    description="我们想找一家做婚礼策划和婚纱摄影的公司，负责场地布置、跟拍和相册制作。",
)
GOOD_COUNTERPART = dict(
    title="三元电池高温循环衰减快",
    description="我司NCM811电芯在45℃下循环800次后容量保持率跌破80%，希望通过正极材料改性把循环寿命提升到1500次。",
)


@pytest.fixture(autouse=True)
def _fresh_pool_samples():
    engine.clear_pool_samples()
    yield
    engine.clear_pool_samples()


def test_the_default_model_has_a_calibration_with_a_threshold_fitted_on_dev():
    fitted = calibration.shipped(embedding.model_id())
    assert fitted is not None, "run manage.py fit_calibration for the default model"
    assert tuple(fitted.features) == calibration.FEATURES
    assert 0 < fitted.alert_threshold < 1
    # The cross-validated figures it was accepted on (docs/matching.md).
    assert fitted.metrics["cv_alert_precision"] >= 0.8
    assert fitted.metrics["cv_orphan_alert_rate"] <= 0.10
    assert fitted.metrics["cv_ece"] <= 0.05


@pytest.mark.django_db
def test_a_model_without_calibration_keeps_the_old_logistic_and_threshold():
    scores, calibrated = calibration.scores("no-such-model", {"fused": np.asarray([2.0, 5.0])})
    assert not calibrated
    assert scores[0] == pytest.approx(0.5)
    assert calibration.alert_threshold("no-such-model") == calibration.LEGACY_THRESHOLD


def test_expected_calibration_error_is_zero_for_honest_scores_and_large_for_overconfident_ones():
    labels = np.asarray([1, 0] * 50)
    assert calibration_fit.expected_calibration_error(np.full(100, 0.5), labels) == 0
    assert calibration_fit.expected_calibration_error(np.full(100, 0.95), labels) == pytest.approx(
        0.45
    )


def test_threshold_is_the_lowest_that_keeps_precision_and_silences_orphan_needs():
    scores = np.asarray([0.9, 0.8, 0.6, 0.5, 0.4, 0.3, 0.2])
    relevant = np.asarray([True, True, True, True, False, True, False])
    # Precision stays ≥ 0.8 from 0.21 on (5 of 6 pairs, then 4 of 5, then all); at 0.2 it is 5/7.
    assert calibration_fit.choose_threshold(scores, relevant, np.asarray([0.1])) == 0.21
    # A need without an answer whose best candidate scores 0.35 must not be emailed.
    assert calibration_fit.choose_threshold(scores, relevant, np.asarray([0.35])) == 0.36


@pytest.mark.django_db
def test_a_need_nothing_answers_gets_only_weak_candidates_and_the_page_says_so(client):
    results = make_results()
    for result in results:
        pipeline.index_and_match(kind="result", object_id=result.pk)
    need = NeedFactory(**NO_COUNTERPART)
    pipeline.index_and_match(kind="need", object_id=need.pk)
    matches = list(Match.objects.filter(need=need))
    assert matches
    threshold = calibration.alert_threshold(matches[0].model_version)
    assert all(m.score < threshold for m in matches)

    client.force_login(need.created_by)
    page = client.get(need.get_absolute_url()).content.decode()
    assert "暂无强匹配" in page and "弱候选" in page
    api = client.get(f"/api/v1/needs/{need.uuid}/matches/").json()
    assert api and {m["strength"] for m in api} == {"weak"}


@pytest.mark.django_db
def test_a_need_with_a_real_answer_gets_a_strong_match_first():
    results = make_results()
    for result in results:
        pipeline.index_and_match(kind="result", object_id=result.pk)
    need = NeedFactory(**GOOD_COUNTERPART)
    pipeline.index_and_match(kind="need", object_id=need.pk)
    top = Match.objects.filter(need=need).order_by("-score").first()
    assert top.result == results[0]
    assert calibration.strength(top.score, top.model_version) == "strong"


@pytest.mark.worker
@pytest.mark.smtp
@pytest.mark.slow
def test_the_worker_emails_nobody_about_a_need_without_a_good_counterpart(
    worker_smtp,  # noqa: F811
    celery_worker_process,
):
    results = make_results()
    for result in results:
        pipeline.index_and_match(kind="result", object_id=result.pk)
    orphan = NeedFactory(**NO_COUNTERPART)
    index_and_match.delay("need", orphan.pk).get(timeout=180)
    assert Match.objects.filter(need=orphan).exists()

    # A need with an answer, matched after it, does email (so silence above is not a dead worker).
    answered = NeedFactory(**GOOD_COUNTERPART)
    index_and_match.delay("need", answered.pk).get(timeout=180)
    worker_smtp.wait_for(1, timeout=60)
    time.sleep(2)
    recipients = {str(m["To"]) for m in worker_smtp.messages}
    assert answered.created_by.email in recipients
    assert orphan.created_by.email not in recipients
    assert Notification.objects.filter(event_key__startswith=f"match.need:{answered.pk}").exists()
    for prefix in (f"match.need:{orphan.pk}", f"match.lab:{orphan.pk}:"):
        assert not Notification.objects.filter(event_key__startswith=prefix).exists()
