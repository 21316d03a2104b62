"""Historical reads: exact percentiles of a window from bucket counts plus a few lookups.

Sorting every value of a 24 h window (percentile_disc) takes seconds. Instead, in one
REPEATABLE READ snapshot:
1. sum the per-hour, per-minute and per-second bucket counts (ingestion/aggregates.py) of
   the whole hours, minutes and seconds of the window (analysis/cover.py), and bucket the
   raw rows of its partial seconds;
2. find, for each percentile's nearest rank r (analysis/percentiles.py), the bucket
   holding the r-th value;
3. a single-value bucket is the answer; otherwise read the k-th value of that bucket in
   the window through the (dimension, arrived_at) index.
The result is exactly what percentile_disc returns (post_percentiles_reference). The bucket
boundaries are the writer's (ingestion/aggregates.py); what a bucket holds is read here.
"""

from __future__ import annotations

import contextlib
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from functools import cache
from itertools import accumulate
from typing import NamedTuple

from django.db import connection, transaction

from analysis.cover import Cover, window_cover
from analysis.percentiles import DEFAULT_PERCENTILES, Percentile, percentiles, rank
from analysis.results import Analysis, Coverage, NoDataError, Question, Window
from ingestion.aggregates import BOUNDS, SPANS
from ingestion.parser import DIMENSIONS, INT64_MAX


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
_MINUTES_AND_HOURS = (
    f"(span = %(minute)s AND {_WHOLE['minute']} OR span = %(hour)s AND {_WHOLE['hour']})"
)
# A question naming post types reads the counts per post type (minutes and hours only):
# each statement comes in two forms, keyed by `typed`.
OF_TYPES = "post_type = ANY(%(post_types)s)"
_PERIOD_BUCKETS = {
    False: f"""
        SELECT bucket, sum(n)::bigint FROM (
            SELECT bucket, n FROM ingestion_bucketcount
            WHERE dimension = %(dimension)s AND {_MINUTES_AND_HOURS}
            UNION ALL
            SELECT counted.bucket, counted.n
            FROM ingestion_secondcount, unnest(buckets, counts) AS counted(bucket, n)
            WHERE dimension = %(dimension)s AND {_WHOLE["second"]}
        ) AS whole GROUP BY bucket
    """,
    True: f"""
        SELECT bucket, sum(n)::bigint FROM ingestion_typecount
        WHERE dimension = %(dimension)s AND {OF_TYPES} AND {_MINUTES_AND_HOURS}
        GROUP BY bucket
    """,
}
_SUMMARY = "coalesce(sum(posts), 0)::bigint, min(min_created_ts), max(max_created_ts)"
_PERIOD_SUMMARY = {
    False: f"""
        SELECT {_SUMMARY} FROM ingestion_periodsummary
        WHERE {" OR ".join(f"span = %({name})s AND {whole}" for name, whole in _WHOLE.items())}
    """,
    True: f"""
        SELECT {_SUMMARY} FROM ingestion_typesummary
        WHERE {OF_TYPES} AND {_MINUTES_AND_HOURS}
    """,
}
# The coverage: newest arrival up to now, oldest overall (index-only min/max lookups).
_ARRIVALS = """
    SELECT (SELECT max(arrived_at) FROM ingestion_post WHERE arrived_at <= %(now)s),
           (SELECT min(arrived_at) FROM ingestion_post)
"""


@cache
def _edges(dimensions: tuple[str, ...], typed: bool) -> str:
    """The partial seconds at the edges, bucketed the same way, every dimension in one scan;
    a dimension's NULL bucket holds the posts that do not carry it (counted in total_posts
    only), so each dimension's groups add up to every edge post."""
    if not set(dimensions) <= set(DIMENSIONS):  # the names become SQL text
        raise ValueError(f"unknown dimensions: {dimensions}")
    values = ", ".join(f"('{d}', {d})" for d in dimensions)
    return f"""
        SELECT d.name, width_bucket(d.value, %(bounds)s::bigint[]), count(*), min(created_ts),
               max(created_ts)
        FROM ingestion_post CROSS JOIN LATERAL (VALUES {values}) AS d(name, value)
        WHERE ((arrived_at > %(since)s AND arrived_at < %(second_from)s)
               OR (arrived_at >= %(second_to)s AND arrived_at <= %(now)s))
              {f"AND {OF_TYPES}" if typed else ""}
        GROUP BY 1, 2
    """


