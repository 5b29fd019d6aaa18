"""Load demo needs, results and capability profiles from ``fixtures/demo`` (see fixtures/README.md).

Idempotent: needs and results are keyed by ``(organization, external_ref=key)``; capability profiles,
which have no external reference, by ``(organization, title)``. Loading twice updates, never
duplicates; unchanged records are not written again.

Records are written directly (``full_clean`` on every object, indicator and patent rows checked with
the services' row validators) rather than through the services, so that loading schedules nothing:
the matcher is not run inline and no task is enqueued. Re-index after loading.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.demo import organization_keys
from accounts.models import Membership, Organization, User
from core.demo import read_parts
from matching.catalogue.services import validate_indicator_rows, validate_patent_rows
from matching.models import CapabilityProfile, Need, NeedIndicator, Patent, Result
from taxonomy.models import Field, Region


class DemoDataError(ValueError):
    """A demo record does not validate; names the record's key."""


def _author(org: Organization, cache: dict[int, User]) -> User:
    if org.pk not in cache:
        membership = (
            Membership.objects.filter(organization=org)
            .select_related("user")
            .order_by("-role", "created_at")  # owners first ("owner" > "member")
            .first()
        )
        if membership is None:
            raise DemoDataError(f"organization {org.name} has no members to author its records")
        cache[org.pk] = membership.user
    return cache[org.pk]


def _money(value) -> Decimal | None:
    return None if value is None else Decimal(str(value)).quantize(Decimal("0.01"))


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _set(obj, values: dict) -> bool:
    """Assign ``values``; whether anything changed."""
    changed = False
    for name, value in values.items():
        current = getattr(obj, f"{name}_id" if name in ("field", "region") else name)
        new = value.pk if name in ("field", "region") and value is not None else value
        if current != new:
            setattr(obj, name, value)
            changed = True
    return changed


# Foreign keys come from the database already, and the database enforces the check and unique
# constraints on save; validating them here would cost several queries per record.
_FK_FIELDS = ["organization", "created_by", "field", "region", "result"]


