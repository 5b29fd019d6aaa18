"""The API keeps its contract (issue 13): Schemathesis generates requests for every operation of
``/api/schema/`` and checks each answer against the schema: never a server error, only documented
status codes and content types, bodies valid against their documented schema, and invalid input
rejected. Once per role (an enterprise member, a lab member, an expert, platform staff), each with
its own API token, in the test database, where some path parameters name real objects of a small
world (a need, a result, a capability profile, a challenge with a bid, a match), so that the
operations answer more than 404.

The run in ``make test`` is short (``API_FUZZ_EXAMPLES``, default 5 per operation and phase); the
deep run is ``make api-fuzz`` (100 examples per operation, see docs/benchmarks.md).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field

import pytest
import schemathesis
from django.core.serializers.json import DjangoJSONEncoder as JSONEncoder
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.models import Membership, Organization
from accounts.services import api_token_create
from matching.models import Need
from matchmaker.wsgi import application
from tests.factories import (
    BidFactory,
    CapabilityProfileFactory,
    ChallengeFactory,
    ExpertProfileFactory,
    FieldFactory,
    MatchFactory,
    MembershipFactory,
    NeedFactory,
    OrganizationFactory,
    ResultFactory,
    UserFactory,
)

EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "5"))
# The coverage phase (boundary values and every invalid type, for each parameter) only in the deep run.
DEEP = EXAMPLES >= 100
ROLES = ["enterprise", "lab", "expert", "staff"]
CHECKS = [
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_conformance,
    negative_data_rejection,
]


@dataclass
class World:
    role: str
    token: str
    # First path segment after /api/v1/ → uuids (or ids) of real objects to put in its path.
    objects: dict[str, list[str]] = field(default_factory=dict)


def _build_world(role: str) -> World:
    field_ = FieldFactory(code="new_materials.polymers", name="高分子材料")
    enterprise = OrganizationFactory(name="甲公司")
    enterprise_user = MembershipFactory(organization=enterprise, role=Membership.Role.OWNER).user
    lab = OrganizationFactory(name="乙研究院", kind=Organization.Kind.INSTITUTION)
    lab_user = MembershipFactory(organization=lab, role=Membership.Role.OWNER).user
    expert = ExpertProfileFactory().user
    staff = UserFactory(is_staff=True)
    published = NeedFactory(organization=enterprise, created_by=enterprise_user, field=field_)
    draft = NeedFactory(
        organization=enterprise, created_by=enterprise_user, status=Need.Status.DRAFT
    )
    summary = NeedFactory(
        organization=enterprise,
        created_by=enterprise_user,
        confidentiality=Need.Confidentiality.SUMMARY,
    )
    result = ResultFactory(organization=lab, created_by=lab_user, field=field_)
    capability = CapabilityProfileFactory(organization=lab)
    challenge = ChallengeFactory(need=published)
    bid = BidFactory(challenge=challenge, organization=lab, created_by=lab_user)
    match = MatchFactory(need=published, result=result)
    user = {"enterprise": enterprise_user, "lab": lab_user, "expert": expert, "staff": staff}[role]
    _, key = api_token_create(user=user, name="schemathesis")
    return World(
        role=role,
        token=key,
        objects={
            "needs": [str(n.uuid) for n in (published, draft, summary)],
            "results": [str(result.uuid)],
            "capabilities": [str(capability.uuid)],
            "challenges": [str(challenge.uuid)],
            "bids": [str(bid.uuid)],
            "matches": [str(match.pk)],
            "organizations": [str(enterprise.uuid), str(lab.uuid)],
        },
    )


@pytest.fixture(params=ROLES)
def world(request, db, settings) -> World:
    # The world's users never log in with a password: no need to pay for PBKDF2.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return _build_world(request.param)


@pytest.fixture(autouse=True)
def _keep_test_connection():
    """Requests go straight to the WSGI application, whose end-of-request signal would close the
    test's database connection (and with it the test's transaction); Django's test client
    disconnects it the same way."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _load_schema():
    """The schema ``/api/schema/`` serves, generated in process (the test's requests go to the WSGI
    application; ``schemathesis.pytest.from_fixture`` does not run on pytest 9)."""
    generated = SchemaGenerator().get_schema(request=None, public=True)
    loaded = schemathesis.openapi.from_dict(json.loads(json.dumps(generated, cls=JSONEncoder)))
    loaded.app = application
    loaded.config.generation.update(modes=["positive", "negative"])
    loaded.config.phases.coverage.enabled = DEEP
    return loaded


schema = _load_schema()


def _point_at_real_objects(case, world: World) -> None:
    """About half of the cases (chosen by the generated values, so the run stays reproducible)
    name a real object instead of a random one."""
    parameters = case.path_parameters
    if not parameters or (case._meta and case._meta.is_negative_at(ParameterLocation.PATH)):
        # A path made invalid on purpose stays invalid: a real id there would turn the case into a
        # valid request that negative_data_rejection then reports as "invalid input accepted".
        return
    segment = case.path.removeprefix("/api/v1/").split("/", 1)[0]
    candidates = world.objects.get(segment)
    if not candidates:
        return
    digest = int(hashlib.sha256(repr(sorted(parameters.items())).encode()).hexdigest(), 16)
    if digest % 2:
        return
    name = "id" if "id" in parameters else "uuid"
    if name in parameters:
        parameters[name] = candidates[digest // 2 % len(candidates)]


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_answers_as_its_schema_says(case, world):
    _point_at_real_objects(case, world)
    case.call_and_validate(
        headers={"Authorization": f"Token {world.token}"},
        checks=CHECKS,
    )
