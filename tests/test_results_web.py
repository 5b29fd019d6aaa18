"""Research results and capability profiles through the web pages; then the rows."""

from __future__ import annotations

from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from core.models import AuditEvent
from matching.catalogue import services
from matching.models import CapabilityProfile, Patent, Result
from tests.factories import CapabilityProfileFactory, FieldFactory, ResultFactory
from tests.web_helpers import fast_passwords, result_form_data, taxonomy  # noqa: F401

pytestmark = pytest.mark.django_db

CREATE = reverse("matching:result-create")


@pytest.fixture(autouse=True)
def _taxonomy(db):
    return taxonomy()


@pytest.fixture
def delay():
    with mock.patch("matching.tasks.index_and_match.delay") as patched:
        yield patched


@pytest.fixture
def lab_client(client, cast):
    """Logged in as the owner of the institution (乙研究院) of the cast."""
    client.force_login(cast.outsider)
    return client


def status_url(result: Result, action: str) -> str:
    return reverse("matching:result-status", kwargs={"uuid": result.uuid, "action": action})


def test_institution_posts_draft_result_with_patents(lab_client, cast, delay):
    data = result_form_data(
        patents=[
            {
                "number": "ZL 202310123456.6",
                "kind": "invention",
                "status": "granted",
                "title": "浆料",
            },
            {"number": "2023SR0123456", "kind": "software", "status": "granted"},
        ]
    )
    response = lab_client.post(CREATE, data)
    result = Result.objects.get()
    assert response.status_code == 302
    assert result.status == Result.Status.DRAFT
    assert result.organization == cast.other_org
    assert result.keywords == ["锂电池隔膜", "陶瓷涂覆"]
    assert result.application_fields == ["动力电池", "储能"]
    assert list(result.patents.order_by("id").values_list("number", "kind")) == [
        ("202310123456.6", "invention"),
        ("2023SR0123456", "software"),
    ]
    assert AuditEvent.objects.get(action="result.create").actor == cast.outsider
    delay.assert_not_called()


@pytest.mark.parametrize(
    ("patents", "message"),
    [
        ([{"number": "202310123456.1"}], "第1行：专利申请号“202310123456.1”的校验位不正确"),
        (
            [{"number": "202310123456.6"}, {"number": "CN2023-1234"}],
            "第2行：专利申请号“CN2023-1234”格式不正确",
        ),
        (
            [{"number": "2023SR12", "kind": "software"}],
            "第1行：软件著作权登记号“2023SR12”格式不正确",
        ),
        ([{"number": "", "title": "只有名称"}], "第1行：请填写申请号或登记号。"),
        (
            [{"number": "202310123456.6"}, {"number": "ZL202310123456.6"}],
            "第2行：申请号“202310123456.6”重复",
        ),
    ],
)
def test_bad_patent_rows_are_form_errors(lab_client, patents, message):
    response = lab_client.post(CREATE, result_form_data(patents=patents))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Result.objects.exists() and not Patent.objects.exists()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"trl": "0"}, "成熟度（TRL）应为1到9之间的整数"),
        ({"trl": "10"}, "成熟度（TRL）应为1到9之间的整数"),
        ({"price_min": "300", "price_max": "100"}, "意向价格上限不能低于下限"),
        ({"price_min": "-1"}, "意向价格不能为负数"),
        ({"abstract": ""}, "该字段是必填项"),
    ],
)
def test_bad_result_fields_are_form_errors(lab_client, overrides, message):
    response = lab_client.post(CREATE, result_form_data(**overrides))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Result.objects.exists()


def test_validate_patent_rows_helper_for_the_importer():
    assert services.validate_patent_rows(
        [{"number": "202310123456.6"}, {}, {"number": "202310123456.1"}]
    ) == ["第3行：专利申请号“202310123456.1”的校验位不正确，请核对。"]


def test_enterprise_cannot_post_results(client, cast):
    client.force_login(cast.owner)
    response = client.get(CREATE, follow=True)
    assert "只有高校、科研院所的成员可以发布成果和研发能力" in response.content.decode()


def test_publish_enqueues_matching_and_withdraw_is_audited(
    lab_client, cast, delay, django_capture_on_commit_callbacks
):
    result = ResultFactory(organization=cast.other_org, status=Result.Status.DRAFT)
    with django_capture_on_commit_callbacks(execute=True):
        lab_client.post(status_url(result, "publish"))
    result.refresh_from_db()
    assert result.status == Result.Status.PUBLISHED and result.published_at
    delay.assert_called_once_with("result", result.pk)
    with django_capture_on_commit_callbacks(execute=True):
        lab_client.post(status_url(result, "withdraw"), {"reason": "已转让"})
    result.refresh_from_db()
    assert result.status == Result.Status.WITHDRAWN
    events = AuditEvent.objects.filter(action="result.status").order_by("id")
    assert [(e.from_state, e.to_state, e.actor) for e in events] == [
        ("draft", "published", cast.outsider),
        ("published", "withdrawn", cast.outsider),
    ]
    assert events[1].reason == "已转让"
    assert delay.call_count == 2
    # Withdrawn is final.
    with pytest.raises(ValidationError):
        services.result_publish(result=result, actor=cast.outsider)


