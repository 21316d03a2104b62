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
from typing import NamedTuple

from django.db import connection

from ingestion.parser import DIMENSIONS, ParsedPost
from ingestion.partitions import floor

MINUTE = timedelta(minutes=1)
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


class _Counts(NamedTuple):
    """Bucket counts keyed (start, [post_type,] dimension, bucket) and period summaries
    [posts, min, max created_ts] keyed (start, [post_type])."""

    buckets: Counter
    summaries: dict[tuple, list[int]]


def _count(posts: Iterable[tuple[datetime, ParsedPost]]) -> tuple[_Counts, _Counts]:
    """Count the posts of each second (all types), and of each minute per post type."""
    seconds, typed = _Counts(Counter(), {}), _Counts(Counter(), {})
    by_second: dict[tuple, list[ParsedPost]] = {}
    by_type: dict[tuple, list[ParsedPost]] = {}
    minute_of: dict[datetime, datetime] = {}
    for arrived_at, post in posts:
        second = arrived_at.replace(microsecond=0)
        by_second.setdefault((second,), []).append(post)
        if (minute := minute_of.get(second)) is None:
            minute = minute_of[second] = floor(second, MINUTE)
        by_type.setdefault((minute, post.post_type), []).append(post)
    for counts, groups in ((seconds, by_second), (typed, by_type)):
        for key, group in groups.items():
            for dimension in DIMENSIONS:
                values = [v for v in map(attrgetter(dimension), group) if v is not None]
                for bucket, n in Counter(map(bucket_of, values)).items():
                    counts.buckets[(*key, dimension, bucket)] = n
            created = [post.created_ts for post in group]
            counts.summaries[key] = [len(group), min(created), max(created)]
    return seconds, typed


# Python counts each second (and each minute per type) once; PostgreSQL sums them into the
# coarser periods, in C. Rows are inserted sorted: two writers (a standby taking over, a bulk
# load) lock them in one order. A period's start is date_bin from the epoch, as floor() is.
_INTO_EVERY_SPAN = f"(VALUES {', '.join(f'({span})' for span in SPANS.values())}) AS rolled(span)"
_INTO_MINUTES_AND_HOURS = f"(VALUES ({SPANS['minute']}), ({SPANS['hour']})) AS rolled(span)"
_PERIOD = "date_bin(rolled.span * interval '1 second', start, timestamptz 'epoch')"
_ADD_BUCKETS = f"""
    WITH added AS (
        SELECT * FROM unnest(%s::varchar[], %s::timestamptz[], %s::smallint[], %s::integer[])
            AS added(dimension, start, bucket, n)
    ), seconds AS (
        INSERT INTO ingestion_secondcount (dimension, start, buckets, counts)
        SELECT dimension, start, array_agg(bucket ORDER BY bucket), array_agg(n ORDER BY bucket)
        FROM added GROUP BY dimension, start ORDER BY dimension, start
        ON CONFLICT (dimension, start) DO UPDATE SET (buckets, counts) = (
            SELECT array_agg(bucket ORDER BY bucket), array_agg(n ORDER BY bucket)
            FROM (
                SELECT bucket, sum(n)::integer AS n
                FROM unnest(ingestion_secondcount.buckets || EXCLUDED.buckets,
                            ingestion_secondcount.counts || EXCLUDED.counts) AS summed(bucket, n)
                GROUP BY bucket
            ) AS merged
        )
    )
    INSERT INTO ingestion_bucketcount (span, dimension, start, bucket, n)
    SELECT rolled.span, dimension, {_PERIOD}, bucket, sum(n)
    FROM added, {_INTO_MINUTES_AND_HOURS}
    GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
    ON CONFLICT (span, dimension, start, bucket)
    DO UPDATE SET n = ingestion_bucketcount.n + EXCLUDED.n
"""
_ADD_TYPE_BUCKETS = f"""
    INSERT INTO ingestion_typecount (span, post_type, dimension, start, bucket, n)
    SELECT rolled.span, post_type, dimension, {_PERIOD}, bucket, sum(n)
    FROM unnest(%s::varchar[], %s::varchar[], %s::timestamptz[], %s::smallint[], %s::integer[])
         AS added(post_type, dimension, start, bucket, n),
         {_INTO_MINUTES_AND_HOURS}
    GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (span, post_type, dimension, start, bucket)
    DO UPDATE SET n = ingestion_typecount.n + EXCLUDED.n
"""
_SUM_SUMMARIES = "sum(posts), min(low), max(high)"
_MERGE_SUMMARY = """
        posts = {table}.posts + EXCLUDED.posts,
        min_created_ts = least({table}.min_created_ts, EXCLUDED.min_created_ts),
        max_created_ts = greatest({table}.max_created_ts, EXCLUDED.max_created_ts)
"""
_ADD_SUMMARIES = f"""
    INSERT INTO ingestion_periodsummary (span, start, posts, min_created_ts, max_created_ts)
    SELECT rolled.span, {_PERIOD}, {_SUM_SUMMARIES}
    FROM unnest(%s::timestamptz[], %s::bigint[], %s::bigint[], %s::bigint[])
         AS added(start, posts, low, high),
         {_INTO_EVERY_SPAN}
    GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (span, start) DO UPDATE SET
""" + _MERGE_SUMMARY.format(table="ingestion_periodsummary")
_ADD_TYPE_SUMMARIES = f"""
    INSERT INTO ingestion_typesummary (span, post_type, start, posts, min_created_ts,
                                       max_created_ts)
    SELECT rolled.span, post_type, {_PERIOD}, {_SUM_SUMMARIES}
    FROM unnest(%s::varchar[], %s::timestamptz[], %s::bigint[], %s::bigint[], %s::bigint[])
         AS added(post_type, start, posts, low, high),
         {_INTO_MINUTES_AND_HOURS}
    GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (span, post_type, start) DO UPDATE SET
""" + _MERGE_SUMMARY.format(table="ingestion_typesummary")


