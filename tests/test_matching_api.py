"""Match endpoints: who sees a need's matches, what a lab sees of matched needs, ad-hoc matching,
feedback. The lab side never sees a private need, nor the full text of a summary-public one."""

from __future__ import annotations

import pytest

from accounts.models import Membership
from matching.matcher import pipeline
from matching.models import Match, MatchFeedback, Need
from tests.factories import MembershipFactory, NeedFactory, UserFactory
from tests.test_matching_pipeline import make_results

pytestmark = pytest.mark.django_db

SECRET = "独家配方代号X-17的烧结曲线"


@pytest.fixture
def matched(django_capture_on_commit_callbacks):
    results = make_results()
    for result in results:
        pipeline.index_and_match(kind="result", object_id=result.pk)
    needs = {}
    for confidentiality in Need.Confidentiality.values:
        need = NeedFactory(
            title=f"高镍正极循环寿命提升（{confidentiality}）",
            summary="提升高镍正极材料的循环寿命。",
            description=f"我司{SECRET}导致NCM811正极在45℃循环800次后容量保持率低于80%，需要包覆改性方案。",
            confidentiality=confidentiality,
        )
        pipeline.index_and_match(kind="need", object_id=need.pk)
        needs[confidentiality] = need
    lab_user = Membership.objects.filter(organization=results[0].organization).first().user
    return results, needs, lab_user


def test_need_owner_gets_ranked_matches_with_explanations(client, matched):
    results, needs, _lab = matched
    need = needs["public"]
    client.force_login(need.created_by)
    data = client.get(f"/api/v1/needs/{need.uuid}/matches/").json()
    assert data[0]["candidate"]["uuid"] == str(results[0].uuid)
    assert data[0]["explanation"]["fit"]
    assert data[0]["score"] >= data[-1]["score"]


def test_outsider_gets_404_for_a_need_s_matches(client, matched):
    _results, needs, _lab = matched
    client.force_login(UserFactory())
    for need in needs.values():
        assert client.get(f"/api/v1/needs/{need.uuid}/matches/").status_code == 404


def test_lab_sees_matched_needs_without_confidential_text(client, matched):
    results, needs, lab_user = matched
    assert Match.objects.filter(need=needs["private"], result=results[0]).exists()
    client.force_login(lab_user)
    response = client.get(f"/api/v1/results/{results[0].uuid}/matches/")
    body = response.content.decode()
    assert response.status_code == 200
    seen = {item["need"]["uuid"]: item for item in response.json()}
    assert str(needs["private"].uuid) not in seen
    assert needs["private"].title not in body
    assert seen[str(needs["public"].uuid)]["full_text_visible"] is True
    assert seen[str(needs["summary"].uuid)]["full_text_visible"] is False
    assert SECRET not in str(seen[str(needs["summary"].uuid)])
    assert seen[str(needs["summary"].uuid)]["need"]["organization"] == ""
    assert "X-17" not in str(seen[str(needs["summary"].uuid)])


def test_lab_web_page_of_matched_needs_hides_private_and_summary_text(client, matched):
    results, needs, lab_user = matched
    client.force_login(lab_user)
    body = client.get("/matches/").content.decode()
    assert needs["public"].title in body
    assert needs["summary"].title in body
    assert needs["private"].title not in body
    # The public need shows its full text in explanations; the summary one must not leak it.
    summary_part = body.split(needs["summary"].title, 1)[1].split("</article>", 1)[0]
    assert "X-17" not in summary_part


def test_adhoc_match_ranks_published_results(client, matched):
    results, _needs, lab_user = matched
    client.force_login(lab_user)
    response = client.post(
        "/api/v1/match/",
        {"text": "电池隔膜在高温下收缩导致短路，需要耐热隔膜", "limit": 3},
        content_type="application/json",
    )
    assert response.status_code == 200
    data = response.json()
    assert data[0]["candidate"]["uuid"] == str(results[1].uuid)
    assert len(data) == 3


def test_adhoc_match_validates_input(client, matched):
    _results, _needs, lab_user = matched
    client.force_login(lab_user)
    response = client.post(
        "/api/v1/match/", {"text": "", "trl_min": 12}, content_type="application/json"
    )
    assert response.status_code == 400
    assert {"text", "trl_min"} <= set(response.json())


def test_feedback_not_relevant_requires_reason_then_drops_pair(
    client, matched, django_capture_on_commit_callbacks
):
    results, needs, _lab = matched
    need = needs["public"]
    match = Match.objects.get(need=need, result=results[0])
    client.force_login(need.created_by)
    response = client.post(
        f"/api/v1/matches/{match.pk}/feedback/",
        {"verdict": "not_relevant"},
        content_type="application/json",
    )
    assert response.status_code == 400 and "reason" in response.json()
    assert not MatchFeedback.objects.exists()

    response = client.post(
        f"/api/v1/matches/{match.pk}/feedback/",
        {"verdict": "not_relevant", "reason": "immature"},
        content_type="application/json",
    )
    assert response.status_code == 200
    pipeline.index_and_match(kind="need", object_id=need.pk)
    ranked = [c.object_id for c in pipeline.rank_for_need(need)[0]]
    assert results[0].pk not in ranked


def test_not_relevant_removes_the_pair_from_that_side_at_once_before_any_reranking(client, matched):
    results, needs, lab = matched
    need = needs["public"]
    match = Match.objects.get(need=need, result=results[0])
    client.force_login(need.created_by)
    client.post(
        f"/api/v1/matches/{match.pk}/feedback/",
        {"verdict": "not_relevant", "reason": "wrong_field"},
        content_type="application/json",
    )
    # No re-ranking has run (the task was not executed): the need's side no longer sees the pair.
    assert Match.objects.filter(pk=match.pk).exists()
    listed = [m["id"] for m in client.get(f"/api/v1/needs/{need.uuid}/matches/").json()]
    assert match.pk not in listed
    assert f'id="match-{match.pk}"' not in client.get(need.get_absolute_url()).content.decode()

    # The lab's side marks another need's pair as not relevant: gone from its lists, not the need's.
    other = Match.objects.get(need=needs["summary"], result=results[0])
    client.force_login(lab)
    client.post(
        f"/api/v1/matches/{other.pk}/feedback/",
        {"verdict": "not_relevant", "reason": "wrong_mode"},
        content_type="application/json",
    )
    seen = [m["id"] for m in client.get(f"/api/v1/results/{results[0].uuid}/matches/").json()]
    assert other.pk not in seen
    assert needs["summary"].title not in client.get("/matches/").content.decode()


def test_outsider_cannot_give_feedback(client, matched):
    results, needs, _lab = matched
    match = Match.objects.get(need=needs["public"], result=results[0])
    client.force_login(MembershipFactory().user)
    response = client.post(
        f"/api/v1/matches/{match.pk}/feedback/",
        {"verdict": "interested"},
        content_type="application/json",
    )
    assert response.status_code == 404
    assert not MatchFeedback.objects.exists()


def test_lab_cannot_give_feedback_on_a_private_need_match(client, matched):
    results, needs, lab_user = matched
    match = Match.objects.get(need=needs["private"], result=results[0])
    client.force_login(lab_user)
    response = client.post(
        f"/api/v1/matches/{match.pk}/feedback/",
        {"verdict": "interested"},
        content_type="application/json",
    )
    assert response.status_code == 404


def test_need_page_lists_matches_with_feedback_buttons(client, matched):
    results, needs, _lab = matched
    need = needs["public"]
    client.force_login(need.created_by)
    body = client.get(need.get_absolute_url()).content.decode()
    assert results[0].title in body
    assert "不相关" in body and "感兴趣" in body
