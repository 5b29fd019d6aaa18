"""Facts other apps add to an organization's public page and API detail (e.g. matching's
responsiveness record). Accounts sits below them and may not import them, so they register a
provider at start-up (``AppConfig.ready``); accounts only renders what it is given."""

from __future__ import annotations

from collections.abc import Callable

from accounts.models import Organization

_providers: dict[str, Callable[[Organization], dict]] = {}


def register_organization_fact(key: str, provider: Callable[[Organization], dict]) -> None:
    _providers[key] = provider


def organization_facts(org: Organization) -> dict[str, dict]:
    return {key: provider(org) for key, provider in _providers.items()}
