"""The quality check (matching/catalogue/quality.py): the scorer, its live endpoint on the forms,
the publish warning, and the ``quality`` object of the API (the organization and staff only)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from accounts.services import api_token_create
from matching.catalogue import quality
from matching.catalogue.quality import NeedDraft, ResultDraft, need_quality, result_quality
from matching.models import Need, Result
from tests.factories import (
    FieldFactory,
    NeedFactory,
    NeedIndicatorFactory,
    RegionFactory,
    ResultFactory,
    UserFactory,
)

# The matcher's reader reads the lexical index (empty here: only the length is judged).
pytestmark = pytest.mark.django_db

TODAY = dt.date(2025, 6, 1)
LONG = (
    "我司湿法隔膜在陶瓷涂覆后透气度上升超过30%，导致电池内阻增加、倍率性能下降。"
    "已尝试调整浆料固含量和涂布速度，效果有限。希望获得新的水性陶瓷浆料配方与微凹版涂布工艺，"
    "在涂层厚度2微米条件下，透气度增幅控制在15%以内，热收缩率（130℃、1小时）不超过3%。"
)


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _codes(report: dict, *, ok: bool) -> set[str]:
    return {item["code"] for item in report["items"] if item["ok"] is ok}


def _complete_need(**overrides) -> NeedDraft:
    values = {
        "title": "隔膜涂覆透气度控制",
        "description": LONG,
        "indicators": ({"name": "透气度增幅", "operator": "<=", "target": "15", "unit": "%"},),
        "budget_min": Decimal("100"),
        "budget_max": Decimal("300"),
        "funding_mode": Need.FundingMode.MILESTONE,
        "coop_modes": ("joint_dev",),
        "trl_min": 6,
        "deadline": TODAY + dt.timedelta(days=60),
    }
    values.update(overrides)
    return NeedDraft(**values)


# --- the scorer ---------------------------------------------------------------------------------


def test_a_complete_need_scores_100_with_no_gaps():
    report = need_quality(_complete_need(), today=TODAY)
    assert report["score"] == 100
    assert not report["below_threshold"]
    assert _codes(report, ok=False) == set()
    assert all(item["suggestion"] == "" for item in report["items"])


def test_a_vague_need_scores_low_and_names_each_gap_with_a_suggestion():
    draft = NeedDraft(
        title="求合作", description="希望提升产品性能，寻求先进技术合作。", funding_mode="lump_sum"
    )
    report = need_quality(draft, today=TODAY)
    assert report["score"] == 10  # only "no contact details in public text" holds
    assert report["below_threshold"]
    assert _codes(report, ok=False) == {
        "indicator",
        "budget",
        "trl",
        "coop_modes",
        "deadline",
        "description",
        "matcher",
    }
    for item in report["items"]:
        if not item["ok"]:
            assert item["suggestion"], item["code"]
    assert report["matcher_view"]["verdict"] == "too_short"


def test_an_indicator_without_a_unit_or_a_number_is_not_quantified():
    for row in (
        {"name": "透气度", "operator": "<=", "target": "15", "unit": ""},
        {"name": "透气度", "operator": "<=", "target": "尽量低", "unit": "%"},
        {"name": "厚度", "operator": "range", "target": "1", "target_max": "", "unit": "μm"},
    ):
        report = need_quality(_complete_need(indicators=(row,)), today=TODAY)
        assert "indicator" in _codes(report, ok=False), row


def test_negotiable_counts_as_a_budget_answer_and_a_past_deadline_does_not():
    report = need_quality(
        _complete_need(
            budget_min=None,
            budget_max=None,
            funding_mode="negotiable",
            deadline=TODAY - dt.timedelta(days=1),
        ),
        today=TODAY,
    )
    assert "budget" in _codes(report, ok=True)
    assert "deadline" in _codes(report, ok=False)


@pytest.mark.parametrize(
    "text",
    [
        "详情请致电13912345678",
        "电话 139-1234-5678",
        "座机0512-66881234",
        "邮箱 zhang.san@example.com.cn",
        "QQ：123456789",
        "加微信：lab_zhang2024",
    ],
)
def test_contact_details_in_public_text_are_found(text):
    report = need_quality(_complete_need(description=LONG + text), today=TODAY)
    gap = next(item for item in report["items"] if item["code"] == "no_contact")
    assert not gap["ok"] and "联系方式" in gap["suggestion"]


def test_patent_numbers_amounts_and_dates_are_not_contact_details():
    assert (
        quality.contact_details_in(
            "专利202310123456.6，2023年投资1500万元，循环13000次，容量保持率85%。"
        )
        == []
    )


def _complete_result(**overrides) -> ResultDraft:
    values = {
        "title": "水性陶瓷涂覆浆料",
        "abstract": LONG.replace("我司", "本成果针对")
        + "与传统油性工艺相比能耗降低30%，已申请专利。",
        "trl": 6,
        "transfer_modes": ("license",),
        "price_min": Decimal("50"),
        "patents": ({"number": "202310123456.6", "kind": "invention"},),
    }
    values.update(overrides)
    return ResultDraft(**values)


def test_a_complete_result_scores_100():
    report = result_quality(_complete_result())
    assert report["score"] == 100, [i for i in report["items"] if not i["ok"]]


def test_a_result_with_a_bad_patent_check_digit_or_claimed_patents_without_numbers_has_a_gap():
    bad = result_quality(_complete_result(patents=({"number": "202310123456.7"},)))
    assert "patents" in _codes(bad, ok=False)
    assert "校验位" in next(i["message"] for i in bad["items"] if i["code"] == "patents")
    missing = result_quality(_complete_result(patents=()))
    assert "patents" in _codes(missing, ok=False)


def test_a_result_without_a_quantified_advantage_or_a_price_has_gaps():
    report = result_quality(
        _complete_result(
            abstract="本成果提出一种新型水性陶瓷浆料配方和涂布工艺，性能优良，适用于多种隔膜，"
            "工艺简单，成本可控，具有良好的产业化前景和推广价值，欢迎企业洽谈合作。" * 2,
            price_min=None,
            patents=(),
        )
    )
    assert {"advantage", "price"} <= _codes(report, ok=False)
    negotiable = result_quality(_complete_result(price_min=None, team="价格面议"))
    assert "price" in _codes(negotiable, ok=True)


def test_form_input_is_read_leniently():
    draft = quality.need_draft_from_form(
        {
            "title": "x",
            "budget_min": "abc",
            "trl_min": "",
            "deadline": "2025-13-40",
            "indicators-TOTAL_FORMS": "2",
            "indicators-0-name": "良率",
            "indicators-0-target": "99",
            "indicators-0-unit": "%",
            "indicators-1-name": "删掉的",
            "indicators-1-DELETE": "on",
        }
    )
    assert draft.budget_min is None and draft.trl_min is None and draft.deadline is None
    assert [row["name"] for row in draft.indicators] == ["良率"]


# --- the matcher's view ----------------------------------------------------------------------------


def test_the_matcher_reads_generic_text_as_generic_once_the_pool_is_large_enough(monkeypatch):
    from matching.matcher import readiness
    from matching.matcher.lexical import Bm25Stats

    monkeypatch.setattr(readiness, "MIN_POOL_DOCS", 0)
    monkeypatch.setattr(
        readiness,
        "lexical_stats",
        lambda kind, terms: Bm25Stats(
            n_docs=100,
            total_len=10000,
            df={t: (2 if t in {"隔膜", "涂覆", "透气", "浆料"} else 60) for t in terms},
        ),
    )
    generic = readiness.text_view(
        "need",
        "我们希望提升产品的技术水平，寻求先进技术合作，解决生产中的问题，提高效率和质量，降低成本。"
        * 2,
    )
    assert generic.verdict == "too_generic"
    specific = readiness.text_view("need", LONG)
    assert specific.verdict == "ok" and specific.signals["distinctive_terms"] >= 4


# --- the live endpoint and the publish warning -------------------------------------------------


def test_the_live_check_scores_unsaved_input_and_writes_nothing(owner_client):
    response = owner_client.post("/needs/quality/", {"title": "求合作", "description": "提升性能"})
    assert response.status_code == 200
    body = response.json()
    assert body["quality"]["below_threshold"]
    assert "信息完整度" in body["html"] and "没有带单位的量化指标" in body["html"]
    assert Need.objects.count() == 0
    result = owner_client.post("/results/quality/", {"title": "x", "abstract": "y", "trl": "3"})
    assert result.status_code == 200 and Result.objects.count() == 0


def test_the_live_check_needs_a_login_and_a_post(client):
    assert client.post("/needs/quality/", {"title": "x"}).status_code == 302
    client.force_login(UserFactory())
    assert client.get("/needs/quality/").status_code == 405


def test_publishing_a_vague_need_is_allowed_and_warned(owner_client, cast):
    need = NeedFactory(
        organization=cast.org,
        created_by=cast.owner,
        status=Need.Status.DRAFT,
        description="求合作",
        coop_modes=[],
        trl_min=None,
        published_at=None,
    )
    response = owner_client.post(f"/needs/{need.uuid}/publish/", follow=True)
    need.refresh_from_db()
    assert need.status == Need.Status.PUBLISHED
    text = response.content.decode()
    assert "低于 60 分" in text and "没有带单位的量化指标" in text


# --- the API -------------------------------------------------------------------------------------


def api(user) -> APIClient:
    _token, key = api_token_create(user=user, name="test")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def test_the_api_returns_the_same_quality_object_to_the_organization_only(cast):
    FieldFactory(code="new_energy.batteries", name="动力电池与储能")
    RegionFactory(name="江苏省")
    client = api(cast.member)
    response = client.post(
        "/api/v1/needs/",
        {"title": "求合作", "description": "希望提升性能。", "field": "new_energy.batteries"},
        format="json",
    )
    assert response.status_code == 201, response.content
    created = response.json()["quality"]
    need = Need.objects.get()
    assert created == quality.quality_of(need)
    assert created["below_threshold"] and "indicator" in _codes(created, ok=False)

    detail = client.get(f"/api/v1/needs/{need.uuid}/").json()
    assert detail["quality"] == created
    patched = client.patch(
        f"/api/v1/needs/{need.uuid}/",
        {"indicators": [{"name": "良率", "operator": ">=", "target": "99", "unit": "%"}]},
        format="json",
    ).json()["quality"]
    assert "indicator" in _codes(patched, ok=True) and patched["score"] > created["score"]

    need.status = Need.Status.PUBLISHED
    need.save(update_fields=["status"])
    assert api(cast.outsider).get(f"/api/v1/needs/{need.uuid}/").json()["quality"] is None
    assert api(UserFactory(is_staff=True)).get(f"/api/v1/needs/{need.uuid}/").json()["quality"]
    listed = client.get("/api/v1/needs/").json()["results"]
    assert listed[0]["quality"] is None  # lists leave it out: one object's answers carry it


def test_the_results_api_returns_quality_to_the_organization_only(cast):
    result = ResultFactory()
    owner = result.created_by
    body = api(owner).get(f"/api/v1/results/{result.uuid}/").json()
    assert body["quality"] == quality.quality_of(result)
    assert api(cast.outsider).get(f"/api/v1/results/{result.uuid}/").json()["quality"] is None


def test_the_organization_sees_the_report_on_the_need_page_and_others_do_not(client, cast):
    need = NeedFactory(organization=cast.org, created_by=cast.owner)
    NeedIndicatorFactory(need=need)
    client.force_login(cast.owner)
    assert "信息完整度" in client.get(need.get_absolute_url()).content.decode()
    client.force_login(cast.outsider)
    assert "信息完整度" not in client.get(need.get_absolute_url()).content.decode()
