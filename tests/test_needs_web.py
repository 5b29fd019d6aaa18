"""Posting, editing and the lifecycle of needs through the web pages; then the rows."""

from __future__ import annotations

from unittest import mock

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from core.models import AuditEvent
from matching.catalogue import services
from matching.models import Need, NeedIndicator
from tests.factories import NeedFactory, NeedIndicatorFactory
from tests.web_helpers import fast_passwords, need_form_data, taxonomy  # noqa: F401

pytestmark = pytest.mark.django_db

CREATE = reverse("matching:need-create")


@pytest.fixture(autouse=True)
def _taxonomy(db):
    return taxonomy()


@pytest.fixture
def delay():
    with mock.patch("matching.tasks.index_and_match.delay") as patched:
        yield patched


def status_url(need: Need, action: str) -> str:
    return reverse("matching:need-status", kwargs={"uuid": need.uuid, "action": action})


def audit_for(need: Need, action: str | None = None):
    qs = AuditEvent.objects.filter(target_type="matching.need", target_id=str(need.pk))
    return qs.filter(action=action) if action else qs


# --- create and edit --------------------------------------------------------------------------------


def test_member_posts_draft_need_with_indicator_rows(client, cast, delay):
    client.force_login(cast.member)
    response = client.post(CREATE, need_form_data())
    need = Need.objects.get()
    assert response.status_code == 302
    assert response["Location"] == need.get_absolute_url()
    assert need.status == Need.Status.DRAFT
    assert need.organization == cast.org
    assert need.created_by == cast.member
    assert need.coop_modes == ["joint_dev", "commissioned"]
    assert need.published_at is None
    rows = list(need.indicators.values_list("name", "operator", "target", "target_max", "unit"))
    assert rows == [
        ("透气度增幅", "<=", "15", "", "%"),
        ("热收缩率", "range", "1", "3", "%"),
    ]
    event = audit_for(need, "need.create").get()
    assert event.actor == cast.member and event.to_state == "draft"
    delay.assert_not_called()


def test_save_and_publish_enqueues_matching_after_commit(
    client, cast, delay, django_capture_on_commit_callbacks
):
    client.force_login(cast.owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(CREATE, need_form_data(publish="1"))
    need = Need.objects.get()
    assert response.status_code == 302
    assert need.status == Need.Status.PUBLISHED
    assert need.published_at is not None
    delay.assert_called_once_with("need", need.pk)
    event = audit_for(need, "need.status").get()
    assert (event.actor, event.from_state, event.to_state) == (cast.owner, "draft", "published")


def test_publish_is_scheduled_only_on_commit(cast, delay, django_capture_on_commit_callbacks):
    need = NeedFactory(organization=cast.org, status=Need.Status.DRAFT, published_at=None)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.need_publish(need=need, actor=cast.owner)
    delay.assert_not_called()
    assert len(callbacks) == 1
    callbacks[0]()
    delay.assert_called_once_with("need", need.pk)


def test_edit_replaces_indicators_and_rematches_published_need(
    client, cast, delay, django_capture_on_commit_callbacks
):
    need = NeedFactory(organization=cast.org, created_by=cast.owner)
    NeedIndicatorFactory(need=need, name="旧指标")
    client.force_login(cast.member)
    data = need_form_data(
        title="高镍正极循环寿命（修订）",
        indicators=[{"name": "循环次数", "operator": ">=", "target": "1500", "unit": "次"}],
    )
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("matching:need-edit", kwargs={"uuid": need.uuid}), data)
    assert response.status_code == 302
    need.refresh_from_db()
    assert need.title == "高镍正极循环寿命（修订）"
    assert list(need.indicators.values_list("name", flat=True)) == ["循环次数"]
    delay.assert_called_once_with("need", need.pk)
    event = audit_for(need, "need.update").get()
    assert "title" in event.data["fields"] and "indicators" in event.data["fields"]


def test_edit_form_shows_existing_indicators(client, cast):
    need = NeedFactory(organization=cast.org)
    NeedIndicatorFactory(need=need, name="容量保持率", target="80")
    client.force_login(cast.member)
    html = client.get(reverse("matching:need-edit", kwargs={"uuid": need.uuid})).content.decode()
    assert 'value="容量保持率"' in html
    assert 'name="indicators-TOTAL_FORMS" value="2"' in html  # the row plus one empty


def test_institution_member_cannot_post_a_need(client, cast):
    client.force_login(cast.outsider)  # owner of an institution
    response = client.get(CREATE, follow=True)
    assert "只有企业机构的成员可以发布技术需求" in response.content.decode()
    with pytest.raises(ValidationError) as exc:
        services.need_create(
            actor=cast.outsider,
            organization=cast.other_org,
            data={"title": "x", "description": "y", "field": "new_energy.batteries"},
        )
    assert "organization" in exc.value.message_dict


def test_non_member_cannot_create_for_an_organization(cast):
    with pytest.raises(PermissionDenied):
        services.need_create(
            actor=cast.outsider,
            organization=cast.org,
            data={"title": "x", "description": "y", "field": "new_energy.batteries"},
        )
    assert not Need.objects.exists()


