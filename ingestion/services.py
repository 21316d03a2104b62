"""Writes to the posts table."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction

from ingestion.models import CollectorHeartbeat
from ingestion.parser import Post
from ingestion.partitions import drop_partitions_before, ensure_partitions

COLUMNS = (
    "arrived_at, post_type, upstream_id, post_id, created_ts,"
    " likes, comments, favorites, retweets, metrics, text, link"
)


def posts_ingest(*, posts: Sequence[tuple[datetime, Post]]) -> int:
    """Store (arrival time, post) pairs in one COPY; return how many were written."""
    copy_sql = f"COPY ingestion_post ({COLUMNS}) FROM STDIN"
    with transaction.atomic(), connection.cursor() as cursor, cursor.copy(copy_sql) as copy:
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
    return len(posts)


@dataclass(frozen=True, slots=True)
class PruneResult:
    created: list[str]
    dropped: list[str]


def posts_prune(*, now: datetime, dry_run: bool = False) -> PruneResult:
    """Create the partitions of the next two hours and drop those past settings.RETENTION."""
    with transaction.atomic():
        created = ensure_partitions(now=now, ahead=timedelta(hours=2))
        # Whole partitions only: a DROP TABLE costs the same for 1 or 1 million rows and
        # leaves no dead tuples behind, unlike a row-by-row DELETE.
        dropped = drop_partitions_before(now - settings.RETENTION, dry_run=dry_run)
        # A dry run creates inside a transaction it then rolls back, so it reports exactly
        # what the real run would create, from the same code.
        transaction.set_rollback(dry_run)
    return PruneResult(created=created, dropped=dropped)


def collector_heartbeat(*, collector: str, now: datetime, ingested: int) -> None:
    """Record that `collector` (host:pid) is alive and leading at `now`."""
    CollectorHeartbeat.objects.update_or_create(
        collector=collector, defaults={"beat_at": now, "ingested": ingested}
    )
