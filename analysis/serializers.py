from __future__ import annotations

from django.conf import settings
from rest_framework import serializers

from analyzer_project.durations import format_duration, parse_duration
from ingestion.parser import DIMENSIONS


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


class AnalysisSerializer(serializers.Serializer):
    """The documented shape of a 200 answer (for likes; other dimensions name their keys)."""

    total_posts = serializers.IntegerField()
    minimum_timestamp = serializers.IntegerField()
    maximum_timestamp = serializers.IntegerField()
    likes_p50 = serializers.IntegerField()
    likes_p90 = serializers.IntegerField()
    likes_p99 = serializers.IntegerField()