def test_outsider_gets_404_on_edit_and_status_change(client, cast):
    need = NeedFactory(organization=cast.org)
    client.force_login(cast.outsider)
    assert client.get(reverse("matching:need-edit", kwargs={"uuid": need.uuid})).status_code == 404
    assert client.post(status_url(need, "withdraw")).status_code == 404
    need.refresh_from_db()
    assert need.status == Need.Status.PUBLISHED
    assert not audit_for(need).exists()


# --- form validation: clear errors, nothing written -------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"budget_min": "500", "budget_max": "100"}, "预算上限不能低于下限"),
        ({"budget_min": "-5"}, "预算不能为负数"),
        ({"trl_min": "0"}, "成熟度（TRL）应为1到9之间的整数"),
        ({"trl_min": "10"}, "成熟度（TRL）应为1到9之间的整数"),
        ({"title": ""}, "该字段是必填项"),
        ({"confidentiality": "summary", "summary": ""}, "选择“摘要公开”时必须填写公开摘要"),
        ({"contact_email": "not-an-email"}, "请输入合法的邮件地址"),
    ],
)
def test_invalid_need_fields_are_form_errors(client, cast, overrides, message):
    client.force_login(cast.member)
    response = client.post(CREATE, need_form_data(**overrides))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Need.objects.exists()
    assert not AuditEvent.objects.filter(target_type="matching.need").exists()


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([{"name": "良率", "operator": ">=", "target": ""}], "第1行：请填写目标值。"),
        (
            [
                {"name": "良率", "operator": ">=", "target": "99"},
                {"name": "厚度", "operator": "range", "target": "5", "unit": "μm"},
            ],
            "第2行：区间指标须填写上限。",
        ),
        ([{"name": "良率", "operator": ">=", "target": "很高"}], "第1行：目标值应为数字。"),
        ([{"name": "", "operator": ">=", "target": "1"}], "第1行：请填写指标名称。"),
        (
            [{"name": "厚度", "operator": "range", "target": "9", "target_max": "5"}],
            "第1行：上限不能小于目标值。",
        ),
    ],
)
def test_invalid_indicator_rows_are_reported_by_row(client, cast, rows, message):
    client.force_login(cast.member)
    response = client.post(CREATE, need_form_data(indicators=rows))
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Need.objects.exists()
    assert not NeedIndicator.objects.exists()


def test_unknown_indicator_operator_is_refused(client, cast):
    client.force_login(cast.member)
    response = client.post(
        CREATE, need_form_data(indicators=[{"name": "良率", "operator": "!=", "target": "1"}])
    )
    assert response.status_code == 400
    assert "选择一个有效的选项" in response.content.decode()
    assert not Need.objects.exists()
    # The importer gets the same rule, with the row number.
    errors = services.validate_indicator_rows(
        [
            {"name": "a", "operator": ">=", "target": "1"},
            {"name": "b", "operator": "!=", "target": "1"},
        ]
    )
    assert errors == ["第2行：关系“!=”无效，应为 ≥、≤、>、<、= 或 区间。"]


def test_service_reports_every_problem_at_once_and_writes_nothing(cast):
    with pytest.raises(ValidationError) as exc:
        services.need_create(
            actor=cast.owner,
            organization=cast.org,
            data={
                "title": "x",
                "description": "y",
                "field": "no-such-field",
                "region": "火星",
                "coop_modes": "合作开发、以物易物",
                "budget_min": 10,
                "budget_max": 5,
            },
            indicators=[{"name": "良率", "operator": "range", "target": "1"}],
        )
    errors = exc.value.message_dict
    assert set(errors) >= {"field", "region", "coop_modes", "budget_max", "indicators"}
    assert errors["indicators"] == ["第1行：区间指标须填写上限。"]
    assert not Need.objects.exists()


def test_service_accepts_codes_labels_and_names(cast):
    need = services.need_create(
        actor=cast.owner,
        organization=cast.org,
        data={
            "title": "x",
            "description": "y",
            "field": "new_energy.batteries",
            "region": "江苏",
            "coop_modes": "合作开发，技术许可",
            "budget_min": "10",
            "trl_min": "4",
        },
        indicators=[{"name": "良率", "operator": "≥", "target": "99.5", "unit": "%"}],
    )
    need.refresh_from_db()
    assert need.region.name == "江苏省"
    assert need.coop_modes == ["joint_dev", "license"]
    assert need.trl_min == 4
    assert need.indicators.get().operator == ">="


# --- lifecycle --------------------------------------------------------------------------------------


def test_unverified_organization_cannot_publish(client, cast, delay):
    cast.org.verified_at = None
    cast.org.save()
    need = NeedFactory(organization=cast.org, status=Need.Status.DRAFT, published_at=None)
    client.force_login(cast.owner)
    response = client.post(status_url(need, "publish"), follow=True)
    assert "机构尚未通过平台认证，认证后才能发布需求。" in response.content.decode()
    need.refresh_from_db()
    assert need.status == Need.Status.DRAFT
    assert not audit_for(need, "need.status").exists()
    delay.assert_not_called()


