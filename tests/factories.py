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
