"""X-Request-ID: accepted from the caller (or made), returned, and put on every log line."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable
from contextvars import ContextVar

from django.core.signals import request_finished
from django.http import HttpRequest, HttpResponse

# What a request ID may look like when a caller (or a proxy) sends one: anything else, such
# as a line break meant to forge a log line, is replaced by a fresh ID.
VALID_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")
_current: ContextVar[str | None] = ContextVar("request_id", default=None)


def current_request_id() -> str | None:
    return _current.get()


class RequestIdMiddleware:
    """Give each request an ID (the caller's X-Request-ID if it is sane) for its logs and answer."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        # Django logs an error answer after the middleware has returned it: the ID is
        # forgotten only when the answer is sent (a server thread serves others next).
        request_finished.connect(_forget, dispatch_uid="request_id")

    def __call__(self, request: HttpRequest) -> HttpResponse:
        given = request.headers.get("X-Request-ID", "")
        request_id = given if VALID_ID.fullmatch(given) else uuid.uuid4().hex
        request.request_id = request_id
        _current.set(request_id)
        response = self.get_response(request)
        response["X-Request-ID"] = request_id
        return response


def _forget(**kwargs: object) -> None:
    _current.set(None)


class RequestIdFilter(logging.Filter):
    """Set record.request_id (None outside a request) for the formatters."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _current.get()
        return True