# The k-th (0-based: OFFSET) values of buckets in windows, in order, every lookup of one
# dimension in one statement: each a range scan of the partial index (d, arrived_at) WHERE
# d IS NOT NULL of the partitions of its window (pruned at run time).
_NTH_VALUES = {
    (d, typed): f"""
        SELECT (
            SELECT {d} FROM ingestion_post
            WHERE arrived_at > q.since AND arrived_at <= q.until AND {d} BETWEEN q.low AND q.high
                  {f"AND {OF_TYPES}" if typed else ""}
            ORDER BY {d} OFFSET q.skip LIMIT 1
        )
        FROM unnest(%(since)s::timestamptz[], %(until)s::timestamptz[], %(low)s::bigint[],
                    %(high)s::bigint[], %(skip)s::bigint[]) WITH ORDINALITY
             AS q(since, until, low, high, skip, i)
        ORDER BY q.i
    """
    for d in DIMENSIONS
    for typed in (False, True)
}
_LOOKUP = ("since", "until", "low", "high", "skip")
# The definition the fast path must match: one statement sorting the window's values.
_REFERENCE = {
    (d, typed): f"""
        SELECT count(*), min(created_ts), max(created_ts), count({d}),
               percentile_disc(%(fractions)s::float8[]) WITHIN GROUP (ORDER BY {d})
        FROM ingestion_post
        WHERE arrived_at > %(since)s AND arrived_at <= %(now)s
              {f"AND {OF_TYPES}" if typed else ""}
    """
    for d in DIMENSIONS
    for typed in (False, True)
}


@dataclass(slots=True)
class _Counts:
    """What the aggregates and edge rows say about a window, before the exact lookups."""

    total: int
    minimum: int | None
    maximum: int | None
    buckets: dict[str, Counter] = field(default_factory=dict)  # per dimension

    def add_edge(self, posts: int, low: int, high: int) -> None:
        self.total += posts
        self.minimum = low if self.minimum is None else min(self.minimum, low)
        self.maximum = high if self.maximum is None else max(self.maximum, high)


def post_percentiles(question: Question, *, now: datetime) -> Analysis:
    """Analyse the posts that arrived in (now - duration, now].

    Raise NoDataError (carrying the window and its coverage) when none of them carries any
    of the dimensions; a dimension no post carries gets None for its percentiles.
    """
    since = now - question.duration
    with snapshot() as cursor:
        newest, oldest = arrivals(cursor, now=now)
        coverage = Coverage(now=now, since=max(since, oldest or since), newest=newest)
        window = Window(since.timestamp(), now.timestamp(), coverage)
        if oldest is None:
            raise NoDataError(question.dimensions, window)
        counts, values = window_figures(
            cursor, question, stored_cover(since=since, now=now, oldest=oldest)
        )
        if not any(counts.buckets.values()):
            raise NoDataError(question.dimensions, window)
    return Analysis(counts.total, counts.minimum, counts.maximum, values, window)


def arrivals(cursor, *, now: datetime) -> tuple[datetime | None, datetime | None]:
    """Return the newest arrival at or before now and the oldest stored one."""
    cursor.execute(_ARRIVALS, {"now": now})
    return cursor.fetchone()


def stored_cover(*, since: datetime, now: datetime, oldest: datetime) -> Cover:
    """Return the cover of (since, now] given the oldest stored arrival."""
    # No row is older than `oldest` (pruned), but the aggregates of the period it falls
    # in may still count some: start the window there, those are then edges.
    return window_cover(since=max(since, oldest - timedelta(microseconds=1)), now=now)


def window_figures(cursor, question: Question, cover: Cover) -> tuple[_Counts, dict]:
    """Return the counts of the cover's window and each dimension's percentiles."""
    if question.post_types:  # no per-second counts per type: partial minutes are raw
        cover = replace(cover, second_from=cover.minute_from, second_to=cover.minute_to)
    scope = _Scope(cover, question.post_types)
    counts = _summarise(cursor, question.dimensions, scope)
    values = {
        dimension: _percentiles(cursor, dimension, scope, buckets, question.percentiles)
        for dimension, buckets in counts.buckets.items()
    }
    return counts, values


