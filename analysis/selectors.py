"""Historical reads: one SQL statement over the stored posts of a window."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import connection

from analysis.results import Analysis, NoDataError
from ingestion.parser import DIMENSIONS

# One statement per dimension, built from the whitelist at import: input never reaches SQL
# text. percentile_disc ignores NULLs, i.e. the posts that do not carry the dimension.
_STATEMENTS = {
    dimension: f"""
        SELECT count(*), min(created_ts), max(created_ts), count({dimension}),
               percentile_disc(ARRAY[0.5, 0.9, 0.99]) WITHIN GROUP (ORDER BY {dimension})
        FROM ingestion_post
        WHERE arrived_at > %s AND arrived_at <= %s
    """
    for dimension in DIMENSIONS
}


def post_percentiles(*, dimension: str, duration: timedelta, now: datetime) -> Analysis:
    """Analyse the posts that arrived in (now - duration, now]."""
    with connection.cursor() as cursor:
        cursor.execute(_STATEMENTS[dimension], [now - duration, now])
        total, minimum, maximum, carried, values = cursor.fetchone()
    if not carried:
        raise NoDataError(dimension)
    p50, p90, p99 = values
    return Analysis(dimension, total, minimum, maximum, p50, p90, p99)
