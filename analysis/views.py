from __future__ import annotations

import time
from datetime import timedelta
from functools import cache

from django.conf import settings
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
    unix_time,
)
from analysis.results import Analysis, NoDataError
from analysis.selectors import Coverage
from analysis.serializers import (
    ANALYSIS_SCHEMA,
    ERROR_SCHEMA,
    RESPONSE_HEADERS,
    AnalysisQuerySerializer,
)
from analysis.shared import shared_post_percentiles


@cache
def realtime_slots(limit: int) -> RealtimeSlots:
    return RealtimeSlots(limit)


class AnalysisApi(APIView):
    """Count and percentiles of the posts of the last `duration`.

    Up to REALTIME_MAX_DURATION the window is read live from the upstream stream (windows
    open at the same time share one connection; the answer comes when the window ends);
    longer windows read the stored posts at once. X-Window-Start and X-Window-End say which
    window an answer covers.
    """

    http_method_names = ["get"]

    @extend_schema(
        operation_id="analysis",
        parameters=[AnalysisQuerySerializer, *RESPONSE_HEADERS],
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
                analysis = self.realtime(dimension, duration)
            else:
                self.mode = "historical"
                analysis, coverage = shared_post_percentiles(dimension=dimension, duration=duration)
                self.cover(coverage, duration)
        except NoDataError as missing:
            if missing.coverage is not None:
                self.cover(missing.coverage, duration)
            raise NotFound(
                f"no post in the last {request.query_params['duration']} carries {dimension}"
            ) from None
        return Response(analysis.as_dict())

    def initial(self, request, *args, **kwargs):
        self.started = time.monotonic()  # a realtime window's deadline counts from here
        self.mode = "none"  # until the query is valid
        self.coverage: Coverage | None = None
        self.window: tuple[float, float] | None = None  # Unix seconds, once there is one
        super().initial(request, *args, **kwargs)

    def finalize_response(self, request, response, *args, **kwargs):
        """Say which window the answer covers, and how fresh historical data is; record metrics."""
        response = super().finalize_response(request, response, *args, **kwargs)
        if self.window is not None:
            response["X-Window-Start"], response["X-Window-End"] = (
                f"{moment:.3f}" for moment in self.window
            )
        if self.coverage is not None and self.coverage.newest is not None:
            response["X-Data-Age"] = str(self.coverage.age_seconds)
            response["X-Data-Since"] = str(int(self.coverage.since.timestamp()))
        metrics.REQUESTS.labels(self.mode, response.status_code).inc()
        metrics.LATENCY.labels(self.mode).observe(time.monotonic() - self.started)
        return response

    def cover(self, coverage: Coverage, duration: timedelta) -> None:
        """Keep the coverage the answer was computed with: its `now` ends the stated window."""
        self.coverage = coverage
        self.window = ((coverage.now - duration).timestamp(), coverage.now.timestamp())

    def realtime(self, dimension: str, duration: timedelta) -> Analysis:
        try:
            with realtime_slots(settings.REALTIME_MAX_CONCURRENT):
                window = RealtimeWindow(
                    settings.STREAM_URL,
                    dimension=dimension,
                    duration=duration,
                    started=self.started,
                )
                self.window = (unix_time(window.started), unix_time(window.deadline))
                return window.run()
        except RealtimeBusyError:
            raise RealtimeBusy from None
        except UpstreamUnavailableError:
            raise UpstreamUnavailable from None
