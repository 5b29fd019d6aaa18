"""The results and capability profiles API, and the bulk endpoints of needs and results."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.models import Membership
from accounts.services import api_token_create
from matching.models import CapabilityProfile, Need, Patent, Result
from tests.factories import (
    CapabilityProfileFactory,
    FieldFactory,
    MembershipFactory,
    NeedFactory,
    OrganizationFactory,
    RegionFactory,
    ResultFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def taxonomy(db):
    FieldFactory(code="new_energy.batteries", name="动力电池与储能")
    FieldFactory(code="ic.design", name="芯片设计")
    RegionFactory(name="江苏省")


def api(user) -> APIClient:
    _token, key = api_token_create(user=user, name="test")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def lab(cast):
    """cast.other_org is an institution; cast.outsider owns it. Here it is the lab."""
    return cast.other_org, cast.outsider


def _result(**overrides) -> dict:
    data = {
        "title": "固态电解质界面改性技术",
        "abstract": "通过原位聚合构建稳定界面，室温离子电导率达1 mS/cm。",
        "keywords": ["固态电池", "界面"],
        "field": "new_energy.batteries",
        "trl": 5,
        "transfer_modes": ["license"],
        "price_min": "50",
        "price_max": "80",
        "patents": [
            {
                "number": "202310123456.6",
                "kind": "invention",
                "status": "granted",
                "title": "一种方法",
            },
            {"number": "2023SR0123456", "kind": "software", "status": "granted"},
        ],
    }
    data.update(overrides)
    return data


# --- results ----------------------------------------------------------------------------------------


def test_lab_creates_and_publishes_a_result_with_patents(lab):
    org, user = lab
    client = api(user)
    response = client.post("/api/v1/results/", _result(), format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "draft"
    assert [p["number"] for p in body["patents"]] == ["202310123456.6", "2023SR0123456"]
    response = client.post(f"/api/v1/results/{body['uuid']}/publish/")
    assert response.status_code == 200 and response.json()["status"] == "published"
    assert Result.objects.get(uuid=body["uuid"]).patents.count() == 2


def test_bad_patent_number_is_400_and_nothing_written(lab):
    _org, user = lab
    response = api(user).post(
        "/api/v1/results/",
        _result(
            patents=[
                {"number": "202310123456.6", "kind": "invention"},
                {"number": "202310123456.7", "kind": "invention"},  # wrong check character
            ],
            price_min="90",
            price_max="80",
        ),
        format="json",
    )
    assert response.status_code == 400
    errors = response.json()
    assert set(errors) == {"patents", "price_max"}
    assert errors["patents"][0].startswith("第2行")
    assert not Result.objects.exists() and not Patent.objects.exists()


def test_draft_results_are_visible_only_to_their_organization(lab, cast):
    org, user = lab
    draft = ResultFactory(
        organization=org, created_by=user, status=Result.Status.DRAFT, published_at=None
    )
    published = ResultFactory(organization=org, created_by=user)
    outsider = api(cast.owner)
    assert outsider.get(f"/api/v1/results/{draft.uuid}/").status_code == 404
    assert {r["uuid"] for r in outsider.get("/api/v1/results/").json()["results"]} == {
        str(published.uuid)
    }
    # Visible but not theirs: 403; invisible: 404.
    assert (
        outsider.patch(
            f"/api/v1/results/{published.uuid}/", {"title": "x"}, format="json"
        ).status_code
        == 403
    )
    assert outsider.post(f"/api/v1/results/{draft.uuid}/publish/").status_code == 404
    mine = api(user).get("/api/v1/results/", {"mine": "true"}).json()["results"]
    assert {r["uuid"] for r in mine} == {str(draft.uuid), str(published.uuid)}


def test_result_filters_and_chinese_search(lab, cast):
    org, user = lab
    battery = ResultFactory(organization=org, created_by=user, title="锂电池隔膜涂覆新工艺", trl=7)
    chip = ResultFactory(
        organization=org,
        created_by=user,
        title="芯片验证平台",
        field=FieldFactory(code="ic.design"),
        trl=4,
        keywords=["形式验证"],
        transfer_modes=["transfer"],
        price_min=None,
        price_max=None,
    )
    client = api(cast.owner)

    def uuids(**params):
        response = client.get("/api/v1/results/", params)
        assert response.status_code == 200
        return {r["uuid"] for r in response.json()["results"]}

    assert uuids(q="锂电池") == {str(battery.uuid)}
    assert uuids(q="形式验证") == {str(chip.uuid)}  # keywords are searched
    assert uuids(field="ic") == {str(chip.uuid)}
    assert uuids(trl_gte=6) == {str(battery.uuid)}
    assert uuids(transfer_mode="transfer") == {str(chip.uuid)}
    assert uuids(price_gte=200) == {str(battery.uuid)}
    assert uuids(organization=str(org.uuid)) == {str(battery.uuid), str(chip.uuid)}


# --- capability profiles ----------------------------------------------------------------------------


def test_capability_crud(lab, cast):
    org, user = lab
    client = api(user)
    response = client.post(
        "/api/v1/capabilities/",
        {
            "title": "电化学储能材料平台",
            "description": "正负极材料与固态电解质研究。",
            "fields": ["new_energy.batteries"],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    uuid = response.json()["uuid"]
    assert [f["code"] for f in response.json()["fields"]] == ["new_energy.batteries"]
    response = client.patch(
        f"/api/v1/capabilities/{uuid}/", {"fields": ["ic.design"]}, format="json"
    )
    assert [f["code"] for f in response.json()["fields"]] == ["ic.design"]
    assert api(cast.owner).delete(f"/api/v1/capabilities/{uuid}/").status_code == 403
    hidden = CapabilityProfileFactory(organization=org, is_published=False)
    assert api(cast.owner).get(f"/api/v1/capabilities/{hidden.uuid}/").status_code == 404
    assert client.delete(f"/api/v1/capabilities/{uuid}/").status_code == 204
    assert not CapabilityProfile.objects.filter(uuid=uuid).exists()


def test_capability_bad_field_code_is_400(lab):
    _org, user = lab
    response = api(user).post(
        "/api/v1/capabilities/",
        {"title": "平台", "description": "描述", "fields": ["no.such"]},
        format="json",
    )
    assert response.status_code == 400 and "fields" in response.json()


# --- bulk -------------------------------------------------------------------------------------------


def _bulk_need(ref: str, **overrides) -> dict:
    item = {
        "external_ref": ref,
        "title": f"需求{ref}",
        "description": "问题描述",
        "field": "new_energy.batteries",
        "region": "江苏省",
        "budget_min": "10",
        "budget_max": "20",
        "indicators": [{"name": "良率", "operator": ">=", "target": "99", "unit": "%"}],
        "status": "published",
    }
    item.update(overrides)
    return item


def test_bulk_needs_import_all_then_update_idempotently(cast):
    client = api(cast.owner)
    items = [_bulk_need("P-1"), _bulk_need("P-2", status="draft")]
    response = client.post("/api/v1/needs/bulk/", items, format="json")
    assert response.status_code == 200, response.content
    assert (response.json()["created"], response.json()["updated"]) == (2, 0)
    assert Need.objects.get(external_ref="P-1").status == Need.Status.PUBLISHED
    assert Need.objects.get(external_ref="P-2").status == Need.Status.DRAFT

    items[1]["title"] = "改过的标题"
    response = client.post("/api/v1/needs/bulk/", items, format="json")
    assert (response.json()["created"], response.json()["updated"]) == (0, 2)
    assert Need.objects.filter(organization=cast.org).count() == 2
    assert Need.objects.get(external_ref="P-2").title == "改过的标题"
    assert Need.objects.get(external_ref="P-1").indicators.count() == 1


def test_bulk_needs_one_bad_row_imports_nothing(cast):
    client = api(cast.owner)
    items = [
        _bulk_need("P-1"),
        _bulk_need("P-2", budget_min="50", budget_max="20"),
        _bulk_need("P-3", indicators=[{"name": "功耗", "operator": "<=", "target": "低"}]),
        _bulk_need("P-4", trl_min=15),
        _bulk_need("P-1"),
    ]
    response = client.post("/api/v1/needs/bulk/", items, format="json")
    assert response.status_code == 400
    rows = {(e["row"], e["field"]) for e in response.json()["rows"]}
    assert rows == {(2, "budget_max"), (3, "indicators"), (4, "trl_min"), (5, "external_ref")}
    assert any(e["text"].startswith("第2行 budget_max：") for e in response.json()["rows"])
    assert not Need.objects.exists()


def test_bulk_requires_membership_and_a_list(cast):
    assert (
        api(cast.outsider)
        .post(f"/api/v1/needs/bulk/?organization={cast.org.uuid}", [_bulk_need("X")], format="json")
        .status_code
        == 403
    )
    assert api(cast.owner).post("/api/v1/needs/bulk/", {"a": 1}, format="json").status_code == 400
    assert not Need.objects.exists()


def test_bulk_results_with_bad_patent_imports_nothing(lab):
    org, user = lab
    client = api(user)
    good = {"external_ref": "R-1", **_result()}
    bad = {"external_ref": "R-2", **_result(patents=[{"number": "12345", "kind": "invention"}])}
    response = client.post("/api/v1/results/bulk/", [good, bad], format="json")
    assert response.status_code == 400
    assert [(e["row"], e["field"]) for e in response.json()["rows"]] == [(2, "patents")]
    assert not Result.objects.exists()
    response = client.post("/api/v1/results/bulk/", [good], format="json")
    assert response.status_code == 200 and response.json()["created"] == 1
    response = client.post("/api/v1/results/bulk/", [good], format="json")
    assert response.json()["updated"] == 1 and Result.objects.count() == 1


def test_bulk_for_one_of_several_organizations(cast):
    second = OrganizationFactory(name="戊公司")
    MembershipFactory(user=cast.owner, organization=second, role=Membership.Role.OWNER)
    client = api(cast.owner)
    assert client.post("/api/v1/needs/bulk/", [_bulk_need("Z")], format="json").status_code == 400
    response = client.post(
        f"/api/v1/needs/bulk/?organization={second.uuid}", [_bulk_need("Z")], format="json"
    )
    assert response.status_code == 200
    assert Need.objects.get(external_ref="Z").organization == second
    NeedFactory(
        organization=cast.org, created_by=cast.owner, external_ref="Z"
    )  # same ref, other org
    assert Need.objects.filter(external_ref="Z").count() == 2
