"""How a historical window splits into what the aggregates count and what is read raw.

A window (since, now] is covered by whole hours in the middle, then whole minutes, then
whole seconds towards its edges, and the raw rows of the partial seconds at both ends:
at most two seconds of rows, whatever the stream rate (ingestion/aggregates.py writes the
per-second, per-minute and per-hour counts).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from ingestion.partitions import floor

SECOND, MINUTE, HOUR = timedelta(seconds=1), timedelta(minutes=1), timedelta(hours=1)
MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class Cover:
    """The periods of each span inside (since, now], each nested in the finer one.

    Raw rows: (since, second_from) and [second_to, now]. Whole seconds: [second_from,
    minute_from) and [minute_to, second_to). Whole minutes: [minute_from, hour_from) and
    [hour_to, minute_to). Whole hours: [hour_from, hour_to). An empty level has from == to.
    """

    since: datetime
    now: datetime
    second_from: datetime
    second_to: datetime
    minute_from: datetime
    minute_to: datetime
    hour_from: datetime
    hour_to: datetime


def window_cover(*, since: datetime, now: datetime) -> Cover:
    """Split (since, now] into raw edges and whole seconds, minutes and hours."""
    # `since` itself is excluded: a second starting exactly there is not whole.
    low, high = floor(since, SECOND) + SECOND, floor(now, SECOND)
    if low >= high:  # no whole second: all raw, as (since, now) + [now, now]
        low = high = now
    bounds = [low, high]
    for period in (MINUTE, HOUR):
        # The coarser periods that fit in [low, high); low itself is included now.
        inner_low, inner_high = floor(low - MICROSECOND, period) + period, floor(high, period)
        if inner_low >= inner_high:
            inner_low = inner_high = high
        low, high = inner_low, inner_high
        bounds += [low, high]
    return Cover(since, now, *bounds)
