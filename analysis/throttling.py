"""Per-client rate limits, counted in the cache every web process shares (PostgreSQL)."""

from __future__ import annotations

from django.conf import settings
from django.core.cache import BaseCache, caches
from rest_framework.throttling import SimpleRateThrottle

from analyzer_project.clients import client_ip


class ClientRateThrottle(SimpleRateThrottle):
    """ANALYSIS_RATE_LIMIT requests per client address over a sliding window.

    The request times of a client are one row of the "shared" database cache: every web
    process and replica counts against the same limit. Two processes answering the same
    client at the same instant may each miss the other's request: the limit is exact to
    within the requests served at once, which a flood does not escape.
    """

    scope = "analysis"

    @property
    def cache(self) -> BaseCache:  # looked up per request: no settings read at import
        return caches["shared"]

    def get_rate(self) -> str | None:
        return settings.ANALYSIS_RATE_LIMIT

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": client_ip(request)}
