"""A client generated from ``/api/schema/`` works without hand edits (issue 13): the schema is fed
to openapi-python-client, the generated package is imported as it is, and it posts a need,
publishes it and reads its matches from a live server, with field errors arriving as the documented
``FieldErrors`` shape and every answer parsed into the generated models."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest
from django.core.serializers.json import DjangoJSONEncoder
from drf_spectacular.generators import SchemaGenerator

from accounts.services import api_token_create
from matching.matcher import pipeline
from matching.models import Need
from tests.factories import MembershipFactory
from tests.test_matching_pipeline import make_results

pytestmark = pytest.mark.django_db(transaction=True)

PACKAGE = "tech_transfer_matchmaking_api_client"


@pytest.fixture
def generated_client(tmp_path, monkeypatch):
    schema = SchemaGenerator().get_schema(request=None, public=True)
    schema_file = tmp_path / "schema.json"
    schema_file.write_text(json.dumps(schema, cls=DjangoJSONEncoder), encoding="utf-8")
    out = tmp_path / "client"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "openapi_python_client",
            "generate",
            "--path",
            str(schema_file),
            "--output-path",
            str(out),
            "--meta",
            "setup",
        ],
        check=True,
        capture_output=True,
        cwd=tmp_path,
    )
    monkeypatch.syspath_prepend(str(out))
    yield importlib.import_module(PACKAGE)
    for name in [m for m in sys.modules if m == PACKAGE or m.startswith(PACKAGE + ".")]:
        del sys.modules[name]


def test_a_generated_client_posts_a_need_and_reads_its_matches(generated_client, live_server):
    results = make_results()
    for result in results:
        pipeline.index_and_match(kind="result", object_id=result.pk)
    member = MembershipFactory().user
    _, key = api_token_create(user=member, name="generated client")

    api = importlib.import_module(f"{PACKAGE}.api.v1")
    models = importlib.import_module(f"{PACKAGE}.models")
    needs_create = importlib.import_module(f"{api.__name__}.v1_needs_create")
    needs_publish = importlib.import_module(f"{api.__name__}.v1_needs_publish_create")
    needs_matches = importlib.import_module(f"{api.__name__}.v1_needs_matches_list")
    client = generated_client.AuthenticatedClient(
        base_url=live_server.url, token=key, prefix="Token", raise_on_unexpected_status=True
    )

    refused = needs_create.sync(
        client=client, body=models.NeedInputRequest(title="", description="x", field="nope")
    )
    assert isinstance(refused, models.FieldErrors)
    assert {"title", "field"} <= set(refused.additional_properties)
    assert not Need.objects.exists()

    need = needs_create.sync(
        client=client,
        body=models.NeedInputRequest(
            title="三元电池高温循环衰减快",
            description="我司NCM811电芯在45℃下循环800次后容量保持率跌破80%，"
            "希望通过正极材料改性把循环寿命提升到1500次。",
            field="new_energy.batteries",
        ),
    )
    assert isinstance(need, models.NeedOutput), need
    published = needs_publish.sync(uuid=need.uuid, client=client)
    assert isinstance(published, models.NeedOutput)
    assert published.status == models.NeedStatusEnum.PUBLISHED

    # What the worker does after the publish commits.
    pipeline.index_and_match(kind="need", object_id=Need.objects.get(uuid=need.uuid).pk)
    matches = needs_matches.sync(uuid=need.uuid, client=client)
    assert matches and all(isinstance(m, models.MatchOutput) for m in matches)
    assert str(matches[0].candidate.uuid) == str(results[0].uuid)
    assert matches[0].explanation.fit
