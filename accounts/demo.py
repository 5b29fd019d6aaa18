"""Load demo organizations, members and experts from ``fixtures/demo``; idempotent by email and
credit code, so running it twice duplicates nothing."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from accounts.models import ExpertProfile, Membership, Organization, User
from core.demo import read_parts
from taxonomy.models import Field, Region

# Every demo user's email ends so (fixtures/README.md); ops.selectors.demo_data_present reads it.
DEMO_EMAIL_DOMAIN = "@demo.example.cn"


def _user(*, email: str, name: str, password: str, **extra) -> User:
    user = User.objects.filter(email=email).first()
    if user is None:
        user = User.objects.create_user(
            email=email, password=password, name=name, email_confirmed_at=timezone.now(), **extra
        )
    return user


@transaction.atomic
def load_accounts(*, password: str) -> dict[str, int]:
    regions = {r.name: r for r in Region.objects.all()}
    admin = _user(
        email="admin" + DEMO_EMAIL_DOMAIN,
        name="平台管理员",
        password=password,
        is_staff=True,
        is_superuser=True,
    )
    orgs: dict[str, Organization] = {}
    for entry in read_parts("organizations"):
        lookup = (
            {"credit_code": entry["credit_code"]}
            if entry.get("credit_code")
            else {"name": entry["name"]}
        )
        org = Organization.objects.filter(**lookup).first() or Organization(**lookup)
        org.name = entry["name"]
        org.kind = entry["kind"]
        org.region = regions.get(entry.get("region"))
        org.city = entry.get("city", "")
        org.description = entry.get("description", "")
        org.website = entry.get("website", "")
        if entry.get("verified", True) and org.verified_at is None:
            org.verified_at, org.verified_by = timezone.now(), admin
        org.full_clean(exclude=["verified_by"])
        org.save()
        orgs[entry["key"]] = org
        for member in entry.get("members", []):
            user = _user(email=member["email"].lower(), name=member["name"], password=password)
            Membership.objects.update_or_create(
                user=user,
                organization=org,
                defaults={
                    "role": member.get("role", Membership.Role.MEMBER),
                    "is_broker": bool(member.get("broker")),
                    "title": member.get("title", ""),
                },
            )
    n_experts = 0
    fields = {f.code: f for f in Field.objects.all()}
    for entry in read_parts("experts"):
        user = _user(email=entry["email"].lower(), name=entry["name"], password=password)
        profile, _created = ExpertProfile.objects.update_or_create(
            user=user,
            defaults={
                "employer": entry.get("employer", ""),
                "title": entry.get("title", ""),
                "bio": entry.get("bio", ""),
            },
        )
        profile.fields.set([fields[c] for c in entry.get("fields", []) if c in fields])
        profile.affiliations.set([orgs[k] for k in entry.get("affiliations", []) if k in orgs])
        n_experts += 1
    return {"organizations": len(orgs), "experts": n_experts}


def organization_keys() -> dict[str, Organization]:
    """Demo key → organization, for loaders of needs and results."""
    by_code = {o.credit_code: o for o in Organization.objects.exclude(credit_code="")}
    by_name = {o.name: o for o in Organization.objects.all()}
    keys = {}
    for entry in read_parts("organizations"):
        org = by_code.get(entry.get("credit_code", "")) or by_name.get(entry["name"])
        if org is not None:
            keys[entry["key"]] = org
    return keys
