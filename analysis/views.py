from __future__ import annotations

import socket
import struct
import time

from django.utils import timezone
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
    SERIES_SCHEMA,
    STORED_SCHEMA,
    AnalysisQuerySerializer,
    SeriesQuerySerializer,
    window_headers,
)
from analysis.series import post_series
from analysis.stored import posts_stored
from analyzer_project.clients import client_ip

_TCP_INFO_SIZE, _LAST_DATA_RECV = 104, 52  # struct tcp_info: its size, tcpi_last_data_recv


def arrival(request: Request) -> float:
    """Return when the request arrived, as a time.monotonic() moment.

    Under a crowd, requests wait for the process's GIL before any Python code of theirs
    runs: 256 realtime requests arriving together start up to a few hundred milliseconds
    apart. The kernel knows better: on Linux, TCP_INFO's tcpi_last_data_recv is the
    milliseconds since the connection last received data, the end of this request. Under
    gunicorn the socket is in the environ; elsewhere (runserver, tests) it is now.
    """
    now = time.monotonic()
    connection = request.META.get("gunicorn.socket")
    try:
        info = connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, _TCP_INFO_SIZE)
    except (AttributeError, OSError):  # no socket, not TCP, or not Linux
        return now
    return now - struct.unpack_from("I", info, _LAST_DATA_RECV)[0] / 1000


class _VersionedSchema(AutoSchema):
    """The same view answers /analysis and /v1/analysis: one operation id for each path."""

    def get_operation_id(self) -> str:
        return "_".join(part for part in self.path.split("/") if part)


class MeasuredApi(APIView):
    """An analysis route whose requests are counted and timed by mode in /metrics."""

    http_method_names = ["get"]
    schema = _VersionedSchema()

    def initial(self, request, *args, **kwargs):
        # The request's start (a realtime window counts from here) and its mode, which label
        # the request's metrics whatever the answer, error or not.
        self.started = arrival(request)
        self.mode = "none"  # until the query is valid
        super().initial(request, *args, **kwargs)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        metrics.REQUESTS.labels(self.mode, response.status_code).inc()
        metrics.LATENCY.labels(self.mode).observe(time.monotonic() - self.started)
        return response


class AnalysisApi(MeasuredApi):
    """Count and percentiles of the posts of the last `duration`.

    Up to REALTIME_MAX_DURATION the window is read live from the upstream stream (windows
    open at the same time share one connection; the answer comes when the window ends);
    longer windows read the stored posts at once. X-Window-Start and X-Window-End say which
    window an answer covers.
    """

    @extend_schema(
        parameters=[AnalysisQuerySerializer, *RESPONSE_HEADERS],
        responses={
            200: OpenApiResponse(ANALYSIS_SCHEMA, "The analysis of the window."),
            400: OpenApiResponse(ERROR_SCHEMA, "A parameter is missing or not accepted."),
            404: OpenApiResponse(ERROR_SCHEMA, "No post in the window carries any dimension."),
            502: OpenApiResponse(ERROR_SCHEMA, "Realtime: the upstream was unreachable."),
            429: OpenApiResponse(
                ERROR_SCHEMA,
                "Too many requests from this client (ANALYSIS_RATE_LIMIT), or too many realtime"
                " windows open at once from it (REALTIME_MAX_PER_CLIENT); see Retry-After.",
            ),
            503: OpenApiResponse(ERROR_SCHEMA, "Realtime: too many at once; see Retry-After."),
        },
    )
    def get(self, request: Request) -> Response:
        query = AnalysisQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        question = query.question(query.validated_data["duration"])
        self.mode = mode_of(question.duration)
        analysis = analyse(question, started=self.started, client=client_ip(request))
        return Response(analysis.as_dict(), headers=window_headers(analysis.window))


class SeriesApi(MeasuredApi):
    """The stored posts of a window, analysed step by step: one exact point per step.

    The points are steps of the UTC clock (step 10m: :00, :10, …), the last one holding
    now; each equals /analysis over its interval. The duration is as for /analysis, in
    whole seconds; stored posts only, whatever its length. X-Window-Start and X-Window-End
    state the whole window.
    """

    @extend_schema(
        parameters=[SeriesQuerySerializer, *RESPONSE_HEADERS],
        responses={
            200: OpenApiResponse(SERIES_SCHEMA, "One point per step of the window."),
            400: OpenApiResponse(ERROR_SCHEMA, "A parameter is missing or not accepted."),
            429: OpenApiResponse(
                ERROR_SCHEMA,
                "Too many requests from this client (ANALYSIS_RATE_LIMIT); see Retry-After.",
            ),
        },
    )
    def get(self, request: Request) -> Response:
        query = SeriesQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        self.mode = "series"
        data = query.validated_data
        series = post_series(
            query.question(data["duration"]), step=data["step"], now=timezone.now()
        )
        return Response(series.as_dict(), headers=window_headers(series.window))


class StoredApi(APIView):
    """How many posts are stored, and how old the oldest and the newest are.

    Exact and cheap: the count is summed from the hourly summaries written with the posts.
    The dashboard's stream health reads it.
    """

    http_method_names = ["get"]

    @extend_schema(responses={200: OpenApiResponse(STORED_SCHEMA, "What the table holds.")})
    def get(self, request: Request) -> Response:
        return Response(posts_stored(now=timezone.now()).as_dict())
