from __future__ import annotations

from django import template

from matching.catalogue.selectors import home_listings
from matching.models import CoopMode

register = template.Library()

_MODE_LABELS = dict(CoopMode.choices)


@register.filter
def coop_labels(modes) -> str:
    """Cooperation/transfer mode codes as their labels, joined with 、."""
    return "、".join(str(_MODE_LABELS.get(m, m)) for m in modes or [])


@register.inclusion_tag("matching/_home_listings.html")
def latest_listings(limit: int = 5) -> dict:
    """The home page's latest needs and results and counts, as anyone may see them (so a member's
    private needs never show on the shared front page)."""
    return home_listings(user=None, limit=limit)


@register.filter
def amount(value) -> str:
    """An amount in 万元 without trailing zeros (100, 12.5); "?" when unknown."""
    if value is None or value == "":
        return "?"
    return format(value.normalize() if hasattr(value, "normalize") else value, "f")
