from django.http import JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from core.health import run_checks, status_facts


@never_cache
@require_GET
def healthz(request):
    checks = run_checks()
    healthy = all(entry["ok"] for entry in checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", "checks": checks, **status_facts()},
        status=200 if healthy else 503,
    )


def home(request):
    return render(request, "core/home.html")
