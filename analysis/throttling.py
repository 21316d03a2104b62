"""Per-client rate limits, counted in the cache every web process shares (PostgreSQL)."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import BaseCache, caches
from django.db import connection, transaction
from rest_framework.throttling import SimpleRateThrottle

from analyzer_project.clients import client_ip


class ClientRateThrottle(SimpleRateThrottle):
    """ANALYSIS_RATE_LIMIT requests per client address over a sliding window.

    The request times of a client are one row of the "shared" database cache: every web
    process and replica counts against the same limit. DRF reads the row, appends and writes
    it back; concurrent requests of one client would each write back a list missing the
    others' (a flood over 16 threads got 1,739 of 2,000 requests through a 600/min limit),
    so a PostgreSQL advisory lock per client makes that read-modify-write one at a time.
    """

    scope = "analysis"
    LOCK_CLASS = 0x7417  # the first key of the two-key advisory locks taken here

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        key = self.get_cache_key(request, view)
        digest = hashlib.blake2b(key.encode(), digest_size=4).digest()
        with transaction.atomic(), connection.cursor() as cursor:
            # Held to the end of the transaction: until the client's new history is written.
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)",
                [self.LOCK_CLASS, int.from_bytes(digest, "big", signed=True)],
            )
            return super().allow_request(request, view)

    @property
    def cache(self) -> BaseCache:  # looked up per request: no settings read at import
        return caches["shared"]

    def get_rate(self) -> str | None:
        return settings.ANALYSIS_RATE_LIMIT

    def get_cache_key(self, request, view) -> str:
        return self.cache_format % {"scope": self.scope, "ident": client_ip(request)}
