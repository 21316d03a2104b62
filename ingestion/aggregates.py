"""Per-second, per-minute and per-hour counts of dimension values in log-spaced buckets.

The historical percentiles (analysis/historical.py) sum these counts instead of sorting
every value of the window, then read one exact value per percentile from its bucket. The
per-second level keeps the raw rows a window's edges must still read to under a second's
worth, whatever the stream rate; a second holds few posts of many values, so its counts are
one sparse histogram per dimension (`ingestion_secondcount`), not a row per bucket as the
minutes and hours have (`ingestion_bucketcount`). posts_ingest writes them all in the COPY's
transaction, so any snapshot sees rows and counts agree. The bucket boundaries are defined
here once and sent to SQL as an array: `width_bucket(value, BOUNDS)` and
`bisect_right(BOUNDS, value)` are the same integer comparison, so Python and PostgreSQL
always put a value in the same bucket.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from operator import attrgetter

from django.db import connection

from ingestion.parser import DIMENSIONS, ParsedPost
from ingestion.partitions import floor

MINUTE, HOUR = timedelta(minutes=1), timedelta(hours=1)
# The `span` column: seconds a row covers (ingestion_bucketcount has minutes and hours only).
SPANS = {"second": 1, "minute": 60, "hour": 3600}


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


def _count(posts: Iterable[tuple[datetime, ParsedPost]]) -> dict[int, tuple[Counter, dict]]:
    """Count posts per second, then roll the seconds up into minutes and hours.

    Return {span: ({(start, dimension, bucket): n}, {start: [posts, min, max created_ts]})}.
    """
    by_second: dict[datetime, list[ParsedPost]] = {}
    for arrived_at, post in posts:
        by_second.setdefault(arrived_at.replace(microsecond=0), []).append(post)
    buckets: Counter = Counter()
    summaries: dict[datetime, list[int]] = {}
    for second, group in by_second.items():
        for dimension in DIMENSIONS:
            values = [v for v in map(attrgetter(dimension), group) if v is not None]
            for bucket, n in Counter(map(bucket_of, values)).items():
                buckets[second, dimension, bucket] = n
        created = [post.created_ts for post in group]
        summaries[second] = [len(group), min(created), max(created)]
    counts = {SPANS["second"]: (buckets, summaries)}
    for name, period in (("minute", MINUTE), ("hour", HOUR)):
        buckets, summaries = _roll_up(buckets, summaries, period)
        counts[SPANS[name]] = (buckets, summaries)
    return counts


def _roll_up(buckets: Counter, summaries: dict, period: timedelta) -> tuple[Counter, dict]:
    """Sum finer counts into the periods that contain them."""
    rolled: Counter = Counter()
    for (start, dimension, bucket), n in buckets.items():
        rolled[floor(start, period), dimension, bucket] += n
    totals: dict[datetime, list[int]] = {}
    for start, (posts, low, high) in summaries.items():
        total = totals.setdefault(floor(start, period), [0, low, high])
        total[:] = [total[0] + posts, min(total[1], low), max(total[2], high)]
    return rolled, totals


# Rows arrive sorted: two writers (a standby taking over, a bulk load) lock them in one order.
_ADD_SECONDS = """
    INSERT INTO ingestion_secondcount (dimension, start, buckets, counts)
    SELECT dimension, start, array_agg(bucket ORDER BY bucket), array_agg(n ORDER BY bucket)
    FROM unnest(%s::varchar[], %s::timestamptz[], %s::smallint[], %s::integer[])
         AS added(dimension, start, bucket, n)
    GROUP BY dimension, start ORDER BY dimension, start
    ON CONFLICT (dimension, start) DO UPDATE SET (buckets, counts) = (
        SELECT array_agg(bucket ORDER BY bucket), array_agg(n ORDER BY bucket)
        FROM (
            SELECT bucket, sum(n)::integer AS n
            FROM unnest(ingestion_secondcount.buckets || EXCLUDED.buckets,
                        ingestion_secondcount.counts || EXCLUDED.counts) AS summed(bucket, n)
            GROUP BY bucket
        ) AS merged
    )
"""
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


def aggregates_add(*, posts: Sequence[tuple[datetime, ParsedPost]]) -> None:
    """Add posts to the aggregates of every span; call inside the transaction storing them."""
    if not posts:
        return
    counts = _count(posts)
    second = SPANS["second"]
    second_rows = sorted((d, start, b, n) for (start, d, b), n in counts[second][0].items())
    bucket_rows = sorted(
        (span, d, start, b, n)
        for span, (buckets, _) in counts.items()
        if span != second
        for (start, d, b), n in buckets.items()
    )
    summary_rows = sorted(
        (span, start, *summary)
        for span, (_, summaries) in counts.items()
        for start, summary in summaries.items()
    )
    # One statement per table whatever the batch size: columns travel as arrays.
    with connection.cursor() as cursor:
        if second_rows:  # none when no post of the batch carries a dimension
            cursor.execute(_ADD_SECONDS, _columns(second_rows))
            cursor.execute(_ADD_BUCKETS, _columns(bucket_rows))
        cursor.execute(_ADD_SUMMARIES, _columns(summary_rows))


def _columns(rows: list[tuple]) -> list[list]:
    return [list(column) for column in zip(*rows, strict=True)]


def aggregates_delete_before(*, start: datetime) -> None:
    """Delete the aggregates of the periods before start."""
    # Small tables (a few rows per second, minute and dimension): a DELETE is cheap enough.
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM ingestion_secondcount WHERE start < %s", [start])
        cursor.execute("DELETE FROM ingestion_bucketcount WHERE start < %s", [start])
        cursor.execute("DELETE FROM ingestion_periodsummary WHERE start < %s", [start])
