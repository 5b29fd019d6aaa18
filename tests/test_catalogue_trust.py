"""Trust findings on the catalogue (needs, results, capability profiles): indicators that bids
answer survive edits, text the database cannot store is a field error, the API rate is counted
atomically per user, cursors are opaque, the dashboard re-checks visibility, and text sizes are
capped. Each test drives the web pages or the API, then checks the rows."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.exceptions import ValidationError
from django.db import connections
from django.db.models import ProtectedError
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.services import api_token_create
from challenges.models import BidIndicatorResponse, ChallengeMilestone
from core.limits import LONG_TEXT
from matching.catalogue import services
from matching.models import CapabilityProfile, Need, NeedAccess, NeedIndicator, Result
from tests.factories import (
    BidFactory,
    ChallengeFactory,
    NeedFactory,
    NeedIndicatorFactory,
)
from tests.web_helpers import fast_passwords, need_form_data, taxonomy  # noqa: F401

pytestmark = pytest.mark.django_db

NEEDS = reverse("matching:need-list")
RESULTS = reverse("matching:result-list")
EXPORT = reverse("matching:need-export")
DASHBOARD = reverse("matching:dashboard")


@pytest.fixture(autouse=True)
def _quiet_matching(monkeypatch):
    # Matching runs in a worker; these tests are about the catalogue's rows.
    monkeypatch.setattr("matching.tasks.index_and_match.delay", lambda *args, **kwargs: None)


def api(user) -> APIClient:
    _token, key = api_token_create(user=user, name="test")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def edit_url(need: Need) -> str:
    return reverse("matching:need-edit", kwargs={"uuid": need.uuid})


def indicator_state(need: Need) -> list[tuple]:
    return list(
        need.indicators.order_by("position", "id").values_list("id", "name", "operator", "target")
    )


def resubmit(client, url: str) -> dict:
    """What a browser posts when the user opens the edit form and saves it without a change."""
    page = client.get(url)
    assert page.status_code == 200
    form, formset = page.context["form"], page.context["formset"]
    data: dict = {}
    for bound in form:
        if bound.name == "attachments":
            continue
        value = bound.value()
        if value is None:
            value = ""
        elif isinstance(value, dt.date):
            value = value.isoformat()
        elif not isinstance(value, list):
            value = str(value)
        data[bound.html_name] = value
    management = formset.management_form
    for bound in management:
        data[bound.html_name] = str(bound.value())
    for row in formset.forms:
        for bound in row:
            value = bound.value()
            if value in (None, False):
                continue
            data[bound.html_name] = str(value)
    return data


# --- #1 indicators that challenges and bids refer to ---------------------------------------------


@pytest.fixture
def bid_on_need(cast):
    """A need in challenge with an open challenge (two acceptance indicators, milestones on them)
    and one submitted bid answering both indicators."""
    _top, sub, region = taxonomy()
    need = NeedFactory(
        organization=cast.org,
        created_by=cast.owner,
        field=sub,
        region=region,
        status=Need.Status.IN_CHALLENGE,
    )
    challenge = ChallengeFactory(need=need)
    bid = BidFactory(challenge=challenge)
    return need, challenge, bid


def _challenge_links(challenge) -> tuple:
    return (
        sorted(challenge.indicators.values_list("id", flat=True)),
        sorted(ChallengeMilestone.objects.filter(challenge=challenge).values_list("indicator_id")),
    )


def test_web_resave_without_change_keeps_indicators_and_bid_answers(client, cast, bid_on_need):
    need, challenge, bid = bid_on_need
    before = indicator_state(need)
    links = _challenge_links(challenge)
    answers = list(bid.indicator_responses.values_list("id", "indicator_id"))
    assert len(before) == 2 and len(answers) == 2
    client.force_login(cast.owner)
    response = client.post(edit_url(need), resubmit(client, edit_url(need)))
    assert response.status_code == 302, response.context and response.context["form"].errors
    assert indicator_state(need) == before
    assert _challenge_links(challenge) == links
    assert list(bid.indicator_responses.values_list("id", "indicator_id")) == answers


def test_api_patch_with_same_indicators_keeps_them_and_bid_answers(cast, bid_on_need):
    need, challenge, bid = bid_on_need
    before = indicator_state(need)
    links = _challenge_links(challenge)
    client = api(cast.owner)
    shown = client.get(f"/api/v1/needs/{need.uuid}/").json()["indicators"]
    response = client.patch(
        f"/api/v1/needs/{need.uuid}/",
        {"title": "高镍正极循环寿命提升（修订）", "indicators": shown},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert indicator_state(need) == before
    assert _challenge_links(challenge) == links
    assert BidIndicatorResponse.objects.filter(bid=bid).count() == 2


def test_api_changing_indicators_of_need_with_bids_is_400_and_changes_nothing(cast, bid_on_need):
    need, challenge, bid = bid_on_need
    before = indicator_state(need)
    client = api(cast.owner)
    shown = client.get(f"/api/v1/needs/{need.uuid}/").json()["indicators"]
    shown[0]["target"] = "95"
    response = client.patch(
        f"/api/v1/needs/{need.uuid}/",
        {"title": "改过的名称", "indicators": shown},
        format="json",
    )
    assert response.status_code == 400
    assert "indicators" in response.json()
    need.refresh_from_db()
    assert need.title != "改过的名称"
    assert indicator_state(need) == before
    assert BidIndicatorResponse.objects.filter(bid=bid).count() == 2
    # Dropping an indicator is refused the same way.
    response = client.patch(f"/api/v1/needs/{need.uuid}/", {"indicators": shown[1:]}, format="json")
    assert response.status_code == 400 and "indicators" in response.json()
    assert indicator_state(need) == before


def test_web_changing_indicators_of_need_with_bids_is_a_form_error(client, cast, bid_on_need):
    need, _challenge, bid = bid_on_need
    before = indicator_state(need)
    client.force_login(cast.owner)
    data = resubmit(client, edit_url(need))
    data["indicators-0-target"] = "99"
    response = client.post(edit_url(need), data)
    assert response.status_code == 400
    assert "已有榜单的需求不能修改技术指标" in response.content.decode()
    assert indicator_state(need) == before
    assert bid.indicator_responses.count() == 2


def test_changing_one_indicator_keeps_the_others(cast):
    _top, sub, _region = taxonomy()
    need = NeedFactory(organization=cast.org, created_by=cast.owner, field=sub)
    for position, name in enumerate(["良率", "厚度", "车速"]):
        NeedIndicatorFactory(need=need, name=name, target="10", position=position)
    ids = [row[0] for row in indicator_state(need)]
    client = api(cast.owner)
    rows = client.get(f"/api/v1/needs/{need.uuid}/").json()["indicators"]
    rows[1]["target"] = "12"
    assert (
        client.patch(f"/api/v1/needs/{need.uuid}/", {"indicators": rows}, format="json").status_code
        == 200
    )
    assert indicator_state(need) == [
        (ids[0], "良率", ">=", "10"),
        (ids[1], "厚度", ">=", "12"),
        (ids[2], "车速", ">=", "10"),
    ]
    # Removing the first one keeps the two others, even without ids in the rows.
    rows = [{k: v for k, v in row.items() if k != "id"} for row in rows[1:]]
    assert (
        client.patch(f"/api/v1/needs/{need.uuid}/", {"indicators": rows}, format="json").status_code
        == 200
    )
    assert [row[0] for row in indicator_state(need)] == ids[1:]


def test_indicator_answered_by_a_bid_cannot_be_deleted(bid_on_need):
    need, _challenge, _bid = bid_on_need
    with pytest.raises(ProtectedError):
        need.indicators.first().delete()


def test_draft_challenge_without_bids_does_not_freeze_indicators(cast):
    _top, sub, _region = taxonomy()
    need = NeedFactory(organization=cast.org, created_by=cast.owner, field=sub)
    challenge = ChallengeFactory(need=need, status="draft", published_at=None)
    first, second = challenge.indicators.order_by("position", "id")
    rows = [
        {"name": first.name, "operator": first.operator, "target": first.target, "unit": "%"},
        {"name": second.name, "operator": ">=", "target": "2000", "unit": second.unit},
    ]
    services.need_update(need=need, actor=cast.owner, data={}, indicators=rows)
    assert sorted(challenge.indicators.values_list("id", flat=True)) == [first.pk, second.pk]
    assert need.indicators.get(pk=second.pk).target == "2000"
    services.need_update(need=need, actor=cast.owner, data={}, indicators=rows[:1])
    assert list(challenge.indicators.values_list("id", flat=True)) == [first.pk]
    assert list(need.indicators.values_list("id", flat=True)) == [first.pk]


# --- #12 text the database cannot store ---------------------------------------------------------

NUL = "锂\x00电池"
SURROGATE = "锂\ud800电池"


@pytest.mark.parametrize("url", [NEEDS, RESULTS, EXPORT])
def test_web_search_with_nul_byte_is_400_with_message(client, url):
    taxonomy()
    response = client.get(url, {"q": NUL})
    assert response.status_code == 400
    assert "空字符" in response.content.decode()


def test_api_capability_create_multipart_with_nul_is_400_and_writes_nothing(cast):
    taxonomy()
    client = api(cast.outsider)
    for data in (
        {"title": NUL, "description": "能力", "fields": ["new_energy.batteries"]},
        {"title": "能力", "description": "能力", "fields": ["new_energy\x00.batteries"]},
        {"title": "能力", "description": "能力", "team": NUL},
    ):
        response = client.post("/api/v1/capabilities/", data, format="multipart")
        assert response.status_code == 400, response.content
        assert "空字符" in json.dumps(response.json(), ensure_ascii=False)
    assert not CapabilityProfile.objects.exists()


@pytest.mark.parametrize("method", ["put", "patch"])
@pytest.mark.parametrize(
    "field, value",
    [("title", NUL), ("field", "new_energy.batteries\x00"), ("region", "江苏\x00省")],
)
def test_api_need_update_multipart_with_nul_is_400_and_changes_nothing(cast, method, field, value):
    _top, sub, _region = taxonomy()
    need = NeedFactory(organization=cast.org, created_by=cast.owner, field=sub)
    title = need.title
    data = {
        "title": "新名称",
        "description": "新的描述",
        "field": "new_energy.batteries",
        field: value,
    }
    response = getattr(api(cast.owner), method)(
        f"/api/v1/needs/{need.uuid}/", data, format="multipart"
    )
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert "空字符" in json.dumps(response.json(), ensure_ascii=False)
    need.refresh_from_db()
    assert need.title == title


@pytest.mark.parametrize(
    "payload",
    [
        {"description": SURROGATE},
        {"indicators": [{"name": SURROGATE, "target": "1"}]},
        {"coop_modes": [SURROGATE]},
        {"region": SURROGATE},
    ],
)
def test_api_json_with_lone_surrogate_is_400_and_changes_nothing(cast, payload):
    _top, sub, _region = taxonomy()
    need = NeedFactory(organization=cast.org, created_by=cast.owner, field=sub)
    body = json.dumps(payload)  # ASCII escapes: "\ud800" stays a lone surrogate once parsed
    response = api(cast.owner).generic(
        "PATCH", f"/api/v1/needs/{need.uuid}/", body, content_type="application/json"
    )
    assert response.status_code == 400, response.content
    assert set(response.json()) == set(payload)
    need.refresh_from_db()
    assert need.description.startswith("我司高镍三元电池")


def test_api_bulk_import_with_nul_reports_the_row(cast):
    taxonomy()
    item = {
        "external_ref": "N-1",
        "title": "需求",
        "description": "描述",
        "field": "new_energy.batteries\x00",
    }
    response = api(cast.owner).post("/api/v1/needs/bulk/", [item], format="json")
    assert response.status_code == 400
    assert response.json()["rows"][0]["field"] == "field"
    assert not Need.objects.exists()


@pytest.mark.parametrize(
    "url, params",
    [
        ("/api/v1/needs/", {"q": NUL}),
        ("/api/v1/needs/", {"field": "new_energy\x00"}),
        ("/api/v1/needs/", {"region": "江苏\x00"}),
        ("/api/v1/needs/export.csv", {"q": NUL}),
        ("/api/v1/results/", {"q": NUL}),
        ("/api/v1/results/", {"region": "江苏\x00"}),
        ("/api/v1/capabilities/", {"q": NUL}),
        ("/api/v1/capabilities/", {"field": "x\x00"}),
    ],
)
def test_api_query_parameters_with_nul_are_400(cast, url, params):
    taxonomy()
    response = api(cast.outsider).get(url, params)
    assert response.status_code == 400, response.content
    assert "空字符" in json.dumps(response.json(), ensure_ascii=False)


# --- #13 one rate per user, counted atomically ----------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_parallel_requests_with_two_tokens_of_one_user_get_exactly_the_rate(
    cast, live_server, settings
):
    rate = 7
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            "user": f"{rate}/minute",
            "anon": "100/minute",
            "bulk": "1/hour",
        },
    }
    keys = [api_token_create(user=cast.owner, name=f"令牌{n}")[1] for n in range(2)]
    start = threading.Barrier(16)

    def call(n: int) -> tuple[int, str | None]:
        request = urllib.request.Request(
            f"{live_server.url}/api/v1/capabilities/",
            headers={"Authorization": f"Token {keys[n % 2]}"},
        )
        start.wait()
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, None
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers.get("Retry-After")
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=16) as pool:
        outcomes = list(pool.map(call, range(32)))
    statuses = [code for code, _retry in outcomes]
    assert statuses.count(200) == rate, statuses
    assert statuses.count(429) == 32 - rate
    assert all(int(retry) >= 1 for code, retry in outcomes if code == 429)


def test_bulk_rate_is_per_user_not_per_token(cast, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"user": "100/minute", "anon": "100/minute", "bulk": "1/hour"},
    }
    first, second = api(cast.owner), api(cast.owner)
    assert first.post("/api/v1/needs/bulk/", [], format="json").status_code == 400  # counted
    response = second.post("/api/v1/needs/bulk/", [], format="json")
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0


# --- #14 opaque cursors -------------------------------------------------------------------------------


def _decoded(cursor: str) -> str:
    text = cursor
    for decode in (base64.b64decode, base64.urlsafe_b64decode):
        try:
            text += decode(cursor + "=" * (-len(cursor) % 4)).decode("latin-1")
        except (binascii.Error, ValueError):
            pass
    return text


@pytest.mark.parametrize("ordering", ["", "published", "-created_at", "created_at"])
def test_cursor_does_not_carry_dates_of_summary_public_needs(cast, ordering):
    _top, sub, _region = taxonomy()
    stamps = [
        timezone.make_aware(dt.datetime(2025, 3, day, 10, 11, 12, 345678)) for day in (4, 5, 6)
    ]
    for n, stamp in enumerate(stamps):
        need = NeedFactory(
            organization=cast.org,
            created_by=cast.owner,
            field=sub,
            title=f"摘要公开需求{n}",
            confidentiality=Need.Confidentiality.SUMMARY,
            published_at=stamp,
        )
        Need.objects.filter(pk=need.pk).update(created_at=stamp)
    client = api(cast.outsider)
    url = "/api/v1/needs/?page_size=1" + (f"&ordering={ordering}" if ordering else "")
    seen = []
    while url:
        page = client.get(url).json()
        seen += [item["title"] for item in page["results"]]
        for link in (page["next"], page["previous"]):
            if link:
                cursor = link.split("cursor=")[1].split("&")[0]
                text = _decoded(urllib.request.unquote(cursor))
                for stamp in stamps:
                    for shown in (stamp.isoformat(), f"{stamp:%Y-%m-%d}", f"{stamp:%H:%M:%S}"):
                        assert shown not in text
                    assert "p=" not in text
        url = page["next"]
    assert sorted(seen) == ["摘要公开需求0", "摘要公开需求1", "摘要公开需求2"]


def test_tampered_cursor_is_404_not_500(cast):
    _top, sub, _region = taxonomy()
    for n in range(3):
        NeedFactory(organization=cast.org, created_by=cast.owner, field=sub, title=f"需求{n}")
    client = api(cast.outsider)
    forged = base64.b64encode(b"p=2025-01-01+00%3A00%3A00%2B00%3A00").decode()
    for cursor in (forged, "not-a-cursor", "\x00", "a" * 500):
        response = client.get("/api/v1/needs/", {"cursor": cursor})
        assert response.status_code == 404, (cursor, response.status_code)
        assert "无效的游标" in response.json()["detail"]


# --- #15 the dashboard re-checks visibility ------------------------------------------------------


def test_dashboard_drops_request_for_need_switched_to_private(client, cast):
    _top, sub, _region = taxonomy()
    need = NeedFactory(
        organization=cast.org,
        created_by=cast.owner,
        field=sub,
        title="保密需求标题",
        confidentiality=Need.Confidentiality.SUMMARY,
    )
    services.need_access_request(
        need=need, actor=cast.outsider, organization=cast.other_org, accept_terms=True
    )
    client.force_login(cast.outsider)
    page = client.get(DASHBOARD).content.decode()
    assert "保密需求标题" in page
    assert cast.org.name not in page  # summary-only: the enterprise is not named either
    services.need_update(need=need, actor=cast.owner, data={"confidentiality": "private"})
    assert NeedAccess.objects.filter(need=need).exists()
    assert "保密需求标题" not in client.get(DASHBOARD).content.decode()


# --- #19 text size caps -----------------------------------------------------------------------------

HUGE = "长" * 1_000_000


def test_web_need_with_huge_description_is_a_form_error(client, cast):
    taxonomy()
    client.force_login(cast.owner)
    response = client.post(reverse("matching:need-create"), need_form_data(description=HUGE))
    assert response.status_code == 400
    assert response.context["form"].errors["description"]
    assert not Need.objects.exists()


@pytest.mark.parametrize(
    "url, payload, field",
    [
        (
            "/api/v1/needs/",
            {"title": "需求", "description": HUGE, "field": "new_energy.batteries"},
            "description",
        ),
        (
            "/api/v1/needs/",
            {
                "title": "需求",
                "description": "描述",
                "summary": HUGE[:3000],
                "field": "new_energy.batteries",
            },
            "summary",
        ),
        (
            "/api/v1/results/",
            {"title": "成果", "abstract": HUGE, "field": "new_energy.batteries", "trl": 5},
            "abstract",
        ),
        ("/api/v1/capabilities/", {"title": "能力", "description": HUGE}, "description"),
        ("/api/v1/capabilities/", {"title": "能", "description": "d", "team": HUGE}, "team"),
    ],
)
def test_api_huge_text_is_400_with_field_message(cast, url, payload, field):
    taxonomy()
    user = cast.outsider if "needs" not in url else cast.owner
    response = api(user).post(url, payload, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert not Need.objects.exists()
    assert not Result.objects.exists()
    assert not CapabilityProfile.objects.exists()


def test_text_caps_come_from_core_limits():
    from core.limits import PARAGRAPH, TITLE

    caps = {
        (Need, "title"): TITLE,
        (Need, "summary"): PARAGRAPH,
        (Need, "description"): LONG_TEXT,
        (Need, "scenario"): PARAGRAPH,
        (Need, "terms"): LONG_TEXT,
        (NeedIndicator, "name"): TITLE,
        (Result, "title"): TITLE,
        (Result, "abstract"): LONG_TEXT,
        (Result, "team"): PARAGRAPH,
        (CapabilityProfile, "title"): TITLE,
        (CapabilityProfile, "description"): LONG_TEXT,
        (CapabilityProfile, "team"): PARAGRAPH,
        (CapabilityProfile, "equipment"): PARAGRAPH,
        (CapabilityProfile, "past_projects"): LONG_TEXT,
    }
    for (model, name), cap in caps.items():
        assert model._meta.get_field(name).max_length == cap, (model, name)


def test_long_indicator_name_within_cap_is_saved(cast):
    _top, sub, _region = taxonomy()
    need = NeedFactory(organization=cast.org, created_by=cast.owner, field=sub)
    name = "指" * 150
    services.need_update(
        need=need, actor=cast.owner, data={}, indicators=[{"name": name, "target": "1"}]
    )
    assert need.indicators.get().name == name
    too_long = [{"name": "指" * 201, "target": "1"}]
    with pytest.raises(ValidationError) as caught:
        services.need_update(need=need, actor=cast.owner, data={}, indicators=too_long)
    assert "indicators" in caught.value.message_dict
    assert need.indicators.get().name == name
