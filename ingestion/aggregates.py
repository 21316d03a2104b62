"""Per-minute and per-hour counts of dimension values in log-spaced buckets.

The historical percentiles (analysis/selectors.py) sum these counts instead of sorting
every value of the window, then read one exact value per percentile from its bucket.
posts_ingest writes them in the COPY's transaction, so any snapshot sees rows and counts
agree. The bucket boundaries are defined here once and sent to SQL as an array:
`width_bucket(value, BOUNDS)` and `bisect_right(BOUNDS, value)` are the same integer
comparison, so Python and PostgreSQL always put a value in the same bucket.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection

from ingestion.parser import DIMENSIONS, INT64_MAX, Post
from ingestion.partitions import floor

MINUTE, HOUR = timedelta(minutes=1), timedelta(hours=1)
SPANS = {"minute": 60, "hour": 3600}  # the `span` column: seconds a row covers


def _bounds() -> tuple[int, ...]:
    # One bucket per value up to 63 (where most posts are), then 16 per doubling: a bucket
    # holds at most ~6 % of its neighbourhood's range, 976 buckets cover all of int64.
    bounds = list(range(64))
    for exponent in range(6, 63):
        step = 2 ** (exponent - 4)
        bounds.extend(2**exponent + i * step for i in range(16))
    return tuple(bounds)


BOUNDS = _bounds()


def bucket_of(value: int) -> int:
    """Return the bucket of value: 1 + the index of the last boundary ≤ value."""
    return bisect_right(BOUNDS, value)


def bucket_range(bucket: int) -> tuple[int, int]:
    """Return the smallest and largest value of a bucket (inclusive)."""
    if bucket == 0:  # below every boundary: never a carried count, kept total anyway
        return -INT64_MAX - 1, -1
    high = BOUNDS[bucket] - 1 if bucket < len(BOUNDS) else INT64_MAX
    return BOUNDS[bucket - 1], high


@dataclass(frozen=True, slots=True)
class Cover:
    """How a window (since, now] splits: raw rows at the edges, minutes, then hours.

    Raw rows: (since, minutes_from) and [minutes_to, now]. Whole minutes: [minutes_from,
    hours_from) and [hours_to, minutes_to). Whole hours: [hours_from, hours_to).
    """

    since: datetime
    now: datetime
    minutes_from: datetime
    minutes_to: datetime
    hours_from: datetime
    hours_to: datetime


def window_cover(*, since: datetime, now: datetime) -> Cover:
    """Split (since, now] into whole hours, whole minutes and raw edges."""
    # A minute starting exactly at `since` is not whole: `since` itself is excluded.
    first = floor(since, MINUTE) + MINUTE
    last = floor(now, MINUTE)
    if first >= last:  # no whole minute: all raw, as (since, now) + [now, now]
        return Cover(since, now, now, now, now, now)
    hours_from = floor(first - timedelta(microseconds=1), HOUR) + HOUR
    hours_to = floor(last, HOUR)
    if hours_from >= hours_to:
        hours_from = hours_to = last
    return Cover(since, now, first, last, hours_from, hours_to)


def _count(posts: Iterable[tuple[datetime, Post]]) -> tuple[Counter, dict]:
    """Return {(minute, dimension, bucket): n} and {minute: [posts, min, max created_ts]}."""
    buckets: Counter = Counter()
    minutes: dict[datetime, list[int]] = {}
    for arrived_at, post in posts:
        minute = floor(arrived_at, MINUTE)
        for dimension in DIMENSIONS:
            value = getattr(post, dimension)
            if value is not None:
                buckets[minute, dimension, bucket_of(value)] += 1
        summary = minutes.get(minute)
        if summary is None:
            minutes[minute] = [1, post.created_ts, post.created_ts]
        else:
            summary[0] += 1
            summary[1] = min(summary[1], post.created_ts)
            summary[2] = max(summary[2], post.created_ts)
    return buckets, minutes


def _rows_by_span(buckets: Counter, minutes: dict) -> tuple[list[tuple], list[tuple]]:
    """Roll the minute counts up into hours; return bucket rows and summary rows, sorted."""
    hour_buckets: Counter = Counter()
    for (minute, dimension, bucket), n in buckets.items():
        hour_buckets[floor(minute, HOUR), dimension, bucket] += n
    hours: dict[datetime, list[int]] = {}
    for minute, (posts, low, high) in minutes.items():
        summary = hours.setdefault(floor(minute, HOUR), [0, low, high])
        summary[:] = [summary[0] + posts, min(summary[1], low), max(summary[2], high)]
    # Sorted: two writers (a standby taking over, a bulk load) then lock rows in one order.
    bucket_rows = sorted(
        [(SPANS["minute"], d, m, b, n) for (m, d, b), n in buckets.items()]
        + [(SPANS["hour"], d, h, b, n) for (h, d, b), n in hour_buckets.items()]
    )
    summary_rows = sorted(
        [(SPANS["minute"], m, *s) for m, s in minutes.items()]
        + [(SPANS["hour"], h, *s) for h, s in hours.items()]
    )
    return bucket_rows, summary_rows


_ADD_BUCKETS = """
    INSERT INTO ingestion_bucketcount (span, dimension, start, bucket, n)
    SELECT * FROM unnest(%s::smallint[], %s::varchar[], %s::timestamptz[], %s::smallint[],
                         %s::bigint[])
    ON CONFLICT (span, dimension, start, bucket)
    DO UPDATE SET n = ingestion_bucketcount.n + EXCLUDED.n
"""
_ADD_SUMMARIES = """
    INSERT INTO ingestion_periodsummary (span, start, posts, min_created_ts, max_created_ts)
    SELECT * FROM unnest(%s::smallint[], %s::timestamptz[], %s::bigint[], %s::bigint[],
                         %s::bigint[])
    ON CONFLICT (span, start) DO UPDATE SET
        posts = ingestion_periodsummary.posts + EXCLUDED.posts,
        min_created_ts = least(ingestion_periodsummary.min_created_ts, EXCLUDED.min_created_ts),
        max_created_ts = greatest(ingestion_periodsummary.max_created_ts, EXCLUDED.max_created_ts)
"""


def aggregates_add(*, posts: Sequence[tuple[datetime, Post]]) -> None:
    """Add posts to the minute and hour aggregates; call inside the transaction storing them."""
    if not posts:
        return
    bucket_rows, summary_rows = _rows_by_span(*_count(posts))
    # One statement per table whatever the batch size: columns travel as arrays.
    with connection.cursor() as cursor:
        if bucket_rows:  # none when no post of the batch carries a dimension
            cursor.execute(_ADD_BUCKETS, _columns(bucket_rows))
        cursor.execute(_ADD_SUMMARIES, _columns(summary_rows))


def _columns(rows: list[tuple]) -> list[list]:
    return [list(column) for column in zip(*rows, strict=True)]


def aggregates_delete_before(*, start: datetime) -> None:
    """Delete the aggregates of the minutes and hours before start."""
    # Small tables (a few rows per minute and dimension): a DELETE is cheap enough here.
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM ingestion_bucketcount WHERE start < %s", [start])
        cursor.execute("DELETE FROM ingestion_periodsummary WHERE start < %s", [start])
