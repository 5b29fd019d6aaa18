"""Web pages about matches: feedback on a match, and an organization's matched needs."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.selectors import member_org_ids
from matching.matcher import calibration
from matching.matches import selectors as match_selectors
from matching.matches import services as match_services


@require_POST
@login_required
def match_feedback(request, pk: int):
    match = match_selectors.match_get_for_party(pk=pk, user=request.user)
    try:
        match_services.match_feedback_give(
            match=match,
            user=request.user,
            verdict=request.POST.get("verdict", ""),
            reason=request.POST.get("reason", ""),
            comment=request.POST.get("comment", ""),
        )
    except ValidationError as exc:
        for message in exc.messages:
            messages.error(request, message)
    else:
        messages.success(request, _("感谢反馈，匹配结果会据此调整。"))
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = match.need.get_absolute_url() + "#matches"
    return redirect(target)


@login_required
def my_matches(request):
    org_ids = list(member_org_ids(request.user))
    matched = match_selectors.matched_needs_for_organization(
        organization_ids=org_ids, user=request.user
    )
    context = {
        "matched_needs": matched,
        "has_strong": any(
            calibration.strength(m.score, m.model_version) == "strong" for m, _v in matched
        ),
    }
    return render(request, "matching/my_matches.html", context)
