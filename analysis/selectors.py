"""What /analysis runs: the mode a window's length chooses, and the run.

Up to REALTIME_MAX_DURATION a window is read live from the upstream stream, from the
request's start to its deadline (analysis/realtime.py); longer windows are read from the
stored posts at once (analysis/historical.py), identical concurrent questions sharing one
computation (analysis/shared.py). Both return the same Analysis and raise the same
NoDataError (analysis/results.py).
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings

from analysis.realtime import SLOTS, RealtimeWindow
from analysis.realtime_clients import CLIENT_WINDOWS
from analysis.results import Analysis, Question
from analysis.shared import shared_post_percentiles

REALTIME, HISTORICAL = "realtime", "historical"


def mode_of(duration: timedelta) -> str:
    return REALTIME if duration <= settings.REALTIME_MAX_DURATION else HISTORICAL


def analyse(question: Question, *, started: float, client: str = "") -> Analysis:
    """Answer `question` for `client`; a realtime window counts from `started` (monotonic).

    Realtime raises ClientBusyError when `client` has REALTIME_MAX_PER_CLIENT windows open,
    RealtimeBusyError when REALTIME_MAX_CONCURRENT are, and UpstreamUnavailableError when the
    upstream stayed unreachable for the whole window.
    """
    if mode_of(question.duration) == HISTORICAL:
        return shared_post_percentiles(question)
    per_client = settings.REALTIME_MAX_PER_CLIENT
    with (
        CLIENT_WINDOWS.hold(client, limit=per_client),
        SLOTS.slot(settings.REALTIME_MAX_CONCURRENT),
    ):
        return RealtimeWindow(settings.STREAM_URL, question, started=started).run()