def test_unverified_institution_cannot_publish(lab_client, cast, delay):
    cast.other_org.verified_at = None
    cast.other_org.save()
    result = ResultFactory(organization=cast.other_org, status=Result.Status.DRAFT)
    response = lab_client.post(status_url(result, "publish"), follow=True)
    assert "机构尚未通过平台认证，认证后才能发布成果。" in response.content.decode()
    result.refresh_from_db()
    assert result.status == Result.Status.DRAFT
    delay.assert_not_called()


def test_edit_published_result_rematches(
    lab_client, cast, delay, django_capture_on_commit_callbacks
):
    result = ResultFactory(organization=cast.other_org)
    url = reverse("matching:result-edit", kwargs={"uuid": result.uuid})
    assert 'value="高镍正极、包覆、循环寿命"' in lab_client.get(url).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = lab_client.post(url, result_form_data(title="改进后的浆料"))
    assert response.status_code == 302
    result.refresh_from_db()
    assert result.title == "改进后的浆料"
    assert result.patents.count() == 1
    delay.assert_called_once_with("result", result.pk)


def test_draft_result_is_404_for_outsiders(client, cast):
    result = ResultFactory(organization=cast.other_org, status=Result.Status.DRAFT)
    assert client.get(result.get_absolute_url()).status_code == 404
    client.force_login(cast.member)
    assert client.get(result.get_absolute_url()).status_code == 404
    client.force_login(cast.outsider)
    html = client.get(result.get_absolute_url()).content.decode()
    assert result.title in html and "变更记录" not in html  # factory rows have no audit yet


def test_published_result_is_public_with_patents(client, cast):
    result = ResultFactory(organization=cast.other_org)
    result.patents.create(number="202310123456.6", kind="invention", status="granted")
    html = client.get(result.get_absolute_url()).content.decode()
    assert result.title in html and "202310123456.6" in html
    assert "匹配的企业需求" not in html and "编辑" not in html


# --- capability profiles ----------------------------------------------------------------------------


def test_capability_create_edit_delete(lab_client, cast, delay, django_capture_on_commit_callbacks):
    data = {
        "title": "电化学储能材料研究平台",
        "fields_": ["new_energy", "new_energy.batteries"],
        "description": "正负极材料、固态电解质",
        "team": "教授3人",
        "equipment": "",
        "past_projects": "",
        "is_published": "on",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = lab_client.post(reverse("matching:capability-create"), data)
    profile = CapabilityProfile.objects.get()
    assert response.status_code == 302 and response["Location"] == profile.get_absolute_url()
    assert sorted(profile.fields.values_list("code", flat=True)) == [
        "new_energy",
        "new_energy.batteries",
    ]
    delay.assert_called_once_with("capability", profile.pk)

    edit = reverse("matching:capability-edit", kwargs={"uuid": profile.uuid})
    lab_client.post(edit, {**data, "title": "储能平台", "is_published": ""})
    profile.refresh_from_db()
    assert profile.title == "储能平台" and not profile.is_published

    html = lab_client.get(reverse("matching:dashboard")).content.decode()
    assert "储能平台" in html and "未公开" in html

    lab_client.post(reverse("matching:capability-delete", kwargs={"uuid": profile.uuid}))
    assert not CapabilityProfile.objects.exists()
    assert AuditEvent.objects.filter(action="capability.delete").exists()


def test_capability_requires_title_and_description(lab_client):
    response = lab_client.post(reverse("matching:capability-create"), {"title": ""})
    assert response.status_code == 400
    assert not CapabilityProfile.objects.exists()


def test_unpublished_capability_is_404_for_others(client, cast):
    profile = CapabilityProfileFactory(organization=cast.other_org, is_published=False)
    profile.fields.add(FieldFactory())
    assert client.get(profile.get_absolute_url()).status_code == 404
    client.force_login(cast.member)
    assert client.get(profile.get_absolute_url()).status_code == 404
    edit = reverse("matching:capability-edit", kwargs={"uuid": profile.uuid})
    assert client.get(edit).status_code == 404
    client.force_login(cast.outsider)
    assert profile.title in client.get(profile.get_absolute_url()).content.decode()


def test_enterprise_cannot_register_capability(cast):
    with pytest.raises(ValidationError) as exc:
        services.capability_create(
            actor=cast.owner, organization=cast.org, data={"title": "x", "description": "y"}
        )
    assert "organization" in exc.value.message_dict