def _clean(obj, key: str) -> None:
    try:
        obj.full_clean(exclude=_FK_FIELDS, validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        raise DemoDataError(f"{key}: {exc.message_dict}") from exc


_PROGRESSED = (Need.Status.IN_CHALLENGE, Need.Status.MATCHED)


def _demo_status(status: str, org) -> str:
    """Unverified organizations can draft but not publish: their demo items load as drafts."""
    return status if org.is_verified or status != "published" else "draft"


def _published_at(status: str, existing, index: int, now: dt.datetime) -> dt.datetime | None:
    """Published records keep the time they were first loaded with; newer keys come first."""
    if status == "draft":
        return None
    return existing or now - dt.timedelta(hours=index)


def _lookup(mapping: dict, code: str, what: str, key: str):
    if code not in mapping:
        raise DemoDataError(f"{key}: unknown {what} {code!r}")
    return mapping[code]


class _Batch:
    """Objects to insert or update and child rows to replace, written in a few queries at the end:
    one query per record is slow when the database is busy."""

    def __init__(self, model, children_model, children_fk: str):
        self.model = model
        self.children_model = children_model
        self.children_fk = children_fk
        self.create: list = []
        self.update: list = []
        self.children: dict[int, tuple] = {}  # id(obj) -> (obj, rows)

    def add(self, obj, changed: bool, rows: list[dict], current: list[tuple] | None) -> None:
        if obj.pk is None:
            self.create.append(obj)
        elif changed:
            self.update.append(obj)
        if current is None or [tuple(r.values()) for r in rows] != current:
            self.children[id(obj)] = (obj, rows)

    def _position(self, position: int) -> dict:
        # Indicators keep the order they were written in; patents have no order.
        return {"position": position} if self.children_model is NeedIndicator else {}

    def write(self, fields: list[str]) -> None:
        now = timezone.now()
        for obj in self.update:
            obj.updated_at = now
        self.model.objects.bulk_create(self.create, batch_size=500)
        self.model.objects.bulk_update(self.update, [*fields, "updated_at"], batch_size=500)
        replaced = [obj.pk for obj, _rows in self.children.values()]
        self.children_model.objects.filter(**{f"{self.children_fk}_id__in": replaced}).delete()
        self.children_model.objects.bulk_create(
            [
                self.children_model(**{self.children_fk: obj}, **self._position(position), **row)
                for obj, rows in self.children.values()
                for position, row in enumerate(rows)
            ],
            batch_size=1000,
        )


NEED_FIELDS = [
    "title",
    "summary",
    "description",
    "scenario",
    "field",
    "industry_chain",
    "region",
    "budget_min",
    "budget_max",
    "funding_mode",
    "coop_modes",
    "trl_min",
    "contact_name",
    "contact_phone",
    "contact_email",
    "confidentiality",
    "terms",
    "status",
    "published_at",
]
RESULT_FIELDS = [
    "title",
    "abstract",
    "keywords",
    "field",
    "industry_chain",
    "trl",
    "is_service_invention",
    "transfer_modes",
    "price_min",
    "price_max",
    "team",
    "application_fields",
    "status",
    "published_at",
]


@transaction.atomic
def load_matching(*, today: dt.date | None = None) -> dict[str, int]:
    """Create or update the demo needs, results and capability profiles; counts per kind."""
    orgs = organization_keys()
    fields = {f.code: f for f in Field.objects.all()}
    regions = {r.name: r for r in Region.objects.all()}
    authors: dict[int, User] = {}
    now = timezone.now()
    today = today or timezone.localdate()
    counts = {"needs": 0, "results": 0, "capabilities": 0, "demo records skipped": 0}

    needs = read_parts("needs")
    existing_needs = {
        (n.organization_id, n.external_ref): n
        for n in Need.objects.filter(external_ref__in=[e["key"] for e in needs]).prefetch_related(
            "indicators"
        )
    }
    batch = _Batch(Need, NeedIndicator, "need")
    for index, entry in enumerate(needs):
        org = orgs.get(entry["org"])
        if org is None:
            counts["demo records skipped"] += 1
            continue
        key = entry["key"]
        need = existing_needs.get((org.pk, key)) or Need(
            organization=org, external_ref=key, created_by=_author(org, authors)
        )
        if need.pk is None and entry.get("deadline_days") is not None:
            # Relative to the first load; later loads keep it.
            need.deadline = today + dt.timedelta(days=entry["deadline_days"])
        changed = _set(
            need,
            {
                "title": entry["title"],
                "summary": entry.get("summary", ""),
                "description": entry["description"],
                "scenario": entry.get("scenario", ""),
                "field": _lookup(fields, entry["field"], "field", key),
                "industry_chain": entry.get("industry_chain", ""),
                "region": _lookup(regions, entry["region"], "region", key)
                if entry.get("region")
                else None,
                "budget_min": _money(entry.get("budget_min")),
                "budget_max": _money(entry.get("budget_max")),
                "funding_mode": entry.get("funding_mode") or Need.FundingMode.NEGOTIABLE,
                "coop_modes": list(entry.get("coop_modes", [])),
                "trl_min": entry.get("trl_min"),
                "contact_name": entry.get("contact_name", ""),
                "contact_phone": entry.get("contact_phone", ""),
                "contact_email": entry.get("contact_email", ""),
                "confidentiality": entry.get("confidentiality", Need.Confidentiality.PUBLIC),
                "terms": entry.get("terms", ""),
            },
        )
        # A need the platform has moved on (into a challenge, matched) keeps its status on reload.
        if need.status not in _PROGRESSED:
            changed |= _set(
                need, {"status": _demo_status(entry.get("status", Need.Status.PUBLISHED), org)}
            )
        changed |= _set(
            need, {"published_at": _published_at(need.status, need.published_at, index, now)}
        )
        rows = [
            {
                "name": i["name"],
                "operator": i.get("operator", NeedIndicator.Operator.GE),
                "target": _text(i.get("target")),
                "target_max": _text(i.get("target_max")),
                "unit": i.get("unit", ""),
            }
            for i in entry.get("indicators", [])
        ]
        row_errors = validate_indicator_rows(rows)
        if row_errors:
            raise DemoDataError(f"{key}: indicators {row_errors}")
        if changed or need.pk is None:
            _clean(need, key)
        current = (
            [(i.name, i.operator, i.target, i.target_max, i.unit) for i in need.indicators.all()]
            if need.pk
            else None
        )
        batch.add(need, changed, rows, current)
        counts["needs"] += 1
    batch.write(NEED_FIELDS)

    results = read_parts("results")
    existing_results = {
        (r.organization_id, r.external_ref): r
        for r in Result.objects.filter(
            external_ref__in=[e["key"] for e in results]
        ).prefetch_related("patents")
    }
    batch = _Batch(Result, Patent, "result")
    for index, entry in enumerate(results):
        org = orgs.get(entry["org"])
        if org is None:
            counts["demo records skipped"] += 1
            continue
        key = entry["key"]
        result = existing_results.get((org.pk, key)) or Result(
            organization=org, external_ref=key, created_by=_author(org, authors)
        )
        changed = _set(
            result,
            {
                "title": entry["title"],
                "abstract": entry["abstract"],
                "keywords": list(entry.get("keywords", [])),
                "field": _lookup(fields, entry["field"], "field", key),
                "industry_chain": entry.get("industry_chain", ""),
                "trl": entry["trl"],
                "is_service_invention": bool(entry.get("service_invention", True)),
                "transfer_modes": list(entry.get("transfer_modes", [])),
                "price_min": _money(entry.get("price_min")),
                "price_max": _money(entry.get("price_max")),
                "team": entry.get("team", ""),
                "application_fields": list(entry.get("application_fields", [])),
                "status": _demo_status(entry.get("status", Result.Status.PUBLISHED), org),
            },
        )
        changed |= _set(
            result,
            {"published_at": _published_at(result.status, result.published_at, index, now)},
        )
        rows = [
            {
                "number": p["number"],
                "kind": p.get("kind", Patent.Kind.INVENTION),
                "status": p.get("status", Patent.Status.PENDING),
                "title": p.get("title", ""),
            }
            for p in entry.get("patents", [])
        ]
        row_errors = validate_patent_rows(rows)
        if row_errors:
            raise DemoDataError(f"{key}: patents {row_errors}")
        for row in rows:
            _clean(Patent(**row), key)
        if changed or result.pk is None:
            _clean(result, key)
        current = (
            [
                (p.number, p.kind, p.status, p.title)
                for p in sorted(result.patents.all(), key=lambda p: p.pk)
            ]
            if result.pk
            else None
        )
        batch.add(result, changed, rows, current)
        counts["results"] += 1
    batch.write(RESULT_FIELDS)

    existing_profiles = {
        (p.organization_id, p.title): p
        for p in CapabilityProfile.objects.prefetch_related("fields")
    }
    for entry in read_parts("capabilities"):
        org = orgs.get(entry["org"])
        if org is None:
            counts["demo records skipped"] += 1
            continue
        key = entry["key"]
        profile = existing_profiles.get((org.pk, entry["title"])) or CapabilityProfile(
            organization=org, title=entry["title"]
        )
        changed = _set(
            profile,
            {
                "description": entry["description"],
                "team": entry.get("team", ""),
                "equipment": entry.get("equipment", ""),
                "past_projects": entry.get("past_projects", ""),
                "is_published": bool(entry.get("published", True)),
            },
        )
        if changed or profile.pk is None:
            _clean(profile, key)
            profile.save()
        wanted = {_lookup(fields, code, "field", key).pk for code in entry.get("fields", [])}
        if wanted != {f.pk for f in profile.fields.all()}:
            profile.fields.set(wanted)
        counts["capabilities"] += 1
    return counts
