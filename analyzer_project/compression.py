"""gzip for JSON answers only."""

from __future__ import annotations

from django.middleware.gzip import GZipMiddleware


class JsonGZipMiddleware(GZipMiddleware):
    """Compress JSON answers (200 bytes or more) for clients that accept gzip.

    HTML pages are left alone: the admin's carry a CSRF token, which compression would expose
    to BREACH-style guessing; static files come compressed already (WhiteNoise).
    """

    def process_response(self, request, response):
        content_type = response.get("Content-Type", "").split(";")[0].strip()
        if not content_type.endswith(("/json", "+json")):
            return response
        return super().process_response(request, response)
