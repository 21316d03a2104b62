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

from analysis import metrics
from analysis.exceptions import RealtimeBusy, UpstreamUnavailable
from analysis.realtime import (
    RealtimeBusyError,
    RealtimeSlots,
    RealtimeWindow,
    UpstreamUnavailableError,
)
from analysis.results import Analysis, NoDataError
from analysis.selectors import Coverage, post_percentiles
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
        query = AnalysisQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        duration, dimension = query.validated_data["duration"], query.validated_data["dimension"]
        try:
            if duration <= settings.REALTIME_MAX_DURATION:
                self.mode = "realtime"
                analysis = self.realtime(dimension, duration, self.started)
            else:
                self.mode = "historical"
                analysis, self.coverage = post_percentiles(
                    dimension=dimension, duration=duration, now=timezone.now()
                )
        except NoDataError as missing:
            self.coverage = missing.coverage
            raise NotFound(
                f"no post in the last {request.query_params['duration']} carries {dimension}"
            ) from None
        return Response(analysis.as_dict())

    def initial(self, request, *args, **kwargs):
        self.started = time.monotonic()  # a realtime window's deadline counts from here
        self.mode = "none"  # until the query is valid
        self.coverage: Coverage | None = None
        super().initial(request, *args, **kwargs)

    def finalize_response(self, request, response, *args, **kwargs):
        """Add the data-freshness headers of historical answers; record metrics."""
        response = super().finalize_response(request, response, *args, **kwargs)
        if self.coverage is not None and self.coverage.newest is not None:
            response["X-Data-Age"] = str(self.coverage.age_seconds)
            response["X-Data-Since"] = str(int(self.coverage.since.timestamp()))
        metrics.REQUESTS.labels(self.mode, response.status_code).inc()
        metrics.LATENCY.labels(self.mode).observe(time.monotonic() - self.started)
        return response

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
