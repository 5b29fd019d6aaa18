from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from notifications import selectors, services
from notifications.emails import user_for_unsubscribe_token
from notifications.forms import PreferenceForm


@login_required
def center(request):
    rows = selectors.notification_centre_entries(user=request.user)
    return render(request, "notifications/center.html", {"entries": rows})


@login_required
@require_http_methods(["GET", "POST"])
def preferences(request):
    preference = selectors.preference_for_user(user=request.user)
    initial = {
        "frequency": preference.frequency,
        "min_score": preference.min_score,
        "fields": list(preference.fields.all()) if preference.pk else [],
    }
    form = PreferenceForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.preference_update(user=request.user, **form.cleaned_data)
        except ValidationError as exc:
            for field, errors in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errors)
        else:
            messages.success(request, _("通知设置已保存。"))
            return redirect("notifications:preferences")
    return render(request, "notifications/preferences.html", {"form": form})


@never_cache
@csrf_exempt  # RFC 8058: mail clients POST here without a session; the signed token is the proof.
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token: str):
    """GET: a confirmation page. POST (the page's button, or a mail client's one-click request with
    ``List-Unsubscribe=One-Click``): stop notification emails. No login needed."""
    user = user_for_unsubscribe_token(token)
    if user is None:
        return render(request, "notifications/unsubscribe.html", {"state": "invalid"}, status=400)
    if request.method == "POST":
        services.preference_unsubscribe(user=user)
        return render(
            request, "notifications/unsubscribe.html", {"state": "done", "email": _mask(user.email)}
        )
    return render(
        request, "notifications/unsubscribe.html", {"state": "confirm", "email": _mask(user.email)}
    )


def _mask(email: str) -> str:
    """Whoever holds the link sees the address only partly (the link may be forwarded)."""
    local, _at, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"
