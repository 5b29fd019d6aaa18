"""The lab's ``/matches/`` page: grouped by the lab's result or capability profile, ordered by the
calibrated score, paginated, filtered by strength and field, in a fixed number of queries."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership, Organization
from matching.matcher import active
from matching.matches.views import MATCHES_PER_PAGE
from matching.models import CapabilityProfile, Need
from tests.factories import (
    FieldFactory,
    MatchFactory,
    MembershipFactory,
    NeedFactory,
    OrganizationFactory,
    ResultFactory,
)

pytestmark = pytest.mark.django_db

# "test-model" has no calibration: the legacy threshold 0.5 decides 强匹配 / 弱候选.
STRONG, WEAK = 0.9, 0.3


@pytest.fixture(autouse=True)
def _fresh_state():
    active.clear_cache()
    yield
    active.clear_cache()


@pytest.fixture
def lab():
    org = OrganizationFactory(kind=Organization.Kind.INSTITUTION, name="测试大学新能源实验室")
    user = MembershipFactory(organization=org, role=Membership.Role.MEMBER).user
    battery = ResultFactory(organization=org, title="单晶高镍正极包覆技术")
    robot = ResultFactory(organization=org, title="机器人视觉抓取系统")
    profile = CapabilityProfile.objects.create(
        organization=org, title="高镍正极研发团队", description="正极材料包覆与掺杂。"
    )
    return org, user, battery, robot, profile


def _needs(n: int, field_code: str, title: str) -> list[Need]:
    field = FieldFactory(code=field_code, name=field_code)
    return [NeedFactory(field=field, title=f"{title}{i}") for i in range(n)]


def _page(client, user, **params):
    client.force_login(user)
    return client.get(reverse("matches:mine"), params)


def _groups(body: str) -> list[str]:
    return re.findall(r'<section class="match-group" data-candidate="([^"]+)"', body)


def test_grouped_by_result_or_profile_best_first_and_ordered_by_score(client, lab):
    _org, user, battery, robot, profile = lab
    needs = _needs(3, "new_energy.batteries", "电池需求")
    MatchFactory(need=needs[0], result=robot, score=0.6)
    MatchFactory(need=needs[1], result=battery, score=0.7)
    MatchFactory(need=needs[2], result=battery, score=0.95)
    MatchFactory(need=needs[0], result=None, capability=profile, score=0.4)
    body = _page(client, user).content.decode()
    assert _groups(body) == [str(battery.uuid), str(robot.uuid), str(profile.uuid)]
    battery_part = body.split(str(battery.uuid), 1)[1].split("</section>", 1)[0]
    assert battery_part.index("电池需求2") < battery_part.index("电池需求1")
    assert "研发能力 · " in body and "成果 · " in body
    assert "共 4 条匹配" in body


def test_filters_by_strength_and_field(client, lab):
    _org, user, battery, robot, _profile = lab
    (strong_need,) = _needs(1, "new_energy.batteries", "强电池需求")
    (weak_need,) = _needs(1, "new_energy.batteries", "弱电池需求")
    (robot_need,) = _needs(1, "intelligent_manufacturing.robots", "机器人需求")
    MatchFactory(need=strong_need, result=battery, score=STRONG)
    MatchFactory(need=weak_need, result=battery, score=WEAK)
    MatchFactory(need=robot_need, result=robot, score=STRONG)

    strong = _page(client, user, strength="strong").content.decode()
    assert "强电池需求" in strong and "机器人需求" in strong and "弱电池需求" not in strong
    weak = _page(client, user, strength="weak").content.decode()
    assert "弱电池需求" in weak and "强电池需求" not in weak
    # A top-level field includes its sub-fields.
    for code in ("new_energy", "new_energy.batteries"):
        by_field = _page(client, user, field=code).content.decode()
        assert "强电池需求" in by_field and "机器人需求" not in by_field
    both = _page(client, user, field="new_energy.batteries", strength="weak").content.decode()
    assert "弱电池需求" in both and "强电池需求" not in both
    # The filter offers the fields of the matched needs.
    assert 'value="intelligent_manufacturing.robots"' in strong


def test_bad_filters_are_a_400_with_the_form_errors_and_show_everything(client, lab):
    _org, user, battery, _robot, _profile = lab
    (need,) = _needs(1, "new_energy.batteries", "电池需求")
    MatchFactory(need=need, result=battery, score=STRONG)
    response = _page(client, user, strength="very", field="x y")
    assert response.status_code == 400
    body = response.content.decode()
    assert 'role="alert"' in body and "电池需求" in body


def test_says_no_strong_match_when_every_match_is_weak(client, lab):
    _org, user, battery, _robot, _profile = lab
    (need,) = _needs(1, "new_energy.batteries", "电池需求")
    MatchFactory(need=need, result=battery, score=WEAK)
    body = _page(client, user).content.decode()
    assert "暂无强匹配" in body and "弱候选" in body


def test_paginates(client, lab):
    _org, user, battery, _robot, _profile = lab
    needs = _needs(MATCHES_PER_PAGE + 3, "new_energy.batteries", "电池需求")
    for i, need in enumerate(needs):
        MatchFactory(need=need, result=battery, score=0.99 - i / 100)
    first = _page(client, user).content.decode()
    second = _page(client, user, page=2).content.decode()
    assert first.count('<article class="match"') == MATCHES_PER_PAGE
    assert second.count('<article class="match"') == 3
    assert "第 2 / 2 页" in second and f"电池需求{MATCHES_PER_PAGE + 2}" in second


def test_private_and_other_labs_matches_are_not_listed(client, lab):
    _org, user, battery, _robot, _profile = lab
    private = NeedFactory(title="不公开的需求", confidentiality=Need.Confidentiality.PRIVATE)
    MatchFactory(need=private, result=battery, score=STRONG)
    MatchFactory(need=NeedFactory(title="别人的匹配"), score=STRONG)
    body = _page(client, user).content.decode()
    assert "不公开的需求" not in body and "别人的匹配" not in body


@pytest.mark.parametrize("rows", [2, MATCHES_PER_PAGE + 5])
def test_query_count_does_not_grow_with_rows(client, lab, django_assert_max_num_queries, rows):
    _org, user, battery, robot, profile = lab
    needs = _needs(rows, "new_energy.batteries", "电池需求")
    summary = NeedFactory(title="摘要公开的需求", confidentiality=Need.Confidentiality.SUMMARY)
    for i, need in enumerate([*needs, summary]):
        target = (battery, robot)[i % 2]
        MatchFactory(need=need, result=target, score=0.2 + (i % 7) / 10)
        MatchFactory(need=need, result=None, capability=profile, score=0.3)
    client.force_login(user)
    # The page, the filters, the grouped list, and the needs' organizations' responsiveness (ordering).
    with django_assert_max_num_queries(16):
        response = client.get(reverse("matches:mine"))
    assert response.status_code == 200


def test_while_the_index_is_being_built_the_page_says_so(client, lab):
    from matching.matcher import indexing, reindex
    from matching.models import ReindexBatch

    _org, user, _battery, _robot, _profile = lab
    version = indexing.version_for_current_model()
    [first, *rest] = reindex.plan_index(version, batch_size=1)
    ReindexBatch.objects.filter(pk=first).update(done_at=timezone.now())

    body = _page(client, user).content.decode()
    assert 'id="rebuild-notice"' in body
    assert f"已完成 1/{1 + len(rest)} 批" in body

    ReindexBatch.objects.filter(version=version).update(done_at=timezone.now())
    assert 'id="rebuild-notice"' not in _page(client, user).content.decode()
