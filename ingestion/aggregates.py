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
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from operator import attrgetter
from typing import NamedTuple

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


class _Counts(NamedTuple):
    """Bucket counts keyed (start, [post_type,] dimension, bucket) and period summaries
    [posts, min, max created_ts] keyed (start, [post_type])."""

    buckets: Counter
    summaries: dict[tuple, list[int]]

    def sum_by(self, key: Callable[[tuple], tuple]) -> _Counts:
        """Sum the counts whose keys map to the same key(key)."""
        buckets: Counter = Counter()
        for old, n in self.buckets.items():
            buckets[key(old)] += n
        summaries: dict[tuple, list[int]] = {}
        for old, (posts, low, high) in self.summaries.items():
            total = summaries.get(new := key(old))
            if total is None:
                summaries[new] = [posts, low, high]
            else:
                total[:] = [total[0] + posts, min(total[1], low), max(total[2], high)]
        return _Counts(buckets, summaries)


def _in(period: timedelta) -> Callable[[tuple], tuple]:
    return lambda key: (floor(key[0], period), *key[1:])


def _any_type(key: tuple) -> tuple:
    return (key[0], *key[2:])


def _count(posts: Iterable[tuple[datetime, ParsedPost]]) -> tuple[dict, dict]:
    """Count posts per second and post type, then sum them up into what the tables keep.

    Return ({span: _Counts of all types}, {span: _Counts per post type}); per type, minutes
    and hours only.
    """
    groups: dict[tuple[datetime, str], list[ParsedPost]] = {}
    for arrived_at, post in posts:
        groups.setdefault((arrived_at.replace(microsecond=0), post.post_type), []).append(post)
    typed = _Counts(Counter(), {})
    for key, group in groups.items():
        for dimension in DIMENSIONS:
            values = [v for v in map(attrgetter(dimension), group) if v is not None]
            for bucket, n in Counter(map(bucket_of, values)).items():
                typed.buckets[(*key, dimension, bucket)] = n
        created = [post.created_ts for post in group]
        typed.summaries[key] = [len(group), min(created), max(created)]
    seconds = typed.sum_by(_any_type)
    minutes, typed_minutes = seconds.sum_by(_in(MINUTE)), typed.sum_by(_in(MINUTE))
    second, minute, hour = SPANS.values()
    every = {second: seconds, minute: minutes, hour: minutes.sum_by(_in(HOUR))}
    return every, {minute: typed_minutes, hour: typed_minutes.sum_by(_in(HOUR))}


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
_ADD_TYPE_BUCKETS = """
    INSERT INTO ingestion_typecount (span, post_type, dimension, start, bucket, n)
    SELECT * FROM unnest(%s::smallint[], %s::varchar[], %s::varchar[], %s::timestamptz[],
                         %s::smallint[], %s::bigint[])
    ON CONFLICT (span, post_type, dimension, start, bucket)
    DO UPDATE SET n = ingestion_typecount.n + EXCLUDED.n
"""
_MERGE_SUMMARY = """
        posts = {table}.posts + EXCLUDED.posts,
        min_created_ts = least({table}.min_created_ts, EXCLUDED.min_created_ts),
        max_created_ts = greatest({table}.max_created_ts, EXCLUDED.max_created_ts)
"""
_ADD_SUMMARIES = """
    INSERT INTO ingestion_periodsummary (span, start, posts, min_created_ts, max_created_ts)
    SELECT * FROM unnest(%s::smallint[], %s::timestamptz[], %s::bigint[], %s::bigint[],
                         %s::bigint[])
    ON CONFLICT (span, start) DO UPDATE SET
""" + _MERGE_SUMMARY.format(table="ingestion_periodsummary")
_ADD_TYPE_SUMMARIES = """
    INSERT INTO ingestion_typesummary (span, post_type, start, posts, min_created_ts,
                                       max_created_ts)
    SELECT * FROM unnest(%s::smallint[], %s::varchar[], %s::timestamptz[], %s::bigint[],
                         %s::bigint[], %s::bigint[])
    ON CONFLICT (span, post_type, start) DO UPDATE SET
""" + _MERGE_SUMMARY.format(table="ingestion_typesummary")


def aggregates_add(*, posts: Sequence[tuple[datetime, ParsedPost]]) -> None:
    """Add posts to the aggregates of every span; call inside the transaction storing them."""
    if not posts:
        return
    every, typed = _count(posts)
    second, minute, hour = SPANS.values()
    second_rows = sorted((d, start, b, n) for (start, d, b), n in every[second].buckets.items())
    bucket_rows = sorted(
        (span, d, start, b, n)
        for span in (minute, hour)
        for (start, d, b), n in every[span].buckets.items()
    )
    type_bucket_rows = sorted(
        (span, t, d, start, b, n)
        for span, counts in typed.items()
        for (start, t, d, b), n in counts.buckets.items()
    )
    summary_rows = sorted(
        (span, start, *summary)
        for span, counts in every.items()
        for (start,), summary in counts.summaries.items()
    )
    type_summary_rows = sorted(
        (span, t, start, *summary)
        for span, counts in typed.items()
        for (start, t), summary in counts.summaries.items()
    )
    # One statement per table whatever the batch size: columns travel as arrays.
    with connection.cursor() as cursor:
        if second_rows:  # none when no post of the batch carries a dimension
            cursor.execute(_ADD_SECONDS, _columns(second_rows))
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
