from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema_field
from rest_framework import serializers

from analysis.results import Window
from analyzer_project.durations import format_duration, parse_duration
from ingestion.parser import DIMENSIONS


@extend_schema_field(
    {"type": "string", "pattern": r"^(([0-9]+\.?[0-9]*|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h))+$"}
)
class GoDurationField(serializers.CharField):
    """A Go duration ("90s", "1h30m") within the configured bounds, as a timedelta."""

    def to_internal_value(self, data):
        text = super().to_internal_value(data)
        try:
            value = parse_duration(text)
        except ValueError as error:
            raise serializers.ValidationError(str(error)) from None
        low, high = settings.ANALYSIS_MIN_DURATION, settings.ANALYSIS_MAX_DURATION
        if not low <= value <= high:
            raise serializers.ValidationError(
                f"{text!r} is out of range: use {format_duration(low)} to {format_duration(high)}"
            )
        return value


class AnalysisQuerySerializer(serializers.Serializer):
    duration = GoDurationField(
        trim_whitespace=False,
        help_text="Window length in Go duration syntax, e.g. 5s, 90s, 10m, 1h30m, 24h.",
        error_messages={
            "required": "is required, e.g. duration=30s",
            "blank": "is empty: give a length such as 30s",
        },
    )
    dimension = serializers.ChoiceField(
        choices=DIMENSIONS,
        help_text="The engagement field whose percentiles are computed.",
        error_messages={
            "required": f"is required: one of {', '.join(DIMENSIONS)}",
            "invalid_choice": f'"{{input}}" is not accepted: use one of {", ".join(DIMENSIONS)}',
        },
    )

    def to_internal_value(self, data):
        for name in self.fields:
            if hasattr(data, "getlist") and len(data.getlist(name)) > 1:
                raise serializers.ValidationError({name: "is given more than once: give it once"})
        return super().to_internal_value(data)


ERROR_SCHEMA = {
    "type": "object",
    "properties": {"error": {"type": "string", "description": "What to change, naming it."}},
    "required": ["error"],
}

ANALYSIS_SCHEMA = {
    "type": "object",
    "description": (
        "Counts over the window and the nearest-rank (percentile_disc) percentiles of the"
        " dimension over the posts that carry it; the percentile keys are named after the"
        " dimension: likes_p50, likes_p90, likes_p99 for dimension=likes."
    ),
    "properties": {
        "total_posts": {"type": "integer", "minimum": 1},
        "minimum_timestamp": {"type": "integer", "description": "Oldest creation time, Unix s"},
        "maximum_timestamp": {"type": "integer", "description": "Newest creation time, Unix s"},
    },
    "required": ["total_posts", "minimum_timestamp", "maximum_timestamp"],
    "additionalProperties": {"type": "integer", "minimum": 0},
    "example": {
        "total_posts": 42,
        "minimum_timestamp": 1737000000,
        "maximum_timestamp": 1737000030,
        "likes_p50": 150,
        "likes_p90": 2500,
        "likes_p99": 15000,
    },
}


UNIX_MILLISECONDS = r"^[0-9]+\.[0-9]{3}$"


def _header(
    name: str, description: str, *, required: bool, pattern: str | None = None
) -> OpenApiParameter:
    return OpenApiParameter(
        name,
        str,
        OpenApiParameter.HEADER,
        required=required,
        description=description,
        pattern=pattern,
        response=[200, 404, 502] if required else [200, 404],
    )


RESPONSE_HEADERS = [
    _header(
        "X-Window-Start",
        "Start of the window the answer covers: Unix seconds with milliseconds, wall clock"
        " (realtime: the request's start; historical: now - duration).",
        required=True,
        pattern=UNIX_MILLISECONDS,
    ),
    _header(
        "X-Window-End",
        "End of the window the answer covers, as X-Window-Start (realtime: the deadline,"
        " start + duration; historical: the `now` the answer was computed at).",
        required=True,
        pattern=UNIX_MILLISECONDS,
    ),
    _header(
        "X-Data-Age",
        "Historical: seconds since the newest stored post arrived.",
        required=False,
    ),
    _header(
        "X-Data-Since",
        "Historical: Unix time of the start of the data covered (the window start, or the"
        " oldest stored post if later).",
        required=False,
    ),
]


def window_headers(window: Window | None) -> dict[str, str]:
    """The RESPONSE_HEADERS stating `window` (none without one)."""
    if window is None:
        return {}
    headers = {"X-Window-Start": f"{window.start:.3f}", "X-Window-End": f"{window.end:.3f}"}
    coverage = window.coverage
    if coverage is not None and coverage.newest is not None:
        headers["X-Data-Age"] = str(coverage.age_seconds)
        headers["X-Data-Since"] = str(int(coverage.since.timestamp()))
    return headers
