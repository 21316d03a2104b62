from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema_field
from rest_framework import serializers
from rest_framework.fields import empty

from analysis.cover import MINUTE
from analysis.percentiles import DEFAULT_PERCENTILES, MAX_FRACTION_DIGITS, Percentile
from analysis.results import Question, Window
from analyzer_project.durations import format_duration, parse_duration
from analyzer_project.request_id import VALID_ID
from ingestion.parser import DIMENSIONS, TYPE_LIMIT

MAX_PERCENTILES = 10
MAX_POST_TYPES = 20
MAX_POINTS = 1440


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
        low, high = self.bounds()
        if not low <= value <= high:
            raise serializers.ValidationError(
                f"{text!r} is out of range: use {format_duration(low)} to {format_duration(high)}"
            )
        return value

    def bounds(self) -> tuple[timedelta, timedelta]:
        return settings.ANALYSIS_MIN_DURATION, settings.ANALYSIS_MAX_DURATION


class StepField(GoDurationField):
    """A series' step: a whole number of minutes, from a minute to the longest window."""

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if value % MINUTE:
            raise serializers.ValidationError(
                f"{data!r} is not a whole number of minutes: use e.g. 1m, 10m, 1h, 1h30m"
            )
        return value

    def bounds(self) -> tuple[timedelta, timedelta]:
        return MINUTE, settings.ANALYSIS_MAX_DURATION


class CommaSeparatedField(serializers.CharField):
    """A comma-separated list, each item read by `item` (which raises ValueError saying what
    is accepted), without duplicates (after reading) and with at most `limit` items."""

    def __init__(self, *, item: Callable[[str], object], limit: int, **kwargs) -> None:
        super().__init__(trim_whitespace=False, **kwargs)
        self.item, self.limit = item, limit

    def get_value(self, dictionary):
        # DRF reads an empty optional query parameter as absent: here it is a list to refuse.
        return dictionary.get(self.field_name, empty)

    def run_validation(self, data=empty):
        if data == "":  # no item at all: the item's rule says what is accepted
            return self.to_internal_value(data)
        return super().run_validation(data)

    def to_internal_value(self, data):
        items = []
        for text in super().to_internal_value(data).split(","):
            try:
                value = self.item(text)
            except ValueError as error:
                raise serializers.ValidationError(str(error)) from None
            if value in items:
                raise serializers.ValidationError(f'"{text}" is given twice: give each once')
            items.append(value)
        if len(items) > self.limit:
            raise serializers.ValidationError(f"has {len(items)} items: give at most {self.limit}")
        return tuple(items)


def _dimension(text: str) -> str:
    if text not in DIMENSIONS:
        raise ValueError(f'"{text}" is not accepted: use one of {", ".join(DIMENSIONS)}')
    return text


def _post_type(text: str) -> str:
    if "\x00" in text:  # no stored type holds one (the parser drops them), nor can SQL text
        raise ValueError("holds a NUL character: give post types such as tweet")
    if not 0 < len(text) <= TYPE_LIMIT:
        raise ValueError(
            f'"{text[:TYPE_LIMIT]}" is not a post type: give names of 1 to {TYPE_LIMIT}'
            " characters, such as tweet or instagram_media, separated by commas"
        )
    return text


def _names(pattern: str) -> str:
    return f"^{pattern}(,{pattern})*$"


@extend_schema_field({"type": "string", "pattern": _names(f"({'|'.join(DIMENSIONS)})")})
class DimensionsField(CommaSeparatedField):
    pass


@extend_schema_field(
    {"type": "string", "pattern": _names(r"[0-9]+(\.[0-9]+)?"), "default": "50,90,99"}
)
class PercentilesField(CommaSeparatedField):
    pass


@extend_schema_field({"type": "string", "pattern": _names(f"[^,]{{1,{TYPE_LIMIT}}}")})
class PostTypesField(CommaSeparatedField):
    pass


