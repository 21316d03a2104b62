"""Historical reads: exact percentiles of a window from bucket counts plus a few lookups.

Sorting every value of a 24 h window (percentile_disc) takes seconds. Instead, in one
REPEATABLE READ snapshot:
1. sum the per-hour, per-minute and per-second bucket counts (ingestion/aggregates.py) of
   the whole hours, minutes and seconds of the window (analysis/cover.py), and bucket the
   raw rows of its partial seconds;
2. find, for each percentile's nearest rank r, the bucket holding the r-th value;
3. a single-value bucket is the answer; otherwise read the k-th value of that bucket in
   the window through the (dimension, arrived_at) index.
The result is exactly what percentile_disc returns (post_percentiles_reference).
"""

from __future__ import annotations

import contextlib
import math
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from itertools import accumulate

from django.db import connection, transaction

from analysis.cover import Cover, window_cover
from analysis.percentiles import PERCENTILES
from analysis.results import Analysis, NoDataError
from ingestion.aggregates import BOUNDS, SPANS, bucket_range
from ingestion.parser import DIMENSIONS


# Statements per dimension are built from the whitelist at import: input never reaches SQL
# text. The whole periods of each span, nested as analysis/cover.py says:
def _whole(name: str, coarser: str | None) -> str:
    if coarser is None:
        return f"(start >= %({name}_from)s AND start < %({name}_to)s)"
    return (
        f"(start >= %({name}_from)s AND start < %({coarser}_from)s"
        f" OR start >= %({coarser}_to)s AND start < %({name}_to)s)"
    )


_WHOLE = {"second": _whole("second", "minute"), "minute": _whole("minute", "hour")}
_WHOLE["hour"] = _whole("hour", None)
_PERIOD_BUCKETS = f"""
    SELECT bucket, sum(n)::bigint FROM (
        SELECT bucket, n FROM ingestion_bucketcount
        WHERE dimension = %(dimension)s
          AND (span = %(minute)s AND {_WHOLE["minute"]} OR span = %(hour)s AND {_WHOLE["hour"]})
        UNION ALL
        SELECT counted.bucket, counted.n
        FROM ingestion_secondcount, unnest(buckets, counts) AS counted(bucket, n)
        WHERE dimension = %(dimension)s AND {_WHOLE["second"]}
    ) AS whole GROUP BY bucket
"""
_PERIOD_SUMMARY = f"""
    SELECT coalesce(sum(posts), 0)::bigint, min(min_created_ts), max(max_created_ts)
    FROM ingestion_periodsummary
    WHERE {" OR ".join(f"span = %({name})s AND {whole}" for name, whole in _WHOLE.items())}
"""
# The coverage: newest arrival up to now, oldest overall (index-only min/max lookups).
_ARRIVALS = """
    SELECT (SELECT max(arrived_at) FROM ingestion_post WHERE arrived_at <= %(now)s),
           (SELECT min(arrived_at) FROM ingestion_post)
"""
# The partial seconds at the edges, bucketed the same way; the NULL bucket holds the posts
# that do not carry the dimension (counted in total_posts only).
_EDGES = {
    d: f"""
        SELECT width_bucket({d}, %(bounds)s::bigint[]), count(*), min(created_ts),
               max(created_ts)
        FROM ingestion_post
        WHERE (arrived_at > %(since)s AND arrived_at < %(second_from)s)
           OR (arrived_at >= %(second_to)s AND arrived_at <= %(now)s)
        GROUP BY 1
    """
    for d in DIMENSIONS
}
# The k-th (0-based: OFFSET) value of a bucket in the window, in order: a range scan of the
# partial index (d, arrived_at) WHERE d IS NOT NULL of each partition of the window.
_NTH_VALUE = {
    d: f"""
        SELECT {d} FROM ingestion_post
        WHERE arrived_at > %(since)s AND arrived_at <= %(now)s AND {d} BETWEEN %(low)s AND %(high)s
        ORDER BY {d} OFFSET %(skip)s LIMIT 1
    """
    for d in DIMENSIONS
}
# The definition the fast path must match: one statement sorting the window's values.
_REFERENCE = {
    d: f"""
        SELECT count(*), min(created_ts), max(created_ts), count({d}),
               percentile_disc(ARRAY[0.5, 0.9, 0.99]) WITHIN GROUP (ORDER BY {d})
        FROM ingestion_post
        WHERE arrived_at > %(since)s AND arrived_at <= %(now)s
    """
    for d in DIMENSIONS
}


