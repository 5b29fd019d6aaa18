"""The responsiveness record of an organization (matching/catalogue/responsiveness.py) on its
public page and in the API: share of access requests answered by the deadline and the median
time to answer over 180 days, "数据不足" below five countable requests."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from matching.catalogue.responsiveness import organization_responsiveness
from matching.models import Need, NeedAccess
from matching.tasks import answers_sweep
from tests.factories import NeedFactory
from tests.test_quality import api

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _access(cast, *, asked_days_ago: float, answered_after_hours: float | None, **extra):
    need = NeedFactory(
        organization=cast.org,
        created_by=cast.owner,
        confidentiality=Need.Confidentiality.SUMMARY,
    )
    created = NOW - dt.timedelta(days=asked_days_ago)
    access = NeedAccess.objects.create(
        need=need,
        organization=cast.other_org,
        status=NeedAccess.Status.REQUESTED
        if answered_after_hours is None
        else NeedAccess.Status.APPROVED,
        respond_by=created + dt.timedelta(days=10),
        decided_at=None
        if answered_after_hours is None
        else created + dt.timedelta(hours=answered_after_hours),
        **extra,
    )
    NeedAccess.objects.filter(pk=access.pk).update(created_at=created)
    return access


def test_too_few_requests_say_not_enough_data(cast, client):
    for _ in range(4):
        _access(cast, asked_days_ago=30, answered_after_hours=24)
    record = organization_responsiveness(organization_id=cast.org.pk, now=NOW)
    assert record["requests"] == 4 and not record["enough_data"]
    assert record["answered_in_time_share"] is None and record["label"] == "数据不足"
    html = client.get(cast.org.get_absolute_url()).content.decode()
    assert "响应记录" in html and "数据不足" in html


def test_the_record_counts_in_time_late_and_unanswered_requests_of_the_window(cast, client):
    for _ in range(4):
        _access(cast, asked_days_ago=30, answered_after_hours=24)
    _access(cast, asked_days_ago=40, answered_after_hours=11 * 24)  # late
    _access(cast, asked_days_ago=20, answered_after_hours=None)  # past due, no answer
    _access(cast, asked_days_ago=3, answered_after_hours=None)  # still within its deadline
    _access(cast, asked_days_ago=200, answered_after_hours=None)  # outside the window
    _access(cast, asked_days_ago=30, answered_after_hours=1, invited=True)  # an invitation

    with time_machine.travel(NOW, tick=False):
        assert answers_sweep()["no_answer"] == 2  # the 20- and 200-day-old requests
        record = organization_responsiveness(organization_id=cast.org.pk)
        html = client.get(cast.org.get_absolute_url()).content.decode()
        body = api(cast.owner).get(f"/api/v1/organizations/{cast.org.uuid}/").json()
    assert record["requests"] == 6 and record["enough_data"]
    assert record["answered_in_time_share"] == pytest.approx(4 / 6, abs=0.001)
    assert record["median_hours_to_answer"] == 24.0
    assert "按时答复 67%" in record["label"] and "24 小时" in record["label"]
    assert record["label"] in html
    assert body["responsiveness"] == record


def test_the_record_of_an_organization_without_requests(cast):
    record = organization_responsiveness(organization_id=cast.org.pk, now=timezone.now())
    assert record["requests"] == 0 and record["label"] == "数据不足"


def test_needs_of_an_organization_that_never_answers_rank_a_little_lower_for_labs(
    cast, django_assert_max_num_queries
):
    """Ranking weight (docs/matching.md): score × (1 − 0.1 × share missed), order only."""
    from matching.catalogue.responsiveness import RANK_WEIGHT, rank_factor
    from matching.matches.selectors import lab_matches, needs_matched_to_result
    from tests.factories import MatchFactory, ResultFactory

    for _ in range(5):  # five requests, none answered: the record says 0 % in time
        _access(cast, asked_days_ago=30, answered_after_hours=None)
    with time_machine.travel(NOW, tick=False):
        record = organization_responsiveness(organization_id=cast.org.pk)
    assert record["answered_in_time_share"] == 0.0
    assert rank_factor(record) == pytest.approx(1 - RANK_WEIGHT)

    lab_result = ResultFactory(organization=cast.other_org, status="published")
    silent_close = NeedFactory(organization=cast.org, created_by=cast.owner, title="沉默但略高")
    silent_far = NeedFactory(organization=cast.org, created_by=cast.owner, title="沉默且高很多")
    unknown = NeedFactory(title="无记录")  # another organization, too little data: factor 1
    MatchFactory(need=silent_close, result=lab_result, score=0.80)
    MatchFactory(need=silent_far, result=lab_result, score=0.95)
    MatchFactory(need=unknown, result=lab_result, score=0.75)

    with time_machine.travel(NOW, tick=False):
        by_result = needs_matched_to_result(result=lab_result, user=cast.outsider)
        by_org = list(lab_matches(organization_ids=[cast.other_org.pk], user=cast.outsider).matches)
    # 0.95 × 0.9 = 0.855 > 0.75 > 0.80 × 0.9 = 0.72: only the close call changes places.
    expected = ["沉默且高很多", "无记录", "沉默但略高"]
    assert [m.need.title for m, _v in by_result] == expected
    assert [m.need.title for m in by_org] == expected
    assert [m.score for m, _v in by_result] == [0.95, 0.75, 0.80]  # the shown score is unchanged
    # One query per source (access requests, invitations, bids), however many organizations.
    from matching.catalogue.responsiveness import rank_factors

    with django_assert_max_num_queries(3):
        factors = rank_factors([cast.org.pk, unknown.organization_id, cast.other_org.pk], now=NOW)
    assert factors == {
        cast.org.pk: pytest.approx(0.9),
        unknown.organization_id: 1.0,
        cast.other_org.pk: 1.0,
    }
