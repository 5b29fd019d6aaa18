"""Web pages about matches: feedback on a match, and an organization's matched needs."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.selectors import member_org_ids
from matching.matches import selectors as match_selectors
from matching.matches import services as match_services
from matching.matches.forms import MatchFilterForm


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


MATCHES_PER_PAGE = 20


@login_required
def my_matches(request):
    """The needs matched to the user's organizations' results and profiles, grouped by result or
    profile, best first, filtered by strength and field, a page at a time."""
    form = MatchFilterForm(request.GET or None)
    valid = form.is_valid() if request.GET else True
    chosen = form.cleaned_data if request.GET and valid else {}
    found = match_selectors.lab_matches(
        organization_ids=list(member_org_ids(request.user)),
        user=request.user,
        strength=chosen.get("strength", ""),
        field_code=chosen.get("field", ""),
    )
    page = Paginator(found.matches, MATCHES_PER_PAGE).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    context = {
        "form": form,
        "page": page,
        "query": params.urlencode(),
        "fields": found.fields,
        "chosen": chosen,
        "has_strong": found.has_strong,
    }
    return render(request, "matching/my_matches.html", context, status=200 if valid else 400)
