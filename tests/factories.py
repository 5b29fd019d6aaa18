from __future__ import annotations

import random

import factory
from django.utils import timezone

from accounts.models import ExpertProfile, Membership, Organization, User
from accounts.validators import CREDIT_CODE_ALPHABET, credit_code_check_char


def make_credit_code(prefix: str = "91", region: str = "320500") -> str:
    body = prefix + region + "".join(random.choices(CREDIT_CODE_ALPHABET, k=9))
    return body + credit_code_check_char(body)


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.cn")
    name = factory.Sequence(lambda n: f"用户{n}")
    email_confirmed_at = factory.LazyFunction(timezone.now)
    password = factory.PostGenerationMethodCall("set_password", "pass-word-123")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class OrganizationFactory(factory.django.DjangoModelFactory[Organization]):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"测试机构{n}有限公司")
    kind = Organization.Kind.ENTERPRISE
    credit_code = factory.LazyFunction(make_credit_code)
    verified_at = factory.LazyFunction(timezone.now)


class MembershipFactory(factory.django.DjangoModelFactory[Membership]):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    organization = factory.SubFactory(OrganizationFactory)
    role = Membership.Role.MEMBER


class ExpertProfileFactory(factory.django.DjangoModelFactory[ExpertProfile]):
    class Meta:
        model = ExpertProfile

    user = factory.SubFactory(UserFactory)
    employer = "某大学"
    title = "教授"


# --- taxonomy and matching --------------------------------------------------------------------------

from matching.models import CapabilityProfile, CoopMode, Need, NeedIndicator, Result  # noqa: E402
from taxonomy.models import Field, Region  # noqa: E402


class FieldFactory(factory.django.DjangoModelFactory[Field]):
    class Meta:
        model = Field
        django_get_or_create = ["code"]

    code = "new_energy.batteries"
    name = "动力电池与储能"
    parent = factory.LazyAttribute(
        lambda o: (
            Field.objects.get_or_create(
                code=o.code.split(".")[0], defaults={"name": o.code.split(".")[0]}
            )[0]
            if "." in o.code
            else None
        )
    )


class RegionFactory(factory.django.DjangoModelFactory[Region]):
    class Meta:
        model = Region
        django_get_or_create = ["name"]

    name = "江苏省"


class NeedFactory(factory.django.DjangoModelFactory[Need]):
    class Meta:
        model = Need

    organization = factory.SubFactory(OrganizationFactory)
    created_by = factory.LazyAttribute(
        lambda o: MembershipFactory(organization=o.organization, role=Membership.Role.OWNER).user
    )
    title = "高镍正极材料循环寿命提升"
    summary = "寻求提升高镍三元正极循环寿命的技术方案。"
    description = (
        "我司高镍三元电池在45℃循环800次后容量保持率低于80%，需要改性或包覆技术提升至1500次。"
    )
    field = factory.SubFactory(FieldFactory)
    coop_modes = factory.LazyFunction(lambda: [CoopMode.JOINT_DEV])
    trl_min = 5
    budget_min = 100
    budget_max = 300
    confidentiality = Need.Confidentiality.PUBLIC
    status = Need.Status.PUBLISHED
    published_at = factory.LazyFunction(timezone.now)


class NeedIndicatorFactory(factory.django.DjangoModelFactory[NeedIndicator]):
    class Meta:
        model = NeedIndicator

    need = factory.SubFactory(NeedFactory)
    name = "容量保持率"
    operator = NeedIndicator.Operator.GE
    target = "80"
    unit = "%"


class ResultFactory(factory.django.DjangoModelFactory[Result]):
    class Meta:
        model = Result

    organization = factory.SubFactory(
        OrganizationFactory,
        kind=Organization.Kind.INSTITUTION,
        name=factory.Sequence(lambda n: f"测试大学{n}"),
    )
    created_by = factory.LazyAttribute(
        lambda o: MembershipFactory(organization=o.organization, role=Membership.Role.OWNER).user
    )
    title = "单晶高镍正极表面包覆改性技术"
    abstract = "采用原子层沉积在单晶高镍颗粒表面包覆氧化铝，45℃循环1500次容量保持率达85%。"
    keywords = factory.LazyFunction(lambda: ["高镍正极", "包覆", "循环寿命"])
    field = factory.SubFactory(FieldFactory)
    trl = 6
    transfer_modes = factory.LazyFunction(lambda: [CoopMode.LICENSE, CoopMode.JOINT_DEV])
    price_min = 150
    price_max = 250
    status = Result.Status.PUBLISHED
    published_at = factory.LazyFunction(timezone.now)


class CapabilityProfileFactory(factory.django.DjangoModelFactory[CapabilityProfile]):
    class Meta:
        model = CapabilityProfile

    organization = factory.SubFactory(OrganizationFactory, kind=Organization.Kind.INSTITUTION)
    title = "电化学储能材料研究平台"
    description = "长期从事锂离子电池正负极材料、固态电解质研究，具备材料合成到软包电芯试制能力。"
    team = "教授3人，副教授5人，博士后与研究生40余人"
    equipment = "手套箱、原子层沉积设备、电池测试系统200通道"


# --- notifications ----------------------------------------------------------------------------------