def aggregates_add(*, posts: Sequence[tuple[datetime, ParsedPost]]) -> None:
    """Add posts to the aggregates of every span; call inside the transaction storing them."""
    if not posts:
        return
    seconds, typed = _count(posts)
    bucket_rows = [(d, start, b, n) for (start, d, b), n in seconds.buckets.items()]
    type_bucket_rows = [(t, d, start, b, n) for (start, t, d, b), n in typed.buckets.items()]
    summary_rows = [(start, *summary) for (start,), summary in seconds.summaries.items()]
    type_summary_rows = [(t, start, *summary) for (start, t), summary in typed.summaries.items()]
    # One statement per table whatever the batch size: columns travel as arrays, bound by
    # the server (Django's client-side binding would quote every element into the SQL).
    connection.ensure_connection()
    with connection.connection.cursor() as cursor:
        if bucket_rows:  # none when no post of the batch carries a dimension
            cursor.execute(_ADD_BUCKETS, _columns(bucket_rows))
            cursor.execute(_ADD_TYPE_BUCKETS, _columns(type_bucket_rows))
        cursor.execute(_ADD_SUMMARIES, _columns(summary_rows))
        cursor.execute(_ADD_TYPE_SUMMARIES, _columns(type_summary_rows))


def _columns(rows: list[tuple]) -> list[list]:
    return [list(column) for column in zip(*rows, strict=True)]


def aggregates_delete_before(*, start: datetime) -> None:
    """Delete the aggregates of the periods before start."""
    # Small tables (a few rows per second, minute and dimension): a DELETE is cheap enough.
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM ingestion_secondcount WHERE start < %s", [start])
        cursor.execute("DELETE FROM ingestion_bucketcount WHERE start < %s", [start])
        cursor.execute("DELETE FROM ingestion_periodsummary WHERE start < %s", [start])
        cursor.execute("DELETE FROM ingestion_typecount WHERE start < %s", [start])
        cursor.execute("DELETE FROM ingestion_typesummary WHERE start < %s", [start])