@dataclass(frozen=True, slots=True)
class Coverage:
    """What the table holds for a window, so a caller can tell quiet from stopped."""

    now: datetime
    since: datetime  # start of the data actually covered: window start or oldest row
    newest: datetime | None  # newest arrival at or before now

    @property
    def age_seconds(self) -> int | None:
        return None if self.newest is None else int((self.now - self.newest).total_seconds())


@dataclass(slots=True)
class _Window:
    """What the aggregates and edge rows say about a window, before the exact lookups."""

    total: int
    minimum: int | None
    maximum: int | None
    buckets: Counter


def post_percentiles(
    *, dimension: str, duration: timedelta, now: datetime
) -> tuple[Analysis, Coverage]:
    """Analyse the posts that arrived in (now - duration, now].

    Raise NoDataError (carrying the coverage) when none of them carries the dimension.
    """
    since = now - duration
    with _snapshot() as cursor:
        cursor.execute(_ARRIVALS, {"now": now})
        newest, oldest = cursor.fetchone()
        coverage = Coverage(now=now, since=max(since, oldest or since), newest=newest)
        if oldest is None:
            raise NoDataError(dimension, coverage)
        # No row is older than `oldest` (pruned), but the aggregates of the period it falls
        # in may still count some: start the window there, those are then edges.
        cover = window_cover(since=max(since, oldest - timedelta(microseconds=1)), now=now)
        window = _summarise(cursor, dimension, cover)
        if not window.buckets:
            raise NoDataError(dimension, coverage)
        p50, p90, p99 = _percentiles(cursor, dimension, cover, window.buckets)
    analysis = Analysis(dimension, window.total, window.minimum, window.maximum, p50, p90, p99)
    return analysis, coverage


def post_percentiles_reference(
    *, dimension: str, duration: timedelta, now: datetime
) -> tuple[int, int | None, int | None, int, list[int] | None]:
    """Return (posts, min and max created_ts, carried, [p50, p90, p99]) by percentile_disc.

    The slow single-statement definition, kept for the tests and bench/historical.py.
    """
    with connection.cursor() as cursor:
        cursor.execute(_REFERENCE[dimension], {"since": now - duration, "now": now})
        return cursor.fetchone()


@contextlib.contextmanager
def _snapshot() -> Iterator:
    """Yield a cursor whose statements all see one snapshot of rows and aggregates."""
    outer = connection.in_atomic_block  # then the caller's transaction decides
    with transaction.atomic(), connection.cursor() as cursor:
        if not outer:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield cursor


def _summarise(cursor, dimension: str, cover: Cover) -> _Window:
    """Sum the window's aggregates and the buckets of its edge rows."""
    params = {**asdict(cover), **SPANS, "dimension": dimension, "bounds": list(BOUNDS)}
    cursor.execute(_PERIOD_BUCKETS, params)
    buckets = Counter(dict(cursor.fetchall()))
    cursor.execute(_PERIOD_SUMMARY, params)
    window = _Window(*cursor.fetchone(), buckets)
    cursor.execute(_EDGES[dimension], params)
    for bucket, posts, low, high in cursor.fetchall():
        _add_edge(window, bucket, posts, low, high)
    return window


def _add_edge(window: _Window, bucket: int | None, posts: int, low: int, high: int) -> None:
    window.total += posts
    window.minimum = low if window.minimum is None else min(window.minimum, low)
    window.maximum = high if window.maximum is None else max(window.maximum, high)
    if bucket is not None:
        window.buckets[bucket] += posts


def _percentiles(cursor, dimension: str, cover: Cover, buckets: Counter) -> list[int]:
    """Return p50, p90, p99 of the window's values, given how many fall in each bucket."""
    ordered = sorted(buckets.items())
    cumulative = list(accumulate(n for _, n in ordered))
    values = []
    for fraction in PERCENTILES.values():
        # percentile_disc's rank: the same float8 product and ceil, at least 1.
        rank = max(math.ceil(fraction * cumulative[-1]), 1)
        index = bisect_left(cumulative, rank)
        low, high = bucket_range(ordered[index][0])
        skip = rank - 1 - (cumulative[index - 1] if index else 0)
        values.append(low if low == high else _nth_in(cursor, dimension, cover, low, high, skip))
    return values


def _nth_in(cursor, dimension: str, cover: Cover, low: int, high: int, skip: int) -> int:
    """Return the value after `skip` smaller ones among the window's values in [low, high]."""
    params = {"since": cover.since, "now": cover.now, "low": low, "high": high, "skip": skip}
    cursor.execute(_NTH_VALUE[dimension], params)
    return cursor.fetchone()[0]