from matching.models import Match  # noqa: E402
from notifications.models import NotificationPreference  # noqa: E402


class MatchFactory(factory.django.DjangoModelFactory[Match]):
    class Meta:
        model = Match

    need = factory.SubFactory(NeedFactory)
    result = factory.SubFactory(ResultFactory)
    capability = None
    score = 0.82
    components = factory.LazyFunction(lambda: {"dense": 0.8, "lexical": 0.7, "fit": 1.0})
    explanation = factory.LazyFunction(
        lambda: {
            "shared_terms": ["高镍正极", "循环寿命"],
            "fit": [
                {"code": "field_same", "text": "领域一致：新能源材料", "ok": True, "params": {}},
                {"code": "trl_ok", "text": "成熟度 TRL 6，满足需求的 TRL ≥ 5", "ok": True},
            ],
            "evidence": [
                {
                    "need": "45℃循环800次后容量保持率低于80%",
                    "candidate": "45℃循环1500次容量保持率达85%",
                    "similarity": 0.4,
                }
            ],
            "public": {"shared_terms": ["高镍正极"]},
        }
    )
    model_version = "test-model"


class NotificationPreferenceFactory(factory.django.DjangoModelFactory[NotificationPreference]):
    class Meta:
        model = NotificationPreference
        django_get_or_create = ["user"]

    user = factory.SubFactory(UserFactory)
    frequency = NotificationPreference.Frequency.IMMEDIATE
    min_score = 0.0


# --- challenges ---------------------------------------------------------------------------------------

import datetime as _dt  # noqa: E402
from decimal import Decimal  # noqa: E402

from challenges.models import (  # noqa: E402
    Bid,
    Challenge,
    ChallengeMilestone,
    ConsortiumMember,
    RubricCriterion,
)


class ChallengeFactory(factory.django.DjangoModelFactory[Challenge]):
    """An open challenge on a need with two indicators, the default rubric (30/30/20/20) and three
    milestones (30/30/40 %) due 30, 60 and 90 days out; the deadline is in a week."""

    class Meta:
        model = Challenge
        skip_postgeneration_save = True

    need = factory.SubFactory(NeedFactory)
    organization = factory.LazyAttribute(lambda o: o.need.organization)
    created_by = factory.LazyAttribute(lambda o: o.need.created_by)
    title = factory.LazyAttribute(lambda o: o.need.title)
    intro = "揭榜挂帅：提升高镍正极循环寿命。"
    status = Challenge.Status.OPEN
    reward_total = Decimal("300")
    bid_deadline = factory.LazyFunction(lambda: timezone.now() + _dt.timedelta(days=7))
    published_at = factory.LazyFunction(timezone.now)

    @factory.post_generation
    def terms(obj, create, extracted, **kwargs):
        if not create:
            return
        indicators = [
            NeedIndicatorFactory(need=obj.need, name="容量保持率", target="85", unit="%"),
            NeedIndicatorFactory(need=obj.need, name="循环次数", target="1500", unit="次"),
        ]
        obj.indicators.set(indicators)
        for i, (name, weight) in enumerate(
            [("技术先进性", 30), ("可行性", 30), ("团队能力", 20), ("经费合理性", 20)]
        ):
            RubricCriterion.objects.create(challenge=obj, name=name, weight=weight, position=i)
        today = timezone.localdate()
        for i, (name, share) in enumerate([("小试", 30), ("中试", 30), ("验收", 40)]):
            ChallengeMilestone.objects.create(
                challenge=obj,
                name=name,
                deliverable=f"{name}报告",
                indicator=indicators[i % 2],
                criterion=f"{name}达到指标",
                due_date=today + _dt.timedelta(days=30 * (i + 1)),
                share=share,
                position=i,
            )


class BidFactory(factory.django.DjangoModelFactory[Bid]):
    """A submitted single-organization bid (its lead row confirmed) with answers to every indicator
    and milestone and a budget within the reward."""

    class Meta:
        model = Bid
        skip_postgeneration_save = True

    challenge = factory.SubFactory(ChallengeFactory)
    organization = factory.SubFactory(
        OrganizationFactory,
        kind=Organization.Kind.INSTITUTION,
        name=factory.Sequence(lambda n: f"揭榜大学{n}"),
    )
    created_by = factory.LazyAttribute(
        lambda o: MembershipFactory(organization=o.organization, role=Membership.Role.OWNER).user
    )
    status = Bid.Status.SUBMITTED
    technical_approach = "原子层沉积包覆＋单晶化工艺。"
    team = "教授2人，博士5人。"
    submitted_at = factory.LazyFunction(timezone.now)

    @factory.post_generation
    def rows(obj, create, extracted, **kwargs):
        if not create:
            return
        ConsortiumMember.objects.create(
            bid=obj,
            organization=obj.organization,
            is_lead=True,
            role="牵头单位",
            share=100,
            confirmed_at=timezone.now(),
        )
        for indicator in obj.challenge.indicators.all():
            obj.indicator_responses.create(
                indicator=indicator, approach="包覆改性", expected_value="90"
            )
        for milestone in obj.challenge.milestones.all():
            obj.schedule.create(milestone=milestone, planned_date=milestone.due_date)
        obj.budget_items.create(item="材料费", amount=100)
