from __future__ import annotations

import time
from functools import cache

from django.conf import settings
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analysis.exceptions import RealtimeBusy, UpstreamUnavailable
from analysis.realtime import (
    RealtimeBusyError,
    RealtimeSlots,
    RealtimeWindow,
    UpstreamUnavailableError,
)
from analysis.results import Analysis, NoDataError
from analysis.selectors import post_percentiles
from analysis.serializers import ANALYSIS_SCHEMA, ERROR_SCHEMA, AnalysisQuerySerializer


@cache
def realtime_slots(limit: int) -> RealtimeSlots:
    return RealtimeSlots(limit)


class AnalysisApi(APIView):
    """Count and percentiles of the posts of the last `duration`.

    Up to REALTIME_MAX_DURATION the window is read live from a fresh upstream connection
    (the answer comes when the window ends); longer windows read the stored posts at once.
    """

    http_method_names = ["get"]

    @extend_schema(
        operation_id="analysis",
        parameters=[AnalysisQuerySerializer],
        responses={
            200: OpenApiResponse(ANALYSIS_SCHEMA, "The analysis of the window."),
            400: OpenApiResponse(ERROR_SCHEMA, "A parameter is missing or not accepted."),
            404: OpenApiResponse(ERROR_SCHEMA, "No post in the window carries the dimension."),
            502: OpenApiResponse(ERROR_SCHEMA, "Realtime: the upstream was unreachable."),
            503: OpenApiResponse(ERROR_SCHEMA, "Realtime: too many at once; see Retry-After."),
        },
    )
    def get(self, request: Request) -> Response:
        started = time.monotonic()
        query = AnalysisQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        duration, dimension = query.validated_data["duration"], query.validated_data["dimension"]
        try:
            if duration <= settings.REALTIME_MAX_DURATION:
                analysis = self.realtime(dimension, duration, started)
            else:
                analysis = post_percentiles(
                    dimension=dimension, duration=duration, now=timezone.now()
                )
        except NoDataError:
            raise NotFound(
                f"no post in the last {request.query_params['duration']} carries {dimension}"
            ) from None
        return Response(analysis.as_dict())

    def realtime(self, dimension, duration, started) -> Analysis:
        try:
            with realtime_slots(settings.REALTIME_MAX_CONCURRENT):
                window = RealtimeWindow(
                    settings.STREAM_URL, dimension=dimension, duration=duration, started=started
                )
                return window.run()
        except RealtimeBusyError:
            raise RealtimeBusy from None
        except UpstreamUnavailableError:
            raise UpstreamUnavailable from None