def test_draft_publish_withdraw_with_audit_trail(
    client, cast, delay, django_capture_on_commit_callbacks
):
    need = NeedFactory(organization=cast.org, status=Need.Status.DRAFT, published_at=None)
    client.force_login(cast.member)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(status_url(need, "publish"))
        client.post(status_url(need, "withdraw"), {"reason": "需求已由内部团队解决"})
    need.refresh_from_db()
    assert need.status == Need.Status.WITHDRAWN
    events = list(audit_for(need, "need.status").order_by("id"))
    assert [(e.from_state, e.to_state) for e in events] == [
        ("draft", "published"),
        ("published", "withdrawn"),
    ]
    assert all(e.actor == cast.member for e in events)
    assert events[1].reason == "需求已由内部团队解决"
    assert delay.call_args_list == [mock.call("need", need.pk), mock.call("need", need.pk)]
    # The history is on the page, for members.
    html = client.get(need.get_absolute_url()).content.decode()
    assert "需求已由内部团队解决" in html and "变更记录" in html


def test_close_published_need(client, cast, delay):
    need = NeedFactory(organization=cast.org)
    client.force_login(cast.owner)
    client.post(status_url(need, "close"), {"reason": "已签约"})
    need.refresh_from_db()
    assert need.status == Need.Status.CLOSED
    assert audit_for(need, "need.status").get().reason == "已签约"


def test_illegal_transition_is_refused(client, cast, delay):
    need = NeedFactory(organization=cast.org, status=Need.Status.WITHDRAWN)
    client.force_login(cast.owner)
    response = client.post(status_url(need, "publish"), follow=True)
    assert "需求不能从“已撤回”变为“已发布”。" in response.content.decode()
    need.refresh_from_db()
    assert need.status == Need.Status.WITHDRAWN
    assert not audit_for(need).exists()
    with pytest.raises(ValidationError):
        services.need_set_status(need=need, actor=cast.owner, to_status=Need.Status.DRAFT)
    draft = NeedFactory(organization=cast.org, status=Need.Status.DRAFT)
    with pytest.raises(ValidationError):
        services.need_set_status(need=draft, actor=cast.owner, to_status=Need.Status.MATCHED)
    delay.assert_not_called()


def test_withdrawn_need_cannot_be_edited(client, cast):
    need = NeedFactory(organization=cast.org, status=Need.Status.WITHDRAWN)
    client.force_login(cast.owner)
    response = client.post(
        reverse("matching:need-edit", kwargs={"uuid": need.uuid}), need_form_data(), follow=True
    )
    assert "已关闭或已撤回的需求不能再编辑" in response.content.decode()
    need.refresh_from_db()
    assert need.title != "锂电池隔膜涂覆工艺优化"


def test_staff_may_change_any_need(client, cast, delay, django_user_model):
    staff = django_user_model.objects.create_user("staff@example.cn", "pw-123456789", is_staff=True)
    need = NeedFactory(organization=cast.org)
    client.force_login(staff)
    client.post(status_url(need, "close"))
    need.refresh_from_db()
    assert need.status == Need.Status.CLOSED
    assert audit_for(need, "need.status").get().actor == staff


# --- pages ------------------------------------------------------------------------------------------


def test_draft_is_404_for_outsiders_and_anonymous(client, cast):
    need = NeedFactory(organization=cast.org, status=Need.Status.DRAFT)
    assert client.get(need.get_absolute_url()).status_code == 404
    client.force_login(cast.outsider)
    assert client.get(need.get_absolute_url()).status_code == 404
    client.force_login(cast.member)
    assert client.get(need.get_absolute_url()).status_code == 200


def test_history_and_matches_only_for_members(client, cast):
    need = NeedFactory(organization=cast.org)
    services.need_update(need=need, actor=cast.owner, data={"title": "改过的标题"})
    client.force_login(cast.outsider)
    html = client.get(need.get_absolute_url()).content.decode()
    assert "变更记录" not in html and 'id="matches"' not in html
    client.force_login(cast.member)
    html = client.get(need.get_absolute_url()).content.decode()
    assert "变更记录" in html and 'id="matches"' in html


def test_dashboard_lists_own_needs_with_status(client, cast):
    NeedFactory(organization=cast.org, title="自己的草稿", status=Need.Status.DRAFT)
    NeedFactory(title="别人的需求")
    client.force_login(cast.member)
    html = client.get(reverse("matching:dashboard")).content.decode()
    assert "自己的草稿" in html and "草稿" in html
    assert "别人的需求" not in html


def test_service_treats_empty_import_cells_as_defaults(cast):
    need = services.need_create(
        actor=cast.owner,
        organization=cast.org,
        data={
            "title": "x",
            "description": "y",
            "field": "new_energy.batteries",
            "scenario": None,
            "coop_modes": None,
            "budget_min": None,
            "region": None,
            "funding_mode": None,
        },
    )
    need.refresh_from_db()
    assert (need.scenario, need.coop_modes, need.budget_min) == ("", [], None)
    assert need.funding_mode == Need.FundingMode.NEGOTIABLE