def post_percentiles_reference(
    *,
    dimension: str,
    duration: timedelta,
    now: datetime,
    requested: Iterable[Percentile] = DEFAULT_PERCENTILES,
    post_types: tuple[str, ...] = (),
) -> tuple[int, int | None, int | None, int, list[int] | None]:
    """Return (posts, min and max created_ts, carried, [values]) by percentile_disc.

    The slow single-statement definition, kept for the tests and bench/historical.py.
    """
    fractions = [p.fraction for p in requested]
    with connection.cursor() as cursor:
        params = {"since": now - duration, "now": now, "fractions": fractions}
        cursor.execute(
            _REFERENCE[dimension, bool(post_types)], {**params, "post_types": list(post_types)}
        )
        return cursor.fetchone()


@contextlib.contextmanager
def snapshot() -> Iterator:
    """Yield a cursor whose statements all see one snapshot of rows and aggregates."""
    outer = connection.in_atomic_block  # then the caller's transaction decides
    with transaction.atomic(), connection.cursor() as cursor:
        if not outer:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield cursor


class _Scope(NamedTuple):
    """Which rows a window reads: its cover, and the post types it keeps (none: all)."""

    cover: Cover
    post_types: tuple[str, ...]

    @property
    def typed(self) -> bool:
        return bool(self.post_types)

    def params(self, **more) -> dict:
        return {**asdict(self.cover), "post_types": list(self.post_types), **more}


def _summarise(cursor, dimensions: tuple[str, ...], scope: _Scope) -> _Counts:
    """Sum the window's aggregates and count its edge rows, per bucket of each dimension."""
    params = scope.params(**SPANS, bounds=list(BOUNDS))
    cursor.execute(_PERIOD_SUMMARY[scope.typed], params)
    counts = _Counts(*cursor.fetchone())
    for dimension in dimensions:
        cursor.execute(_PERIOD_BUCKETS[scope.typed], {**params, "dimension": dimension})
        counts.buckets[dimension] = Counter(dict(cursor.fetchall()))
    cursor.execute(_edges(dimensions, scope.typed), params)
    for dimension, bucket, posts, low, high in cursor.fetchall():
        if dimension == dimensions[0]:  # any one dimension's groups count every edge post
            counts.add_edge(posts, low, high)
        if bucket is not None:
            counts.buckets[dimension][bucket] += posts
    return counts


def bucket_range(bucket: int) -> tuple[int, int]:
    """Return the smallest and largest value of a bucket of BOUNDS (inclusive)."""
    if bucket == 0:  # below every boundary: never a carried count, kept total anyway
        return -INT64_MAX - 1, -1
    high = BOUNDS[bucket] - 1 if bucket < len(BOUNDS) else INT64_MAX
    return BOUNDS[bucket - 1], high


def bucket_positions(
    buckets: Counter, requested: Iterable[Percentile]
) -> dict[str, tuple[int, int, int]]:
    """Return, for each requested percentile of values counted per bucket (some), the
    (low, high) range of the bucket holding its rank and how many of that bucket's values
    come before it."""
    ordered = sorted(buckets.items())
    cumulative = list(accumulate(n for _, n in ordered))
    positions = {}
    for percentile in requested:
        position = rank(percentile.fraction, cumulative[-1])
        index = bisect_left(cumulative, position)
        skip = position - 1 - (cumulative[index - 1] if index else 0)
        positions[percentile.name] = (*bucket_range(ordered[index][0]), skip)
    return positions


def _percentiles(
    cursor, dimension: str, scope: _Scope, buckets: Counter, requested: Iterable[Percentile]
) -> dict[str, int | None]:
    """Return each requested percentile of the window's values (None if it has none), given
    how many fall in each bucket."""
    if not buckets:
        return percentiles((), requested)
    positions = bucket_positions(buckets, requested)
    values = {name: low for name, (low, _, _) in positions.items()}
    lookups = {name: p for name, p in positions.items() if p[0] != p[1]}  # not single-value
    window = (scope.cover.since, scope.cover.now)
    found = nth_values(
        cursor, dimension, scope.post_types, [(*window, *p) for p in lookups.values()]
    )
    values.update(zip(lookups, found, strict=True))
    return values


def nth_values(
    cursor, dimension: str, post_types: tuple[str, ...], lookups: list[tuple]
) -> list[int]:
    """Return, for each (since, until, low, high, skip), the value after `skip` smaller ones
    among the values in [low, high] of the posts (of `post_types`, if any) arrived in
    (since, until]; one statement for them all."""
    if not lookups:
        return []
    params = dict(zip(_LOOKUP, map(list, zip(*lookups, strict=True)), strict=True))
    cursor.execute(
        _NTH_VALUES[dimension, bool(post_types)], {**params, "post_types": list(post_types)}
    )
    return [value for (value,) in cursor.fetchall()]
