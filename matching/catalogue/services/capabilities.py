"""Capability profiles (研发能力)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from accounts.models import Organization, User
from accounts.selectors import require_acts_for
from core.services import audit_record
from matching.catalogue.services.common import (
    CAPABILITY_EDITABLE,
    Errors,
    _apply,
    _check_kind,
    _full_clean,
    _resolve_field,
    _schedule_matching,
    _split_list,
)
from matching.models import (
    CapabilityProfile,
)
from taxonomy.models import Field

# --- capability profiles --------------------------------------------------------------------------


def _resolve_fields(values: list | None, errors: Errors) -> list[Field]:
    resolved = []
    for value in _split_list(values) if isinstance(values, str) else values or []:
        field = _resolve_field(value, errors, key="fields")
        if field is not None and field not in resolved:
            resolved.append(field)
    return resolved


@transaction.atomic
def capability_create(
    *,
    actor: User,
    organization: Organization,
    data: dict,
    fields: list | None = None,
) -> CapabilityProfile:
    require_acts_for(user=actor, org=organization)
    errors: Errors = {}
    _check_kind(
        organization,
        Organization.Kind.INSTITUTION,
        errors,
        _("只有高校、科研院所可以登记研发能力。"),
    )
    profile = CapabilityProfile(organization=organization)
    _apply(profile, data, CAPABILITY_EDITABLE, errors)
    resolved = _resolve_fields(fields, errors)
    _full_clean(profile, errors)
    if errors:
        raise ValidationError(errors)
    profile.save()
    profile.fields.set(resolved)
    audit_record(actor=actor, action="capability.create", target=profile)
    if profile.is_published:
        _schedule_matching("capability", profile.pk)
    return profile


@transaction.atomic
def capability_update(
    *,
    profile: CapabilityProfile,
    actor: User,
    data: dict,
    fields: list | None = None,
) -> CapabilityProfile:
    """``fields`` None keeps the technology fields, a list replaces them."""
    require_acts_for(user=actor, org=profile.organization)
    profile = CapabilityProfile.objects.select_for_update().get(pk=profile.pk)
    was_published = profile.is_published
    errors: Errors = {}
    changed = _apply(profile, data, CAPABILITY_EDITABLE, errors)
    resolved = _resolve_fields(fields, errors) if fields is not None else None
    _full_clean(profile, errors)
    if errors:
        raise ValidationError(errors)
    profile.save()
    if resolved is not None and set(resolved) != set(profile.fields.all()):
        profile.fields.set(resolved)
        changed.append("fields")
    if changed:
        audit_record(
            actor=actor, action="capability.update", target=profile, data={"fields": changed}
        )
        if profile.is_published or was_published:
            _schedule_matching("capability", profile.pk)
    return profile


@transaction.atomic
def capability_delete(*, profile: CapabilityProfile, actor: User) -> None:
    """Delete the profile; its matches go with it (cascade)."""
    require_acts_for(user=actor, org=profile.organization)
    audit_record(
        actor=actor, action="capability.delete", target=profile, data={"title": profile.title}
    )
    profile.delete()