class QuerySerializer(serializers.Serializer):
    """What every analysis takes besides its window: dimensions, percentiles, post types."""

    dimension = DimensionsField(
        item=_dimension,
        limit=len(DIMENSIONS),
        help_text=(
            f"The engagement fields whose percentiles are computed: one or more of"
            f" {', '.join(DIMENSIONS)}, comma-separated (likes,comments)."
        ),
        error_messages={"required": f"is required: one of {', '.join(DIMENSIONS)}"},
    )
    percentiles = PercentilesField(
        item=Percentile.parse,
        limit=MAX_PERCENTILES,
        required=False,
        help_text=(
            f"Comma-separated percentiles, each a decimal above 0 and up to 100 with at most"
            f" {MAX_FRACTION_DIGITS} fraction digits, at most {MAX_PERCENTILES}: 50,95,99.9."
            f" Default 50,90,99. Keys are <dimension>_p<value>: likes_p99.9, likes_p100."
        ),
    )
    post_type = PostTypesField(
        item=_post_type,
        limit=MAX_POST_TYPES,
        required=False,
        help_text=(
            "Comma-separated post types (tweet, instagram_media, …; an unknown name matches"
            f" nothing), at most {MAX_POST_TYPES}: every figure then covers only posts of"
            " those types. Default: all."
        ),
    )

    def to_internal_value(self, data):
        for name in self.fields:
            if hasattr(data, "getlist") and len(data.getlist(name)) > 1:
                raise serializers.ValidationError({name: "is given more than once: give it once"})
        return super().to_internal_value(data)

    def question(self, duration: timedelta) -> Question:
        """The validated query as a Question over the last `duration`."""
        data = self.validated_data
        return Question(
            data["dimension"],
            duration,
            data.get("percentiles", DEFAULT_PERCENTILES),
            data.get("post_type", ()),
        )


class AnalysisQuerySerializer(QuerySerializer):
    duration = GoDurationField(
        trim_whitespace=False,
        help_text="Window length in Go duration syntax, e.g. 5s, 90s, 10m, 1h30m, 24h.",
        error_messages={
            "required": "is required, e.g. duration=30s",
            "blank": "is empty: give a length such as 30s",
        },
    )


