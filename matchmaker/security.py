"""The development SECRET_KEY is public (it is in this repository), so it may serve loopback only.

Anyone who knows the key can sign sessions, password-reset and confirmation links and messages, so a
server running with it must not be reachable from another machine. ``settings.py`` refuses to start
when ``ALLOWED_HOSTS`` names anything but loopback while the key is in use, and
``matchmaker.middleware.DevSecretKeyLoopbackMiddleware`` refuses any request from a client that is
not on loopback (a server bound to 0.0.0.0 by mistake).
"""

from __future__ import annotations

import ipaddress

from django.core.exceptions import ImproperlyConfigured

DEV_SECRET_KEY = "dev-only-insecure-key-never-used-in-production"  # noqa: S105


def is_loopback_host(host: str) -> bool:
    """``host`` (a name, an address, or an ``ALLOWED_HOSTS`` entry; no port) is loopback only."""
    host = host.strip().lower().rstrip(".")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def require_loopback_for_dev_key(allowed_hosts: list[str]) -> None:
    """``ImproperlyConfigured`` unless every allowed host is loopback."""
    public = [host for host in allowed_hosts if not is_loopback_host(host)]
    if public:
        raise ImproperlyConfigured(
            "The development SECRET_KEY serves loopback only, but ALLOWED_HOSTS contains "
            f"{', '.join(public)}: set SECRET_KEY to a secret value, or serve on 127.0.0.1/localhost."
        )
