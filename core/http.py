"""Small HTTP helpers shared by the apps' views."""

from __future__ import annotations


def form_status(form, formset=None) -> int:
    """400 for a submitted form (and formset) shown again with errors, 200 otherwise."""
    if not form.is_bound:
        return 200
    if form.errors or (formset is not None and not formset.is_valid()):
        return 400
    return 200
