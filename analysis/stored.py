"""What the table of posts holds now: how many, the oldest and the newest arrival.

The count is the sum of the hourly summaries (ingestion_periodsummary, span 3600) that
posts_ingest writes with the rows and posts_prune deletes with their partitions: exact, and
about 25 rows to read whatever the stream rate, where count(*) would scan every post.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import connection

from ingestion.aggregates import SPANS

# One statement, so one snapshot: the count and the arrivals agree. min/max are index-only.
_STORED = """
    SELECT (SELECT coalesce(sum(posts), 0)::bigint FROM ingestion_periodsummary
            WHERE span = %(hour)s),
           (SELECT min(arrived_at) FROM ingestion_post),
           (SELECT max(arrived_at) FROM ingestion_post WHERE arrived_at <= %(now)s)
"""


@dataclass(frozen=True, slots=True)
class Stored:
    """The posts stored at `now` and the span of their arrivals (None when there are none)."""

    now: datetime
    posts: int
    oldest: datetime | None
    newest: datetime | None

    def as_dict(self) -> dict[str, int | float | None]:
        def unix(moment: datetime | None) -> float | None:
            return None if moment is None else round(moment.timestamp(), 3)

        age = None if self.newest is None else (self.now - self.newest).total_seconds()
        return {
            "posts_stored": self.posts,
            "oldest_arrival": unix(self.oldest),
            "newest_arrival": unix(self.newest),
            "newest_age_seconds": None if age is None else round(age, 3),
            "now": unix(self.now),
        }


def posts_stored(*, now: datetime) -> Stored:
    """Count the stored posts and find their oldest and newest arrival up to `now`."""
    with connection.cursor() as cursor:
        cursor.execute(_STORED, {"hour": SPANS["hour"], "now": now})
        posts, oldest, newest = cursor.fetchone()
    return Stored(now=now, posts=posts, oldest=oldest, newest=newest)
