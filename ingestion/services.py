"""Writes to the posts table."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction

from ingestion.aggregates import aggregates_add, aggregates_delete_before
from ingestion.models import CollectorHeartbeat
from ingestion.parser import Post
from ingestion.partitions import drop_partitions_before, ensure_partitions, existing_partitions

COLUMNS = (
    "arrived_at, post_type, upstream_id, post_id, created_ts,"
    " likes, comments, favorites, retweets, metrics, text, link"
)


def posts_ingest(*, posts: Sequence[tuple[datetime, Post]]) -> int:
    """Store (arrival time, post) pairs in one COPY, with their aggregates; return how many."""
    copy_sql = f"COPY ingestion_post ({COLUMNS}) FROM STDIN"
    with transaction.atomic():
        _copy(copy_sql, posts)
        # Same transaction: a reader's snapshot sees the rows and their counts, or neither.
        aggregates_add(posts=posts)
    return len(posts)


def _copy(copy_sql: str, posts: Sequence[tuple[datetime, Post]]) -> None:
    with connection.cursor() as cursor, cursor.copy(copy_sql) as copy:
        for arrived_at, post in posts:
            copy.write_row(
                (
                    arrived_at,
                    post.post_type,
                    post.upstream_id,
                    post.post_id,
                    post.created_ts,
                    post.likes,
                    post.comments,
                    post.favorites,
                    post.retweets,
                    json.dumps(post.metrics),
                    post.text,
                    post.link,
                )
            )


@dataclass(frozen=True, slots=True)
class PruneResult:
    created: list[str]
    dropped: list[str]

    def __str__(self) -> str:
        created, dropped = ", ".join(self.created), ", ".join(self.dropped)
        return f"created {created or 'none'}; dropped {dropped or 'none'}"


def posts_prune(*, now: datetime, dry_run: bool = False) -> PruneResult:
    """Create the partitions of the next two hours and drop those past settings.RETENTION."""
    with transaction.atomic():
        created = ensure_partitions(now=now, ahead=timedelta(hours=2))
        # Whole partitions only: a DROP TABLE costs the same for 1 or 1 million rows and
        # leaves no dead tuples behind, unlike a row-by-row DELETE.
        dropped = drop_partitions_before(now - settings.RETENTION, dry_run=dry_run)
        # Aggregates go with the rows they count: those before the oldest partition left.
        starts = [start for start, _ in existing_partitions().values()]
        aggregates_delete_before(start=min(starts, default=now))
        # A dry run creates inside a transaction it then rolls back, so it reports exactly
        # what the real run would create, from the same code.
        transaction.set_rollback(dry_run)
    return PruneResult(created=created, dropped=dropped)


def collector_heartbeat(*, collector: str, now: datetime, ingested: int) -> None:
    """Record that `collector` (host:pid) is alive and leading at `now`."""
    CollectorHeartbeat.objects.update_or_create(
        collector=collector, defaults={"beat_at": now, "ingested": ingested}
    )
