"""The needs API: confidentiality on list/detail/search/export, writes, validation, filters,
pagination, token auth and throttling."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Membership
from accounts.services import api_token_create, api_token_revoke
from matching.models import Need, NeedAccess
from tests.factories import (
    FieldFactory,
    MembershipFactory,
    NeedFactory,
    NeedIndicatorFactory,
    OrganizationFactory,
    RegionFactory,
    UserFactory,
)

pytestmark = pytest.mark.django_db

SECRET_SUMMARY = "机密描述SUMMARY：隔膜涂覆工艺参数为每平方米3.2克"
SECRET_PRIVATE = "机密描述PRIVATE：专有配方"
SUMMARY_KEYS = {"uuid", "visibility", "title", "field", "region", "summary", "status"}


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    # Factories hash a password per user; the default hasher takes most of a second each.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def api(user) -> APIClient:
    """A client authenticated the way integrations are: with an API token."""
    _token, key = api_token_create(user=user, name="test")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@dataclass
class World:
    cast: object
    public: Need
    summary: Need
    private: Need
    draft: Need
    approved_user: object
    unaccepted_user: object
    staff: object


@pytest.fixture
def world(cast) -> World:
    region = RegionFactory(name="江苏省")
    field = FieldFactory(code="new_energy.batteries", name="动力电池与储能")
    common = {"organization": cast.org, "created_by": cast.owner, "field": field, "region": region}
    public = NeedFactory(
        title="锂电池隔膜涂覆良率提升",
        description="公开的问题描述：涂覆漏涂。",
        confidentiality=Need.Confidentiality.PUBLIC,
        **common,
    )
    NeedIndicatorFactory(need=public, name="良率", target="99.5", unit="%")
    summary = NeedFactory(
        title="高镍正极循环寿命",
        summary="寻求高镍正极包覆技术。",
        description=SECRET_SUMMARY,
        scenario="机密场景",
        confidentiality=Need.Confidentiality.SUMMARY,
        budget_min=500,
        budget_max=900,
        contact_phone="13900000000",
        **common,
    )
    NeedIndicatorFactory(need=summary, name="机密指标", target="1500")
    private = NeedFactory(
        title="不公开的固态电解质需求",
        description=SECRET_PRIVATE,
        confidentiality=Need.Confidentiality.PRIVATE,
        **common,
    )
    draft = NeedFactory(
        title="草稿需求",
        status=Need.Status.DRAFT,
        published_at=None,
        description="草稿描述",
        **common,
    )
    approved_org = OrganizationFactory(name="丙大学", kind="institution")
    approved_user = MembershipFactory(organization=approved_org).user
    NeedAccess.objects.create(
        need=summary,
        organization=approved_org,
        status=NeedAccess.Status.APPROVED,
        terms_accepted_at=timezone.now(),
    )
    unaccepted_org = OrganizationFactory(name="丁研究所", kind="institution")
    unaccepted_user = MembershipFactory(organization=unaccepted_org).user
    NeedAccess.objects.create(
        need=summary, organization=unaccepted_org, status=NeedAccess.Status.APPROVED
    )
    staff = UserFactory(is_staff=True)
    return World(cast, public, summary, private, draft, approved_user, unaccepted_user, staff)


def _list(client, **params) -> list[dict]:
    response = client.get("/api/v1/needs/", params)
    assert response.status_code == 200, response.content
    return response.json()["results"]


def _by_uuid(items) -> dict[str, dict]:
    return {item["uuid"]: item for item in items}


# --- confidentiality --------------------------------------------------------------------------------


def test_outsider_sees_public_in_full_summary_fields_only_and_no_private(world):
    client = api(world.cast.outsider)
    response = client.get("/api/v1/needs/")
    body = response.content.decode()
    items = _by_uuid(response.json()["results"])

    assert set(items) == {str(world.public.uuid), str(world.summary.uuid)}
    assert items[str(world.public.uuid)]["visibility"] == "full"
    assert items[str(world.public.uuid)]["indicators"][0]["name"] == "良率"
    assert set(items[str(world.summary.uuid)]) == SUMMARY_KEYS
    assert items[str(world.summary.uuid)]["visibility"] == "summary"
    for secret in (SECRET_SUMMARY, SECRET_PRIVATE, "机密场景", "机密指标", "13900000000", "草稿"):
        assert secret not in body


def test_outsider_detail(world):
    client = api(world.cast.outsider)
    summary = client.get(f"/api/v1/needs/{world.summary.uuid}/")
    assert summary.status_code == 200
    assert set(summary.json()) == SUMMARY_KEYS
    assert SECRET_SUMMARY not in summary.content.decode()
    assert client.get(f"/api/v1/needs/{world.private.uuid}/").status_code == 404
    assert client.get(f"/api/v1/needs/{world.draft.uuid}/").status_code == 404
    assert client.get(f"/api/v1/needs/{world.public.uuid}/").json()["visibility"] == "full"


def test_outsider_search_does_not_reach_confidential_text(world):
    client = api(world.cast.outsider)
    assert _list(client, q="机密描述") == []
    assert _list(client, q="专有配方") == []
    assert _list(client, q="机密指标") == []
    # ...but the public summary is searchable, and shows as a summary.
    found = _list(client, q="包覆")
    assert [(i["uuid"], i["visibility"]) for i in found] == [(str(world.summary.uuid), "summary")]


def test_outsider_filters_do_not_reveal_hidden_columns(world):
    client = api(world.cast.outsider)
    # The summary need's budget (500–900) matches, but the outsider may not read it.
    uuids = {i["uuid"] for i in _list(client, budget_gte=400)}
    assert str(world.summary.uuid) not in uuids
    assert str(world.public.uuid) not in uuids  # 100–300
    assert str(world.summary.uuid) not in {
        i["uuid"] for i in _list(client, organization=str(world.cast.org.uuid))
    }


def test_outsider_export_respects_confidentiality(world):
    client = api(world.cast.outsider)
    response = client.get("/api/v1/needs/export.csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    text = response.content.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    by_uuid = {r["uuid"]: r for r in rows}
    assert set(by_uuid) == {str(world.public.uuid), str(world.summary.uuid)}
    assert by_uuid[str(world.summary.uuid)]["可见范围"] == "摘要"
    assert by_uuid[str(world.summary.uuid)]["问题描述"] == ""
    assert by_uuid[str(world.public.uuid)]["技术指标"] == "良率>=99.5%"
    for secret in (SECRET_SUMMARY, SECRET_PRIVATE, "机密场景", "13900000000", "草稿需求"):
        assert secret not in text


def test_member_sees_everything_of_its_organization(world):
    client = api(world.cast.member)
    items = _by_uuid(_list(client))
    assert set(items) == {
        str(n.uuid) for n in (world.public, world.summary, world.private, world.draft)
    }
    assert all(i["visibility"] == "full" for i in items.values())
    assert items[str(world.private.uuid)]["description"] == SECRET_PRIVATE
    assert {i["uuid"] for i in _list(client, q="专有配方")} == {str(world.private.uuid)}
    export = client.get("/api/v1/needs/export.csv").content.decode("utf-8-sig")
    assert SECRET_PRIVATE in export and SECRET_SUMMARY in export


def test_approved_party_with_accepted_terms_reads_the_full_text(world):
    client = api(world.approved_user)
    detail = client.get(f"/api/v1/needs/{world.summary.uuid}/").json()
    assert detail["visibility"] == "full"
    assert detail["description"] == SECRET_SUMMARY
    assert detail["external_ref"] == ""  # internal to the enterprise
    assert {i["uuid"] for i in _list(client, q="隔膜涂覆工艺")} == {str(world.summary.uuid)}
    assert client.get(f"/api/v1/needs/{world.private.uuid}/").status_code == 404
    export = client.get("/api/v1/needs/export.csv").content.decode("utf-8-sig")
    assert SECRET_SUMMARY in export and SECRET_PRIVATE not in export


def test_approval_without_accepted_terms_is_still_summary(world):
    client = api(world.unaccepted_user)
    response = client.get(f"/api/v1/needs/{world.summary.uuid}/")
    assert set(response.json()) == SUMMARY_KEYS
    assert _list(client, q="隔膜涂覆工艺") == []


def test_staff_sees_everything(world):
    client = api(world.staff)
    items = _by_uuid(_list(client))
    assert str(world.private.uuid) in items and str(world.draft.uuid) in items
    assert items[str(world.summary.uuid)]["description"] == SECRET_SUMMARY
    assert (
        client.get(f"/api/v1/needs/{world.private.uuid}/").json()["description"] == SECRET_PRIVATE
    )
    export = client.get("/api/v1/needs/export.csv").content.decode("utf-8-sig")
    assert SECRET_PRIVATE in export and SECRET_SUMMARY in export and "草稿需求" in export


# --- writes -----------------------------------------------------------------------------------------


def _payload(**overrides) -> dict:
    data = {
        "title": "氢燃料电池膜电极寿命提升",
        "summary": "寻求膜电极耐久性提升方案。",
        "description": "膜电极在动态工况下3000小时衰减超过10%。",
        "field": "new_energy.batteries",
        "region": "江苏省",
        "budget_min": "100",
        "budget_max": "200",
        "coop_modes": ["joint_dev", "commissioned"],
        "trl_min": 5,
        "indicators": [
            {"name": "寿命", "operator": ">=", "target": "5000", "unit": "h"},
            {"name": "衰减率", "operator": "<=", "target": "10", "unit": "%"},
        ],
    }
    data.update(overrides)
    return data


@pytest.fixture
def taxonomy(db):
    FieldFactory(code="new_energy.batteries", name="动力电池与储能")
    RegionFactory(name="江苏省")


def test_member_creates_updates_publishes_and_withdraws(cast, taxonomy):
    client = api(cast.member)
    response = client.post("/api/v1/needs/", _payload(), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "draft" and body["organization"]["uuid"] == str(cast.org.uuid)
    assert [i["name"] for i in body["indicators"]] == ["寿命", "衰减率"]
    need = Need.objects.get(uuid=body["uuid"])
    assert need.created_by == cast.member and need.indicators.count() == 2

    response = client.patch(
        f"/api/v1/needs/{need.uuid}/",
        {
            "title": "膜电极寿命提升",
            "indicators": [{"name": "寿命", "target": "8000", "unit": "h"}],
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["title"] == "膜电极寿命提升"
    assert [(i["name"], i["operator"], i["target"]) for i in response.json()["indicators"]] == [
        ("寿命", ">=", "8000")
    ]

    response = client.post(f"/api/v1/needs/{need.uuid}/publish/")
    assert response.status_code == 200 and response.json()["status"] == "published"
    response = client.post(
        f"/api/v1/needs/{need.uuid}/withdraw/", {"reason": "已自行解决"}, format="json"
    )
    assert response.status_code == 200 and response.json()["status"] == "withdrawn"
    need.refresh_from_db()
    assert need.status == Need.Status.WITHDRAWN


def test_outsider_cannot_write(world):
    client = api(world.cast.outsider)
    # Visible: 403. Invisible: 404, as if it did not exist.
    assert (
        client.patch(
            f"/api/v1/needs/{world.public.uuid}/", {"title": "x"}, format="json"
        ).status_code
        == 403
    )
    assert client.post(f"/api/v1/needs/{world.summary.uuid}/withdraw/").status_code == 403
    assert (
        client.patch(
            f"/api/v1/needs/{world.private.uuid}/", {"title": "x"}, format="json"
        ).status_code
        == 404
    )
    assert client.post(f"/api/v1/needs/{world.draft.uuid}/publish/").status_code == 404
    world.public.refresh_from_db()
    world.draft.refresh_from_db()
    assert world.public.title != "x" and world.draft.status == Need.Status.DRAFT


def test_create_for_an_organization_one_does_not_belong_to_is_403(cast, taxonomy):
    client = api(cast.outsider)
    response = client.post(
        "/api/v1/needs/", _payload(organization=str(cast.org.uuid)), format="json"
    )
    assert response.status_code == 403
    assert not Need.objects.exists()


def test_bad_budget_and_indicators_are_400_with_field_messages_and_nothing_written(cast, taxonomy):
    client = api(cast.owner)
    response = client.post(
        "/api/v1/needs/",
        _payload(
            budget_min="300",
            budget_max="100",
            indicators=[
                {"name": "良率", "operator": ">=", "target": "99.5", "unit": "%"},
                {"name": "功耗", "operator": "<=", "target": "很低"},
            ],
        ),
        format="json",
    )
    assert response.status_code == 400
    errors = response.json()
    assert set(errors) == {"budget_max", "indicators"}
    assert any(m.startswith("第2行") for m in errors["indicators"])
    assert not Need.objects.exists()


def test_type_errors_are_400_with_field_messages(cast, taxonomy):
    client = api(cast.owner)
    response = client.post(
        "/api/v1/needs/",
        _payload(field="no.such.field", trl_min=12, coop_modes=["barter"], budget_max="多少"),
        format="json",
    )
    assert response.status_code == 400
    assert {"field", "trl_min", "coop_modes", "budget_max"} <= set(response.json())
    assert not Need.objects.exists()


def test_update_with_bad_budget_changes_nothing(world):
    client = api(world.cast.owner)
    response = client.patch(
        f"/api/v1/needs/{world.public.uuid}/", {"budget_min": "999"}, format="json"
    )
    assert response.status_code == 400 and "budget_max" in response.json()
    world.public.refresh_from_db()
    assert world.public.budget_min == 100


# --- filters, ordering, pagination ------------------------------------------------------------------


def test_filters(world):
    other_field = FieldFactory(code="ic.design", name="芯片设计")
    chip = NeedFactory(
        organization=world.cast.org,
        created_by=world.cast.owner,
        field=other_field,
        title="芯片验证",
        trl_min=8,
        coop_modes=["transfer"],
        budget_min=None,
        budget_max=None,
        region=RegionFactory(name="广东省"),
    )
    client = api(world.cast.outsider)

    def uuids(**params):
        return {i["uuid"] for i in _list(client, **params)}

    assert uuids(field="ic") == {str(chip.uuid)}  # a top field matches its sub-fields
    assert uuids(field="ic.design") == {str(chip.uuid)}
    assert str(world.public.uuid) in uuids(field="new_energy")
    assert uuids(region="广东省") == {str(chip.uuid)}
    assert uuids(trl_gte=7) == {str(chip.uuid)}
    assert uuids(trl_lte=5) == {str(world.public.uuid)}
    assert uuids(coop_mode="transfer") == {str(chip.uuid)}
    assert uuids(budget_gte=250, budget_lte=400) == {str(world.public.uuid)}  # 100–300 overlaps
    assert uuids(status="closed") == set()
    assert str(chip.uuid) in uuids(organization=str(world.cast.org.uuid))
    assert uuids(q="锂电池") == {str(world.public.uuid)}  # a Chinese substring of the title
    assert uuids(q="锂电池 良率") == {str(world.public.uuid)}  # every term must match
    assert uuids(q="锂电池 芯片") == set()


def test_filter_errors_are_400(world):
    client = api(world.cast.outsider)
    assert client.get("/api/v1/needs/", {"status": "nonsense"}).status_code == 400
    assert client.get("/api/v1/needs/", {"trl_gte": "abc"}).status_code == 400


def test_cursor_pagination_walks_every_need_once(cast, django_assert_max_num_queries):
    field = FieldFactory()
    for n in range(25):
        NeedFactory(organization=cast.org, created_by=cast.owner, field=field, title=f"需求{n:02d}")
    client = api(cast.outsider)
    seen, url = [], "/api/v1/needs/?page_size=10&ordering=title"
    while url:
        with django_assert_max_num_queries(12):
            page = client.get(url).json()
        seen += [i["title"] for i in page["results"]]
        url = page["next"]
    assert seen == sorted(seen) and len(seen) == len(set(seen)) == 25


# --- authentication and throttling ------------------------------------------------------------------


def test_token_auth_and_revoked_token_is_401(cast):
    token, key = api_token_create(user=cast.owner, name="省平台")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/v1/needs/").status_code == 200
    api_token_revoke(token=token, user=cast.owner)
    assert client.get("/api/v1/needs/").status_code == 401
    assert APIClient().get("/api/v1/needs/").status_code == 401


def test_throttle_is_per_user(cast, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"user": "3/minute", "anon": "3/minute", "bulk": "1/minute"},
    }
    first = api(cast.owner)
    statuses = [first.get("/api/v1/needs/").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    # Another token of the same user shares the budget; another user has their own.
    response = api(cast.owner).get("/api/v1/needs/")
    assert response.status_code == 429 and int(response["Retry-After"]) >= 1
    assert api(cast.member).get("/api/v1/needs/").status_code == 200


def test_membership_of_several_organizations_requires_choosing_one(cast, taxonomy):
    MembershipFactory(
        user=cast.member, organization=OrganizationFactory(), role=Membership.Role.MEMBER
    )
    client = api(cast.member)
    response = client.post("/api/v1/needs/", _payload(), format="json")
    assert response.status_code == 400 and "organization" in response.json()
    response = client.post(
        "/api/v1/needs/", _payload(organization=str(cast.org.uuid)), format="json"
    )
    assert response.status_code == 201
