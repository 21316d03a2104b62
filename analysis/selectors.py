"""Historical reads: one SQL statement over the stored posts of a window."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import connection

from analysis.results import Analysis, NoDataError
from ingestion.parser import DIMENSIONS

# One statement per dimension, built from the whitelist at import: input never reaches SQL
# text. percentile_disc ignores NULLs, i.e. the posts that do not carry the dimension. The
# two sub-selects (newest and oldest arrival overall) are index-only min/max lookups.
_STATEMENTS = {
    dimension: f"""
        SELECT count(*), min(created_ts), max(created_ts), count({dimension}),
               percentile_disc(ARRAY[0.5, 0.9, 0.99]) WITHIN GROUP (ORDER BY {dimension}),
               (SELECT max(arrived_at) FROM ingestion_post WHERE arrived_at <= %(now)s),
               (SELECT min(arrived_at) FROM ingestion_post)
        FROM ingestion_post
        WHERE arrived_at > %(since)s AND arrived_at <= %(now)s
    """
    for dimension in DIMENSIONS
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


def post_percentiles(
    *, dimension: str, duration: timedelta, now: datetime
) -> tuple[Analysis, Coverage]:
    """Analyse the posts that arrived in (now - duration, now].

    Raise NoDataError (carrying the coverage) when none of them carries the dimension.
    """
    since = now - duration
    with connection.cursor() as cursor:
        cursor.execute(_STATEMENTS[dimension], {"since": since, "now": now})
        total, minimum, maximum, carried, values, newest, oldest = cursor.fetchone()
    coverage = Coverage(now=now, since=max(since, oldest or since), newest=newest)
    if not carried:
        raise NoDataError(dimension, coverage)
    p50, p90, p99 = values
    return Analysis(dimension, total, minimum, maximum, p50, p90, p99), coverage
