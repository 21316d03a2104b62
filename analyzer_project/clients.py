"""Who a request comes from: one definition for rate limits, realtime caps and admin lockout."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    """Return the caller's address, trusting X-Forwarded-For only as far as TRUSTED_PROXIES.

    Each proxy appends the address it received the request from, so with n trusted proxies
    the n-th entry from the right is the client's; entries further left are the client's to
    forge. With none trusted (the default), the connection's own address.
    """
    remote = request.META.get("REMOTE_ADDR", "")
    proxies = settings.TRUSTED_PROXIES
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if not proxies or not forwarded:
        return remote
    hops = [hop.strip() for hop in forwarded.split(",")]
    candidate = hops[-min(proxies, len(hops))]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:  # a misconfigured proxy: fall back to what the socket says
        return remote
