"""The OpenAPI 3 schema generates and validates without a single warning, and Swagger UI renders
from locally served assets (drf-spectacular-sidecar), never a CDN."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from django.urls import include, path
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema

pytestmark = pytest.mark.django_db


def test_whole_schema_generates_without_warnings(tmp_path):
    GENERATOR_STATS.reset()
    # --fail-on-warn raises CommandError on any warning or error; --validate checks OpenAPI 3.
    call_command(
        "spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yaml")
    )
    text = (tmp_path / "schema.yaml").read_text(encoding="utf-8")
    for route in ("/api/v1/needs/", "/api/v1/needs/bulk/", "/api/v1/needs/export.csv"):
        assert f"{route}:" in text


def test_matching_api_schema_has_no_warnings():
    """The needs/results/capabilities part alone, so a problem elsewhere does not hide one here."""
    GENERATOR_STATS.reset()
    patterns = [path("api/v1/", include(("matching.catalogue.api.urls", "api"), namespace="api"))]
    schema = SchemaGenerator(patterns=patterns).get_schema(request=None, public=True)
    validate_schema(schema)
    assert not GENERATOR_STATS, dict(GENERATOR_STATS._warn_cache)
    paths = schema["paths"]
    assert {
        "/api/v1/needs/",
        "/api/v1/needs/{uuid}/",
        "/api/v1/needs/{uuid}/publish/",
        "/api/v1/needs/{uuid}/withdraw/",
        "/api/v1/needs/{uuid}/close/",
        "/api/v1/needs/{uuid}/renew/",
        "/api/v1/results/{uuid}/renew/",
        "/api/v1/needs/bulk/",
        "/api/v1/needs/export.csv",
        "/api/v1/results/",
        "/api/v1/results/{uuid}/publish/",
        "/api/v1/results/bulk/",
        "/api/v1/capabilities/",
        "/api/v1/capabilities/{uuid}/",
    } <= set(paths)
    # The list documents both shapes of a need, told apart by "visibility".
    item = schema["components"]["schemas"]["NeedItem"]
    assert item["discriminator"]["propertyName"] == "visibility"
    assert set(item["discriminator"]["mapping"]) == {"summary", "full"}
    list_params = {p["name"] for p in paths["/api/v1/needs/"]["get"]["parameters"]}
    assert {"q", "field", "region", "trl_gte", "budget_gte", "coop_mode", "cursor"} <= list_params


def test_schema_endpoint_serves_openapi(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    assert response.json()["openapi"].startswith("3.")


def test_swagger_ui_renders_with_local_assets(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in a for a in assets)
    assert not [a for a in assets if a.startswith(("http://", "https://", "//"))]
    bundle = next(a for a in assets if a.endswith("swagger-ui-bundle.js"))
    assert client.get(bundle).status_code == 200


# --- error responses (issue 13) ---------------------------------------------------------------------


def _operations(schema):
    for route, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield route, method.upper(), operation


def test_every_operation_documents_the_errors_it_can_answer():
    GENERATOR_STATS.reset()
    schema = SchemaGenerator().get_schema(request=None, public=True)
    for route, method, operation in _operations(schema):
        codes = set(operation["responses"])
        assert {"401", "403", "404", "429"} <= codes, (method, route, codes)
        if method in {"POST", "PUT", "PATCH", "DELETE"}:
            assert {"400", "409"} <= codes, (method, route, codes)
        assert "Retry-After" in operation["responses"]["429"]["headers"]
    errors = schema["components"]["schemas"]["Error"]
    assert set(errors["required"]) == {"detail", "code"}
    need_create = schema["paths"]["/api/v1/needs/"]["post"]["responses"]["400"]
    shapes = need_create["content"]["application/json"]["schema"]["anyOf"]
    assert {"$ref": "#/components/schemas/FieldErrors"} in shapes


def test_errors_answer_with_detail_and_code(client):
    response = client.get("/api/v1/needs/")
    assert response.status_code == 401
    assert set(response.json()) == {"detail", "code"}
    assert response.json()["code"] == "not_authenticated"


def test_an_unknown_api_path_is_a_json_404(client):
    for url in ("/api/v1/no-such-thing/", "/api/v1/needs/a.b/publish/"):
        response = client.post(url)
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"


def test_swagger_shows_examples_of_the_main_calls():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    paths = schema["paths"]
    need = paths["/api/v1/needs/"]["post"]["requestBody"]["content"]["application/json"]
    bid = paths["/api/v1/challenges/{uuid}/bids/"]["post"]["requestBody"]["content"]
    matches = paths["/api/v1/needs/{uuid}/matches/"]["get"]["responses"]["200"]["content"]
    for content in (need, bid["application/json"], matches["application/json"]):
        (example,) = content["examples"].values()
        assert example["value"]
    assert need["examples"]["发布一条技术需求（草稿）"]["value"]["field"] == "new_energy.batteries"


def test_a_number_where_the_schema_says_text_is_refused_and_changes_nothing(db):
    """DRF would read ``0`` as ``"0"``; a client sending the wrong type learns of it (issue 13)."""
    from rest_framework.test import APIClient

    from matching.models import MatchFeedback
    from tests.factories import MatchFactory, MembershipFactory, NeedFactory, RegionFactory

    need = NeedFactory()
    user = MembershipFactory(organization=need.organization).user
    match = MatchFactory(need=need)
    RegionFactory(name="江苏省")
    api = APIClient()
    api.force_authenticate(user)

    response = api.post(
        f"/api/v1/matches/{match.pk}/feedback/",
        {"verdict": "interested", "comment": 1},
        format="json",
    )
    assert response.status_code == 400
    assert list(response.json()) == ["comment"]
    assert not MatchFeedback.objects.exists()

    response = api.post("/api/v1/match/", {"text": "锂电池正极材料", "region": 0}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["region"]

    # Nor is a number a boolean (a live deep run found ``is_published: 0`` accepted).
    from tests.factories import CapabilityProfileFactory

    profile = CapabilityProfileFactory(organization=need.organization, is_published=True)
    response = api.patch(
        f"/api/v1/capabilities/{profile.uuid}/", {"is_published": 0}, format="json"
    )
    assert response.status_code == 400
    assert list(response.json()) == ["is_published"]
    profile.refresh_from_db()
    assert profile.is_published
    # Nor an integer (``false``) a uuid: DRF would read it as UUID(int=0).
    for value in (False, 0):
        response = api.patch(
            f"/api/v1/capabilities/{profile.uuid}/", {"organization": value}, format="json"
        )
        assert response.status_code == 400
        assert list(response.json()) == ["organization"]

    # An empty related field is not "clear it": null is, as the schema says.
    before = need.region_id
    response = api.patch(f"/api/v1/needs/{need.uuid}/", {"region": ""}, format="json")
    assert response.status_code == 400
    assert list(response.json()) == ["region"]
    need.refresh_from_db()
    assert need.region_id == before
    response = api.patch(f"/api/v1/needs/{need.uuid}/", {"region": "江苏省"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["region"] == "江苏省"
    response = api.patch(f"/api/v1/needs/{need.uuid}/", {"region": None}, format="json")
    assert response.status_code == 200
    assert response.json()["region"] is None


def test_challenge_items_say_which_shape_they_are():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    listed = schema["paths"]["/api/v1/challenges/"]["get"]["responses"]["200"]["content"]
    assert listed["application/json"]["schema"]["items"] == {
        "$ref": "#/components/schemas/ChallengeItem"
    }
    item = schema["components"]["schemas"]["ChallengeItem"]
    assert item["discriminator"]["propertyName"] == "visibility"
    assert set(item["discriminator"]["mapping"]) == {"summary", "full"}
    # The title is ASCII: client generators derive the package name from it.
    assert schema["info"]["title"].isascii()


def test_a_row_of_a_replaced_list_is_complete_in_a_patch_too(db):
    """PATCH replaces a bid's consortium or a need's indicators; a row missing a required field is
    a 400 naming it, not half a row handed to the service (a 500 before)."""
    from rest_framework.test import APIClient

    from tests.factories import BidFactory

    bid = BidFactory()
    api = APIClient()
    api.force_authenticate(bid.created_by)
    response = api.patch(
        f"/api/v1/bids/{bid.uuid}/",
        {"team": "新团队", "consortium": [{"role": "联合研发", "share": "30"}]},
        format="json",
    )
    assert response.status_code == 400
    # DRF reports a list's invalid rows by their index.
    assert response.json() == {"consortium": {"0": {"organization": ["该字段是必填项。"]}}}
    bid.refresh_from_db()
    assert bid.team != "新团队"

    need = bid.challenge.need
    api.force_authenticate(need.created_by)
    response = api.patch(
        f"/api/v1/needs/{need.uuid}/", {"indicators": [{"unit": "%"}]}, format="json"
    )
    assert response.status_code == 400
    assert set(response.json()["indicators"]["0"]) >= {"name", "target"}


def test_a_path_with_a_newline_is_a_json_404(client):
    for url in ("/api/v1/organizations/X%0A%C2%89/", "/api/v1/challenges/a%0Ab/downselect/"):
        response = client.patch(url, "-", content_type="application/json")
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
