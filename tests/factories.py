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
