"""Historical series: a window cut into clock-aligned steps, each point exact.

The points are steps of the clock, (k·step, (k+1)·step] counted from the Unix epoch, the
step a whole number of minutes: the last point is the step holding `now` (it ends at or
after now), the window is the `duration` before its end, and the first point starts there,
shorter than a step when the duration is not a multiple of it. Each point is what
/analysis answers over its interval (arrived_at in (start, end]), all of them computed in
one snapshot with a few statements whatever their number:
1. a point whose start is a whole minute is [start, end) in whole minutes and hours of the
   aggregates (analysis/cover.py), minus the posts that arrived exactly at its start, plus
   those that arrived exactly at its end: one statement sums the aggregates grouped by
   point, one reads the posts of those instants (an index probe each, nearly always none);
2. the k-th value lookups of all those points are batched, one statement per dimension;
3. the other points are read as /analysis reads a window (analysis/historical.py): a first
   point that does not start on a whole minute, the point holding the oldest stored post
   (aggregates may still count pruned rows before it), and a point whose minimum or
   maximum creation time only an excluded post at its start may hold.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from datetime import datetime, timedelta
from itertools import pairwise

from analysis.cover import MICROSECOND, MINUTE, window_cover
from analysis.historical import (
    OF_TYPES,
    arrivals,
    bucket_positions,
    nth_values,
    snapshot,
    stored_cover,
    window_figures,
)
from analysis.percentiles import percentiles
from analysis.results import Analysis, Coverage, Question, Series, Window
from ingestion.aggregates import SPANS, bucket_of
from ingestion.parser import DIMENSIONS
from ingestion.partitions import EPOCH, floor

_RANGES = """
    unnest(%(spans)s::smallint[], %(lows)s::timestamptz[], %(highs)s::timestamptz[],
           %(points)s::integer[]) AS r(span, low, high, point)
