"""System checks of the ingestion settings."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.checks import Error, register

from analyzer_project.durations import format_duration


@register()
def check_partition_interval(app_configs, **kwargs):
    interval = settings.PARTITION_INTERVAL
    if timedelta(days=1) % interval or interval < timedelta(minutes=1):
        return [
            Error(
                f"PARTITION_INTERVAL ({format_duration(interval)}) must be at least 1m and"
                " divide a day (e.g. 1m, 5m, 15m, 1h, 2h).",
                id="ingestion.E001",
            )
        ]
    return []
