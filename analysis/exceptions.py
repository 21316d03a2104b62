"""Every error of the API as {"error": "<message>"}, with the status the SPEC gives it.

The domain's errors (analysis/results.py, analysis/realtime.py) are mapped here and only
here; an error that knows its window states it, as answers do.
"""

from __future__ import annotations

from django.conf import settings
from django.http import JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from analysis.realtime import RealtimeBusyError, UpstreamUnavailableError
from analysis.realtime_clients import ClientBusyError
from analysis.results import NoDataError
from analysis.serializers import window_headers
from analyzer_project.durations import format_duration

RETRY_AFTER_BUSY = 5  # seconds: a realtime window lasts at most a minute, most a few seconds


def api_exception_handler(exc, context):
    """Shape every error as {"error": message}; let anything unexpected become a 500."""
    if isinstance(
        exc, NoDataError | UpstreamUnavailableError | RealtimeBusyError | ClientBusyError
    ):
        return _domain_error(exc, context["request"])
    response = exception_handler(exc, context)
    if response is not None:
        response.data = {"error": _message(exc)}
    return response


def _domain_error(exc: Exception, request) -> Response:
    headers = window_headers(getattr(exc, "window", None))
    if isinstance(exc, NoDataError):
        duration, carried = request.query_params["duration"], " or ".join(exc.dimensions)
        status_code, message = (
            status.HTTP_404_NOT_FOUND,
            (f"no post in the last {duration} carries {carried}"),
        )
    elif isinstance(exc, UpstreamUnavailableError):
        status_code = status.HTTP_502_BAD_GATEWAY
        message = "the upstream stream could not be reached during the window"
    elif isinstance(exc, ClientBusyError):
        status_code = status.HTTP_429_TOO_MANY_REQUESTS
        message = (
            f"{exc.limit} realtime analyses are already open from your address (the cap per"
            " client): wait for one to end, or use a window over"
            f" {format_duration(settings.REALTIME_MAX_DURATION)}"
        )
        headers["Retry-After"] = str(RETRY_AFTER_BUSY)
    else:
        status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        message = "too many realtime analyses at once: retry shortly or use a window over 60s"
        headers["Retry-After"] = str(RETRY_AFTER_BUSY)
    return Response({"error": message}, status=status_code, headers=headers)


def _message(exc: exceptions.APIException) -> str:
    if isinstance(exc, exceptions.Throttled):  # DRF sets Retry-After from exc.wait
        return (
            f"too many requests from your address (the limit is {settings.ANALYSIS_RATE_LIMIT}):"
            f" retry in {exc.wait} s"
        )
    if isinstance(exc, exceptions.ValidationError) and isinstance(exc.detail, dict):
        name, errors = next(iter(exc.detail.items()))
        return f"{name}: {errors[0] if isinstance(errors, list) else errors}"
    if isinstance(exc.detail, list):
        return str(exc.detail[0])
    return str(exc.detail)


def not_found(request, exception=None):
    return JsonResponse({"error": f"{request.path} is not a route: use GET /analysis"}, status=404)


def server_error(request):
    return JsonResponse({"error": "internal error: see the server log"}, status=500)
