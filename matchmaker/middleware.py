"""Project-wide middleware: the loopback guard of the development key and the security policy."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponseForbidden
from django.http.request import split_domain_port

from matchmaker.security import DEV_SECRET_KEY, is_loopback_host


class DevSecretKeyLoopbackMiddleware:
    """While the public development key signs sessions and links, answer loopback clients only."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if settings.SECRET_KEY == DEV_SECRET_KEY and not self._is_loopback(request):
            return HttpResponseForbidden(
                "The development SECRET_KEY serves loopback clients only; set SECRET_KEY.",
                content_type="text/plain; charset=utf-8",
            )
        return self.get_response(request)

    @staticmethod
    def _is_loopback(request) -> bool:
        domain, _port = split_domain_port(request.get_host())
        return is_loopback_host(request.META.get("REMOTE_ADDR", "")) and is_loopback_host(domain)


class ContentSecurityPolicyMiddleware:
    """Send ``settings.CONTENT_SECURITY_POLICY`` with every response that does not set its own.

    Outermost but for the loopback guard, so static files and error pages carry it too."""

    def __init__(self, get_response):
        self.get_response = get_response
        self.header = "; ".join(
            " ".join([directive, *sources])
            for directive, sources in settings.CONTENT_SECURITY_POLICY.items()
        )

    def __call__(self, request):
        response = self.get_response(request)
        if self.header:
            response.headers.setdefault("Content-Security-Policy", self.header)
        return response
