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
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from functools import partial
from operator import attrgetter, is_not
from typing import NamedTuple

import psycopg
from django.db import connection

from ingestion.parser import DIMENSIONS, ParsedPost

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


# 1 + the index of the last boundary ≤ value: a value's bucket. A partial, not a def: the
# collector calls it for every value of every post, and a partial of a C function runs
# without a Python frame.
bucket_of = partial(bisect_right, BOUNDS)
_is_value = partial(is_not, None)  # 0 is a value: filter(None, …) would drop it
_created_ts = attrgetter("created_ts")


class Counts(NamedTuple):
    """Bucket counts keyed (second, post_type, dimension, bucket) and summaries
    [posts, min, max created_ts] keyed (second, post_type)."""

    buckets: Counter
    summaries: dict[tuple, list[int]]


def aggregates_count(*, posts: Iterable[tuple[datetime, ParsedPost]]) -> Counts:
    """Count the posts of each second and post type: the finest grouping any table needs."""
    groups: defaultdict[tuple[float, str], list[ParsedPost]] = defaultdict(list)
    for arrived_at, post in posts:
        # The second as epoch seconds, a third of the cost of arrived_at.replace(microsecond=0)
        # and as exact: a float timestamp is within half a microsecond until 2242.
        groups[arrived_at.timestamp() // 1, post.post_type].append(post)
    counts = Counts(Counter(), {})
    for (second, post_type), group in groups.items():
        key = (datetime.fromtimestamp(second, UTC), post_type)
        # Iterators of C functions: no Python code runs per post below.
        for dimension in DIMENSIONS:
            values = filter(_is_value, map(attrgetter(dimension), group))
            for bucket, n in Counter(map(bucket_of, values)).items():
                counts.buckets[(*key, dimension, bucket)] = n
        created = list(map(_created_ts, group))
        counts.summaries[key] = [len(group), min(created), max(created)]
    return counts


# Python counts each second and post type once; PostgreSQL sums them into every table, in
# C: the seconds of all types, the minutes and hours of all types, and of each type. Rows
# are inserted sorted: two writers (a standby taking over, a bulk load) lock them in one
# order. A period's start is date_bin from the epoch, as floor() is.
_INTO_EVERY_SPAN = f"(VALUES {', '.join(f'({span})' for span in SPANS.values())}) AS rolled(span)"
_INTO_MINUTES_AND_HOURS = f"(VALUES ({SPANS['minute']}), ({SPANS['hour']})) AS rolled(span)"
_PERIOD = "date_bin(rolled.span * interval '1 second', start, timestamptz 'epoch')"
_ADD_BUCKETS = f"""
    WITH added AS (
        SELECT * FROM unnest(%b::timestamptz[], %b::varchar[], %b::varchar[], %b::smallint[],
                             %b::integer[])
            AS added(start, post_type, dimension, bucket, n)
    ), seconds AS (
        INSERT INTO ingestion_secondcount (dimension, start, buckets, counts)
        SELECT dimension, start, array_agg(bucket ORDER BY bucket), array_agg(n ORDER BY bucket)
        FROM (
            SELECT dimension, start, bucket, sum(n)::integer AS n
            FROM added GROUP BY dimension, start, bucket
        ) AS of_all_types
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
    ), minutes_and_hours AS (
        INSERT INTO ingestion_bucketcount (span, dimension, start, bucket, n)
        SELECT rolled.span, dimension, {_PERIOD}, bucket, sum(n)
        FROM added, {_INTO_MINUTES_AND_HOURS}
        GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
        ON CONFLICT (span, dimension, start, bucket)
        DO UPDATE SET n = ingestion_bucketcount.n + EXCLUDED.n
    )
    INSERT INTO ingestion_typecount (span, post_type, dimension, start, bucket, n)
    SELECT rolled.span, post_type, dimension, {_PERIOD}, bucket, sum(n)
    FROM added, {_INTO_MINUTES_AND_HOURS}
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
    WITH added AS (
        SELECT * FROM unnest(%b::timestamptz[], %b::varchar[], %b::bigint[], %b::bigint[],
                             %b::bigint[])
            AS added(start, post_type, posts, low, high)
    ), of_all_types AS (
        INSERT INTO ingestion_periodsummary (span, start, posts, min_created_ts, max_created_ts)
        SELECT rolled.span, {_PERIOD}, {_SUM_SUMMARIES}
        FROM added, {_INTO_EVERY_SPAN}
        GROUP BY 1, 2 ORDER BY 1, 2
        ON CONFLICT (span, start) DO UPDATE SET
        {_MERGE_SUMMARY.format(table="ingestion_periodsummary")}
    )
    INSERT INTO ingestion_typesummary (span, post_type, start, posts, min_created_ts,
                                       max_created_ts)
    SELECT rolled.span, post_type, {_PERIOD}, {_SUM_SUMMARIES}
    FROM added, {_INTO_MINUTES_AND_HOURS}
    GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
    ON CONFLICT (span, post_type, start) DO UPDATE SET
    {_MERGE_SUMMARY.format(table="ingestion_typesummary")}
"""


def aggregates_add(*, counts: Counts) -> None:
    """Add counts to the aggregates of every span, in the transaction storing their posts."""
    if not counts.summaries:
        return
    # One statement per kind of aggregate whatever the batch size: columns travel as arrays
    # in binary, bound by the server. Django's cursors bind on the client, and quoting an
    # array as text costs about 2 µs an element, several times the binary dump's cost.
    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:
        if counts.buckets:  # none when no post of the batch carries a dimension
            cursor.execute(_ADD_BUCKETS, _columns([(*k, n) for k, n in counts.buckets.items()]))
        summaries = [(*key, *summary) for key, summary in counts.summaries.items()]
        cursor.execute(_ADD_SUMMARIES, _columns(summaries))


def _columns(rows: list[tuple]) -> list[list]:
    return [list(column) for column in zip(*rows, strict=True)]


def aggregates_delete_before(*, start: datetime) -> None:
    """Delete the aggregates of the periods before start."""
    # Small tables (a few rows per second, minute and dimension): a DELETE is cheap enough.
    tables = (
        "ingestion_secondcount",
        "ingestion_bucketcount",
        "ingestion_periodsummary",
        "ingestion_typecount",
        "ingestion_typesummary",
    )
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"DELETE FROM {table} WHERE start < %s", [start])
