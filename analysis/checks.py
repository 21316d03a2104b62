"""System checks of the API's settings, and of the secret key (ingestion/checks.py has its own)."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Warning, register

from analyzer_project.durations import format_duration


@register()
def check_durations(app_configs, **kwargs):
    errors = []
    low, high = settings.ANALYSIS_MIN_DURATION, settings.ANALYSIS_MAX_DURATION
    if low > high:
        errors.append(
            Error(
                f"ANALYSIS_MIN_DURATION ({format_duration(low)}) is longer than"
                f" ANALYSIS_MAX_DURATION ({format_duration(high)}).",
                id="analysis.E001",
            )
        )
    if high > settings.RETENTION:
        errors.append(
            Error(
                f"ANALYSIS_MAX_DURATION ({format_duration(high)}) is longer than RETENTION"
                f" ({format_duration(settings.RETENTION)}): such windows would miss data.",
                id="analysis.E002",
            )
        )
    return errors


@register(deploy=True)
def check_secret_key(app_configs, **kwargs):
    if settings.SECRET_KEY == settings.DEVELOPMENT_SECRET_KEY:
        return [Warning("DJANGO_SECRET_KEY is not set.", id="analysis.W001")]
    return []
