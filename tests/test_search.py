"""Keyword search (Chinese substrings) and filters on the need and result lists."""

from __future__ import annotations

import pytest
from django.urls import reverse

from matching.models import Need
from taxonomy.models import Region
from tests.factories import FieldFactory, NeedFactory, OrganizationFactory, ResultFactory
from tests.web_helpers import fast_passwords, taxonomy  # noqa: F401

pytestmark = pytest.mark.django_db

NEEDS = reverse("matching:need-list")
RESULTS = reverse("matching:result-list")


@pytest.fixture
def org(db):
    taxonomy()
    return OrganizationFactory(name="检索测试公司")


def titles(client, url: str, **params) -> set[str]:
    response = client.get(url, params)
    assert response.status_code == 200
    return {item.title for item in response.context["page"]}


def test_chinese_keyword_finds_longer_compound(client, org):
    NeedFactory(organization=org, title="锂电池隔膜涂覆工艺优化")
    NeedFactory(organization=org, title="风电叶片无损检测", summary="叶片内部缺陷检测")
    ResultFactory(title="锂电池隔膜陶瓷涂覆浆料")
    ResultFactory(title="某种合金", keywords=["锂电池负极"])
    ResultFactory(title="无关成果", abstract="与储能无关")
    assert titles(client, NEEDS, q="锂电池") == {"锂电池隔膜涂覆工艺优化"}
    assert titles(client, RESULTS, q="锂电池") == {"锂电池隔膜陶瓷涂覆浆料", "某种合金"}
    # Several words narrow the search (all must appear).
    assert titles(client, NEEDS, q="锂电池 叶片") == set()
    assert titles(client, NEEDS, q="叶片 检测") == {"风电叶片无损检测"}


def test_search_covers_summary_description_and_indicators_of_public_needs(client, org):
    need = NeedFactory(organization=org, title="甲", description="要求钠离子电池低温性能")
    need.indicators.create(name="低温放电保持率", operator=">=", target="80")
    NeedFactory(organization=org, title="乙", summary="摘要里有钙钛矿")
    assert titles(client, NEEDS, q="钠离子") == {"甲"}
    assert titles(client, NEEDS, q="低温放电") == {"甲"}
    assert titles(client, NEEDS, q="钙钛矿") == {"乙"}


def test_search_on_summary_only_need_matches_its_public_text_only(client, org):
    NeedFactory(
        organization=org,
        title="保密需求",
        summary="寻求电池热管理方案",
        description="核心配方含有石墨烯导热膜",
        confidentiality=Need.Confidentiality.SUMMARY,
    )
    assert titles(client, NEEDS, q="热管理") == {"保密需求"}
    assert titles(client, NEEDS, q="石墨烯") == set()


def test_filter_by_top_level_field_includes_sub_fields(client, org):
    batteries = FieldFactory(code="new_energy.batteries")
    solar = FieldFactory(code="new_energy.solar", name="光伏")
    chips = FieldFactory(code="ic.design", name="芯片设计")
    NeedFactory(organization=org, title="电池", field=batteries)
    NeedFactory(organization=org, title="光伏", field=solar)
    NeedFactory(organization=org, title="芯片", field=chips)
    assert titles(client, NEEDS, field="new_energy") == {"电池", "光伏"}
    assert titles(client, NEEDS, field="new_energy.solar") == {"光伏"}
    ResultFactory(title="芯片成果", field=chips)
    assert titles(client, RESULTS, field="ic") == {"芯片成果"}


def test_filter_by_region_stage_mode_and_budget(client, org):
    jiangsu = Region.objects.get(name="江苏省")
    zhejiang = Region.objects.create(name="浙江省")
    NeedFactory(
        organization=org,
        title="A",
        region=jiangsu,
        trl_min=3,
        coop_modes=["transfer"],
        budget_min=10,
        budget_max=50,
    )
    NeedFactory(
        organization=org,
        title="B",
        region=zhejiang,
        trl_min=7,
        coop_modes=["joint_dev"],
        budget_min=200,
        budget_max=None,
    )
    NeedFactory(
        organization=org,
        title="C",
        region=None,
        trl_min=None,
        coop_modes=[],
        budget_min=None,
        budget_max=None,
    )
    assert titles(client, NEEDS, region=jiangsu.pk) == {"A"}
    assert titles(client, NEEDS, stage="lab") == {"A"}
    assert titles(client, NEEDS, stage="pilot") == {"B"}
    assert titles(client, NEEDS, mode="joint_dev") == {"B"}
    assert titles(client, NEEDS, amount_min="100") == {"B"}
    assert titles(client, NEEDS, amount_max="60") == {"A"}
    assert titles(client, NEEDS, amount_min="40", amount_max="250") == {"A", "B"}


def test_result_filters(client, org):
    ResultFactory(title="实验室", trl=2, transfer_modes=["license"], price_min=10, price_max=20)
    ResultFactory(title="产业化", trl=9, transfer_modes=["transfer"], price_min=500, price_max=900)
    assert titles(client, RESULTS, stage="industrial") == {"产业化"}
    assert titles(client, RESULTS, mode="license") == {"实验室"}
    assert titles(client, RESULTS, amount_min="100") == {"产业化"}


def test_drafts_and_withdrawn_are_not_listed(client, org):
    NeedFactory(organization=org, title="草稿", status=Need.Status.DRAFT)
    NeedFactory(organization=org, title="撤回", status=Need.Status.WITHDRAWN)
    NeedFactory(organization=org, title="已关闭", status=Need.Status.CLOSED)
    assert titles(client, NEEDS) == {"已关闭"}
    assert titles(client, NEEDS, open_only="on") == set()
    ResultFactory(title="成果草稿", status="draft")
    assert titles(client, RESULTS) == set()


def test_list_paginates_with_filters_kept(client, org):
    for i in range(25):
        NeedFactory(organization=org, title=f"分页需求{i:02d}")
    first = client.get(NEEDS, {"q": "分页"})
    assert len(first.context["page"]) == 20
    assert "q=%E5%88%86%E9%A1%B5&amp;page=2" in first.content.decode()
    second = client.get(NEEDS, {"q": "分页", "page": 2})
    assert len(second.context["page"]) == 5


def test_list_query_count_does_not_grow_with_rows(client, org, django_assert_max_num_queries):
    for i in range(15):
        NeedFactory(organization=org, title=f"需求{i}")
    with django_assert_max_num_queries(8):
        client.get(NEEDS)
    with django_assert_max_num_queries(8):
        client.get(NEEDS, {"q": "需求"})


def test_home_page_shows_latest_public_listings_and_counts(client, org):
    NeedFactory(organization=org, title="首页公开需求")
    NeedFactory(
        organization=org, title="首页私密需求", confidentiality=Need.Confidentiality.PRIVATE
    )
    ResultFactory(title="首页成果")
    # Even the enterprise's own member does not see its private need on the shared front page.
    client.force_login(org.memberships.first().user)
    html = client.get("/").content.decode()
    assert "首页公开需求" in html and "首页成果" in html
    assert "首页私密需求" not in html