class SeriesQuerySerializer(AnalysisQuerySerializer):
    """The window (whole seconds) and the step that cuts it into at most MAX_POINTS points."""

    step = StepField(
        trim_whitespace=False,
        help_text=(
            "Length of each point, a whole number of minutes in Go duration syntax (1m, 10m,"
            " 1h), up to the duration. Points are steps of the UTC clock (10m: :00, :10, …);"
            " the last holds now; a duration not a multiple of the step makes the first"
            f" point shorter; at most {MAX_POINTS} points."
        ),
        error_messages={
            "required": "is required, e.g. step=10m",
            "blank": "is empty: give a length such as 10m",
        },
    )

    def validate(self, attrs):
        duration, step = attrs["duration"], attrs["step"]
        if duration % timedelta(seconds=1):
            raise serializers.ValidationError(
                {"duration": f"{format_duration(duration)} is not whole seconds: use e.g. 6h, 90m"}
            )
        if step > duration:
            raise serializers.ValidationError(
                {
                    "step": f"{format_duration(step)} is longer than the duration: use at most"
                    f" {format_duration(duration)}"
                }
            )
        points = -(-duration // step)
        if points > MAX_POINTS:
            raise serializers.ValidationError(
                {
                    "step": f"{format_duration(step)} cuts {format_duration(duration)} into"
                    f" {points} points: use a longer step (at most {MAX_POINTS} points)"
                }
            )
        return attrs


ERROR_SCHEMA = {
    "type": "object",
    "properties": {"error": {"type": "string", "description": "What to change, naming it."}},
    "required": ["error"],
}

ANALYSIS_SCHEMA = {
    "type": "object",
    "description": (
        "Counts over the window and the nearest-rank (percentile_disc) percentiles of each"
        " dimension over the posts that carry it; the percentile keys are named after the"
        " dimension and the percentile: likes_p50, likes_p90, likes_p99 for dimension=likes,"
        " likes_p99.9 for percentiles=99.9. A dimension no post of the window carries has"
        " null for its keys (when several are asked)."
    ),
    "properties": {
        "total_posts": {"type": "integer", "minimum": 1},
        "minimum_timestamp": {"type": "integer", "description": "Oldest creation time, Unix s"},
        "maximum_timestamp": {"type": "integer", "description": "Newest creation time, Unix s"},
    },
    "required": ["total_posts", "minimum_timestamp", "maximum_timestamp"],
    "additionalProperties": {"type": "integer", "minimum": 0, "nullable": True},
    "example": {
        "total_posts": 42,
        "minimum_timestamp": 1737000000,
        "maximum_timestamp": 1737000030,
        "likes_p50": 150,
        "likes_p90": 2500,
        "likes_p99": 15000,
    },
}

_POINT_SCHEMA = {
    "type": "object",
    "description": (
        "The analysis of the posts with arrived_at in (start, end], as /analysis answers over"
        " that interval; a point without posts has total_posts 0 and null for every other"
        " figure."
    ),
    "properties": {
        "start": {"type": "integer", "description": "Start of the point (excluded), Unix s"},
        "end": {"type": "integer", "description": "End of the point (included), Unix s"},
        "total_posts": {"type": "integer", "minimum": 0},
        "minimum_timestamp": {"type": "integer", "nullable": True},
        "maximum_timestamp": {"type": "integer", "nullable": True},
    },
    "required": ["start", "end", "total_posts", "minimum_timestamp", "maximum_timestamp"],
    "additionalProperties": {"type": "integer", "minimum": 0, "nullable": True},
}

SERIES_SCHEMA = {
    "type": "object",
    "description": (
        "The window cut into steps of the UTC clock, one point per step, oldest first. The"
        " last point is the step holding now (it ends at or after now); the window is the"
        " duration before its end, so the first point is shorter when the duration is not a"
        " multiple of the step."
    ),
    "properties": {
        "duration": {"type": "string", "description": "The window's length, Go syntax"},
        "step": {"type": "string", "description": "Each point's length, Go syntax"},
        "points": {"type": "array", "items": _POINT_SCHEMA, "maxItems": MAX_POINTS},
    },
    "required": ["duration", "step", "points"],
    "example": {
        "duration": "20m0s",
        "step": "10m0s",
        "points": [
            {
                "start": 1737000000,
                "end": 1737000600,
                "total_posts": 0,
                "minimum_timestamp": None,
                "maximum_timestamp": None,
                "likes_p50": None,
                "likes_p90": None,
                "likes_p99": None,
            },
            {
                "start": 1737000600,
                "end": 1737001200,
                "total_posts": 58000,
                "minimum_timestamp": 1736990000,
                "maximum_timestamp": 1737001199,
                "likes_p50": 12,
                "likes_p90": 310,
                "likes_p99": 7400,
            },
        ],
    },
}


UNIX_MILLISECONDS = r"^[0-9]+\.[0-9]{3}$"


def _header(
    name: str,
    description: str,
    *,
    required: bool,
    pattern: str | None = None,
    response: list[int] | bool | None = None,
) -> OpenApiParameter:
    if response is None:
        response = [200, 404, 502] if required else [200, 404]
    return OpenApiParameter(
        name,
        str,
        OpenApiParameter.HEADER,
        required=required,
        description=description,
        pattern=pattern,
        response=response,
    )


REQUEST_ID = f"^{VALID_ID.pattern}$"

RESPONSE_HEADERS = [
    OpenApiParameter(
        "X-Request-ID",
        str,
        OpenApiParameter.HEADER,
        description="An ID for this request, returned and put on its log lines: up to 128"
        " letters, digits and ._:@/+=- (anything else is replaced by a fresh ID).",
    ),
    _header(
        "X-Request-ID",
        "The request's ID: the caller's X-Request-ID if it was valid, else a fresh one.",
        required=True,
        pattern=REQUEST_ID,
        response=True,
    ),
    _header(
        "Retry-After",
        "Seconds to wait before asking again.",
        required=True,
        pattern=r"^[0-9]+$",
        response=[429, 503],
    ),
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


STORED_SCHEMA = {
    "type": "object",
    "properties": {
        "posts_stored": {"type": "integer", "minimum": 0, "description": "Posts in the table."},
        "oldest_arrival": {
            "type": "number",
            "nullable": True,
            "description": "Arrival of the oldest stored post, Unix s (null: none stored).",
        },
        "newest_arrival": {
            "type": "number",
            "nullable": True,
            "description": "Arrival of the newest stored post, Unix s (null: none stored).",
        },
        "newest_age_seconds": {
            "type": "number",
            "nullable": True,
            "description": "Seconds from the newest arrival to `now` (null: none stored).",
        },
        "now": {"type": "number", "description": "When the answer was computed, Unix s."},
    },
    "required": ["posts_stored", "oldest_arrival", "newest_arrival", "newest_age_seconds", "now"],
    "example": {
        "posts_stored": 4_318_200,
        "oldest_arrival": 1737000000.125,
        "newest_arrival": 1737086399.87,
        "newest_age_seconds": 0.412,
        "now": 1737086400.282,
    },
}
