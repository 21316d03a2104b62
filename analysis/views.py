from __future__ import annotations

import time

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analysis import metrics
from analysis.selectors import analyse, mode_of
from analysis.serializers import (
    ANALYSIS_SCHEMA,
    ERROR_SCHEMA,
    RESPONSE_HEADERS,
    AnalysisQuerySerializer,
    window_headers,
)


class _VersionedSchema(AutoSchema):
    """The same view answers /analysis and /v1/analysis: one operation id for each path."""

    def get_operation_id(self) -> str:
        return "_".join(part for part in self.path.split("/") if part)


class AnalysisApi(APIView):
    """Count and percentiles of the posts of the last `duration`.

    Up to REALTIME_MAX_DURATION the window is read live from the upstream stream (windows
    open at the same time share one connection; the answer comes when the window ends);
    longer windows read the stored posts at once. X-Window-Start and X-Window-End say which
    window an answer covers.
    """

    http_method_names = ["get"]
    schema = _VersionedSchema()

    @extend_schema(
        parameters=[AnalysisQuerySerializer, *RESPONSE_HEADERS],
        responses={
            200: OpenApiResponse(ANALYSIS_SCHEMA, "The analysis of the window."),
            400: OpenApiResponse(ERROR_SCHEMA, "A parameter is missing or not accepted."),
            404: OpenApiResponse(ERROR_SCHEMA, "No post in the window carries any dimension."),
            502: OpenApiResponse(ERROR_SCHEMA, "Realtime: the upstream was unreachable."),
            503: OpenApiResponse(ERROR_SCHEMA, "Realtime: too many at once; see Retry-After."),
        },
    )
    def get(self, request: Request) -> Response:
        query = AnalysisQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        question = query.question(query.validated_data["duration"])
        self.mode = mode_of(question.duration)
        analysis = analyse(question, started=self.started)
        return Response(analysis.as_dict(), headers=window_headers(analysis.window))

    def initial(self, request, *args, **kwargs):
        # The request's start (a realtime window counts from here) and its mode, which label
        # the request's metrics whatever the answer, error or not.
        self.started = time.monotonic()
        self.mode = "none"  # until the query is valid
        super().initial(request, *args, **kwargs)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        metrics.REQUESTS.labels(self.mode, response.status_code).inc()
        metrics.LATENCY.labels(self.mode).observe(time.monotonic() - self.started)
        return response