"""
# Each range of whole minutes or hours is read through the table's primary key: the
# aggregate inside LATERAL keeps the planner from turning the ranges into a hash join that
# would compare every aggregate row of the series with every range. A question naming post
# types reads the counts per post type: each statement comes in two forms, keyed by `typed`.
_SUMMARIES = {
    typed: f"""
        SELECT r.point, sum(s.posts)::bigint, min(s.low), max(s.high)
        FROM {_RANGES}
        CROSS JOIN LATERAL (
            SELECT sum(posts) AS posts, min(min_created_ts) AS low, max(max_created_ts) AS high
            FROM {table}
            WHERE span = r.span AND start >= r.low AND start < r.high
                  {f"AND {OF_TYPES}" if typed else ""}
        ) AS s
        WHERE s.posts IS NOT NULL
        GROUP BY r.point
    """
    for typed, table in ((False, "ingestion_periodsummary"), (True, "ingestion_typesummary"))
}
# Per range, not per point: the caller adds up a point's ranges (most points have one).
_BUCKETS = {
    typed: f"""
        SELECT r.point, b.dimension, b.bucket, b.n
        FROM {_RANGES}
        CROSS JOIN LATERAL (
            SELECT dimension, bucket, sum(n)::bigint AS n FROM {table}
            WHERE span = r.span AND dimension = ANY(%(dimensions)s)
              AND start >= r.low AND start < r.high {f"AND {OF_TYPES}" if typed else ""}
            GROUP BY dimension, bucket
        ) AS b
    """
    for typed, table in ((False, "ingestion_bucketcount"), (True, "ingestion_typecount"))
}
# A join, not `arrived_at = ANY(…)`: each instant is then pruned to its one partition.
_INSTANT_POSTS = {
    typed: f"""
        SELECT p.arrived_at, p.created_ts, {", ".join(f"p.{d}" for d in DIMENSIONS)}
        FROM unnest(%(instants)s::timestamptz[]) AS i(at)
        JOIN ingestion_post p ON p.arrived_at = i.at {f"AND p.{OF_TYPES}" if typed else ""}
    """
    for typed in (False, True)
}
# analysis/historical.py's k-th value of a bucket in a window, for many windows at once.


@dataclasses.dataclass(slots=True)
class _Point:
    """A point whose start is a whole minute, counted from the aggregates and its instants."""

    start: datetime
    end: datetime
    buckets: dict[str, Counter]  # per asked dimension
    total: int = 0
    minimum: int | None = None
    maximum: int | None = None
    exact: bool = True  # False: an excluded post may hold the minimum or maximum
    values: dict[str, dict[str, int | None]] = dataclasses.field(default_factory=dict)

    def add(self, created_ts: int, values: list[int | None]) -> None:
        """Count a post the aggregates leave out: one that arrived exactly at the end."""
        self.total += 1
        self.minimum = created_ts if self.minimum is None else min(self.minimum, created_ts)
        self.maximum = created_ts if self.maximum is None else max(self.maximum, created_ts)
        self._count(values, 1)

    def remove(self, created_ts: int, values: list[int | None]) -> None:
        """Take out a post the aggregates count: one that arrived exactly at the start."""
        self.total -= 1
        self.exact &= self.minimum < created_ts < self.maximum
        self._count(values, -1)

    def _count(self, values: list[int | None], n: int) -> None:
        for dimension, value in zip(DIMENSIONS, values, strict=True):
            if value is not None and dimension in self.buckets:
                self.buckets[dimension][bucket_of(value)] += n


def post_series(question: Question, *, step: timedelta, now: datetime) -> Series:
    """Analyse each step of the `question.duration` ending with the step holding now.

    A step without posts has total_posts 0 and None for every other figure.
    """
    end = floor(now - MICROSECOND, step) + step
    since = end - question.duration
    edges = [since, *_range(floor(since, step) + step, end, step), end]
    with snapshot() as cursor:
        # The planner cannot tell how few rows each range holds: its estimates would have
        # PostgreSQL compile the statements (JIT), which costs more than running them.
        cursor.execute("SET LOCAL jit = off")
        newest, oldest = arrivals(cursor, now=now)
        coverage = Coverage(now=now, since=max(since, oldest or since), newest=newest)
        points = _points(cursor, question, list(pairwise(edges)), oldest)
    return Series(
        question.duration, step, points, Window(since.timestamp(), end.timestamp(), coverage)
    )


def _range(first: datetime, stop: datetime, step: timedelta) -> list[datetime]:
    return [first + i * step for i in range((stop - first) // step)] if first < stop else []


def _points(cursor, question: Question, intervals: list, oldest: datetime | None) -> tuple:
    """Return the Analysis of each (start, end] interval, in order."""
    aligned = [
        _Point(start, end, {d: Counter() for d in question.dimensions})
        for start, end in intervals
        if oldest is not None and oldest <= start and not (start - EPOCH) % MINUTE
    ]
    _count(cursor, question, aligned)
    exact = {point.start: point for point in aligned if point.exact}
    _values(cursor, question, list(exact.values()))
    answers = []
    for start, end in intervals:
        window = Window(start.timestamp(), end.timestamp())
        if oldest is None or end < oldest:  # nothing stored there (any more)
            answers.append(_empty(question, window))
        elif start in exact:
            point = exact[start]
            answers.append(
                Analysis(point.total, point.minimum, point.maximum, point.values, window)
            )
        else:
            cover = stored_cover(since=start, now=end, oldest=oldest)
            counts, values = window_figures(
                cursor, dataclasses.replace(question, duration=end - start), cover
            )
            answers.append(Analysis(counts.total, counts.minimum, counts.maximum, values, window))
    return tuple(answers)


def _empty(question: Question, window: Window) -> Analysis:
    values = {d: percentiles((), question.percentiles) for d in question.dimensions}
    return Analysis(0, None, None, values, window)


def _count(cursor, question: Question, points: list[_Point]) -> None:
    """Fill each point's counts: its whole minutes and hours, less its start, plus its end."""
    if not points:
        return
    ranges = []
    for index, point in enumerate(points):
        # The cover of [start, end]: whole minutes and hours, and only `end` read raw.
        cover = window_cover(since=point.start - MICROSECOND, now=point.end)
        ranges += [
            (span, low, high, index)
            for span, low, high in (
                (SPANS["minute"], cover.minute_from, cover.hour_from),
                (SPANS["hour"], cover.hour_from, cover.hour_to),
                (SPANS["minute"], cover.hour_to, cover.minute_to),
            )
            if low < high
        ]
    spans, lows, highs, indexes = (list(column) for column in zip(*ranges, strict=True))
    params = {"spans": spans, "lows": lows, "highs": highs, "points": indexes}
    params |= {"dimensions": list(question.dimensions), "post_types": list(question.post_types)}
    typed = bool(question.post_types)
    cursor.execute(_SUMMARIES[typed], params)
    for index, total, minimum, maximum in cursor.fetchall():
        points[index].total, points[index].minimum, points[index].maximum = total, minimum, maximum
    cursor.execute(_BUCKETS[typed], params)
    for index, dimension, bucket, n in cursor.fetchall():
        points[index].buckets[dimension][bucket] += n
    _count_instants(cursor, question, points)


def _count_instants(cursor, question: Question, points: list[_Point]) -> None:
    """Move the posts that arrived exactly on an edge into the point that ends there."""
    starting = {point.start: point for point in points}
    ending = {point.end: point for point in points}
    instants = sorted(starting.keys() | ending.keys())
    cursor.execute(
        _INSTANT_POSTS[bool(question.post_types)],
        {"instants": instants, "post_types": list(question.post_types)},
    )
    posts = cursor.fetchall()
    for arrived_at, created_ts, *values in posts:  # every removal before any addition
        if arrived_at in starting:
            starting[arrived_at].remove(created_ts, values)
    for arrived_at, created_ts, *values in posts:
        if arrived_at in ending:
            ending[arrived_at].add(created_ts, values)
    for point in points:
        point.buckets = {d: +counter for d, counter in point.buckets.items()}  # drops zeros


def _values(cursor, question: Question, points: list[_Point]) -> None:
    """Fill each point's percentiles: from single-value buckets at once, the k-th value
    lookups of all points batched in one statement per dimension."""
    lookups: dict[str, list[tuple]] = {d: [] for d in question.dimensions}
    for point in points:
        for dimension, buckets in point.buckets.items():
            found = point.values[dimension] = percentiles((), question.percentiles)
            if not buckets:
                continue
            for name, (low, high, skip) in bucket_positions(buckets, question.percentiles).items():
                found[name] = low
                if low != high:
                    lookups[dimension].append(
                        (point.start, point.end, low, high, skip, found, name)
                    )
    for dimension, asked in lookups.items():
        values = nth_values(
            cursor, dimension, question.post_types, [lookup[:5] for lookup in asked]
        )
        for value, (*_, found, name) in zip(values, asked, strict=True):
            found[name] = value
