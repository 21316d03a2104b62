"""Every error of the API as {"error": "<message>"}, with the status the SPEC gives it."""

from __future__ import annotations

from django.http import JsonResponse
from rest_framework import exceptions, status
from rest_framework.views import exception_handler


class UpstreamUnavailable(exceptions.APIException):
    status_code = status.HTTP_502_BAD_GATEWAY
    default_detail = "the upstream stream could not be reached during the window"


class RealtimeBusy(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "too many realtime analyses at once: retry shortly or use a window over 60s"
    retry_after = 5


def api_exception_handler(exc, context):
    """Shape DRF's error responses as {"error": message}; let anything else become a 500."""
    response = exception_handler(exc, context)
    if response is None:
        return None
    response.data = {"error": _message(exc)}
    if isinstance(exc, RealtimeBusy):
        response["Retry-After"] = str(exc.retry_after)
    return response


def _message(exc: exceptions.APIException) -> str:
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
