"""Property-based input tests of the API's write endpoints: whatever a client sends, the answer is
2xx or 4xx, never 5xx, and a 4xx writes nothing.

Bodies are drawn by Hypothesis from each endpoint's own field names with values of every JSON type,
including text PostgreSQL cannot store (NUL bytes, lone surrogates), huge numbers and deep nesting,
sent as JSON and as multipart form data.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from core.models import AuditEvent
from matching.models import CapabilityProfile, Need, NeedIndicator, Result
from tests.factories import FieldFactory, MembershipFactory, NeedFactory, OrganizationFactory

pytestmark = pytest.mark.django_db

EXAMPLES = 40
PROPERTY_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

NEED_FIELDS = [
    "title",
    "summary",
    "description",
    "scenario",
    "field",
    "region",
    "budget_min",
    "budget_max",
    "coop_modes",
    "trl_min",
    "deadline",
    "confidentiality",
    "indicators",
    "contact_email",
    "organization",
    "status",
]
RESULT_FIELDS = [
    "title",
    "abstract",
    "keywords",
    "field",
    "trl",
    "transfer_modes",
    "price_min",
    "price_max",
    "patents",
    "application_fields",
    "organization",
]
CAPABILITY_FIELDS = ["title", "description", "team", "equipment", "fields", "is_published"]

# Text that is valid for a form but not for PostgreSQL, or merely awkward.
NASTY_TEXT = st.sampled_from(
    ["", " ", "\x00", "a\x00b", "\ud800", '=HYPERLINK("x")', "x" * 70_000, "🙂", "<script>"]
)
TEXT = st.one_of(NASTY_TEXT, st.text(max_size=40))
SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=False, allow_infinity=False),
    TEXT,
)
VALUE = st.recursive(
    SCALAR,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


def bodies(fields: list[str]):
    return st.dictionaries(st.sampled_from(fields), VALUE, max_size=len(fields))


# Form data travels as UTF-8 bytes, which cannot carry a lone surrogate.
FORM_TEXT = TEXT.filter(lambda text: "\ud800" not in text).map(
    lambda text: text.encode("utf-8", "replace").decode("utf-8")
)


def form_bodies(fields: list[str]):
    """Multipart form data: every value is text (or a list of text)."""
    return st.dictionaries(
        st.sampled_from(fields),
        st.one_of(FORM_TEXT, st.lists(FORM_TEXT, max_size=2)),
        max_size=len(fields),
    )


def _counts() -> tuple[int, ...]:
    return (
        Need.objects.count(),
        NeedIndicator.objects.count(),
        Result.objects.count(),
        CapabilityProfile.objects.count(),
        AuditEvent.objects.count(),
    )


@pytest.fixture
def api(db):
    org = OrganizationFactory()
    FieldFactory(code="materials", name="材料")
    user = MembershipFactory(organization=org).user
    client = APIClient()
    client.force_authenticate(user)
    need = NeedFactory(organization=org, created_by=user)
    return client, need


def _json_or_skip(body: dict) -> str | None:
    try:
        return json.dumps(body)
    except (TypeError, ValueError):
        return None


def check(response, before: tuple[int, ...], what: str) -> None:
    assert response.status_code < 500, (what, response.status_code)
    if 400 <= response.status_code < 500:
        assert _counts() == before, (what, response.status_code, "a 4xx wrote rows")
        if response.status_code == 400 and response.get("Content-Type", "").startswith(
            "application/json"
        ):
            assert isinstance(response.json(), dict | list), what


def send_json(client, method: str, url: str, body: dict) -> None:
    data = _json_or_skip(body)
    if data is None:
        return
    before = _counts()
    response = getattr(client, method)(url, data=data, content_type="application/json")
    check(response, before, f"{method.upper()} {url} {data[:200]}")


def send_form(client, method: str, url: str, body: dict) -> None:
    before = _counts()
    response = getattr(client, method)(url, data=body, format="multipart")
    check(response, before, f"{method.upper()} {url} (multipart) {body!r:.200}")


@PROPERTY_SETTINGS
@given(body=bodies(NEED_FIELDS))
def test_need_create_never_fails_with_a_server_error(api, body):
    send_json(api[0], "post", "/api/v1/needs/", body)


@PROPERTY_SETTINGS
@given(body=bodies(NEED_FIELDS))
def test_need_update_never_fails_with_a_server_error(api, body):
    client, need = api
    send_json(client, "patch", f"/api/v1/needs/{need.uuid}/", body)
    send_json(client, "put", f"/api/v1/needs/{need.uuid}/", body)


@PROPERTY_SETTINGS
@given(body=form_bodies(NEED_FIELDS))
def test_need_update_as_form_data_never_fails_with_a_server_error(api, body):
    client, need = api
    send_form(client, "patch", f"/api/v1/needs/{need.uuid}/", body)


@PROPERTY_SETTINGS
@given(body=bodies(RESULT_FIELDS))
def test_result_create_never_fails_with_a_server_error(api, body):
    send_json(api[0], "post", "/api/v1/results/", body)


@PROPERTY_SETTINGS
@given(body=bodies(CAPABILITY_FIELDS))
def test_capability_create_never_fails_with_a_server_error(api, body):
    send_json(api[0], "post", "/api/v1/capabilities/", body)


@PROPERTY_SETTINGS
@given(body=form_bodies(CAPABILITY_FIELDS))
def test_capability_create_as_form_data_never_fails_with_a_server_error(api, body):
    send_form(api[0], "post", "/api/v1/capabilities/", body)
