"""Writes to the posts table."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import orjson
from django.conf import settings
from django.db import connection, transaction
from psycopg.types.json import set_json_dumps

from ingestion.aggregates import aggregates_add, aggregates_delete_before
from ingestion.models import CollectorHeartbeat
from ingestion.parser import Post
from ingestion.partitions import drop_partitions_before, ensure_partitions, existing_partitions

# The columns COPY writes, each with its PostgreSQL type: a binary COPY sends values in
# the server's own format, so it needs the types up front (and no text escaping).
COLUMNS = (
    ("arrived_at", "timestamptz"),
    ("post_type", "varchar"),
    ("upstream_id", "int8"),
    ("post_id", "varchar"),
    ("created_ts", "int8"),
    ("likes", "int8"),
    ("comments", "int8"),
    ("favorites", "int8"),
    ("retweets", "int8"),
    ("metrics", "jsonb"),
    ("text", "varchar"),
    ("link", "varchar"),
)
_COPY_SQL = (
    f"COPY ingestion_post ({', '.join(name for name, _ in COLUMNS)}) FROM STDIN (FORMAT BINARY)"
)


def posts_ingest(*, posts: Sequence[tuple[datetime, Post]]) -> int:
    """Store (arrival time, post) pairs in one COPY, with their aggregates; return how many."""
    with transaction.atomic():
        _copy(posts)
        # Same transaction: a reader's snapshot sees the rows and their counts, or neither.
        aggregates_add(posts=posts)
    return len(posts)


def _copy(posts: Sequence[tuple[datetime, Post]]) -> None:
    # Binary COPY with psycopg's C dumpers and orjson for the metrics costs about a third of
    # the CPU of a text COPY with json.dumps: the collector's largest share after parsing.
    with connection.cursor() as cursor:
        set_json_dumps(orjson.dumps, context=cursor.cursor)
        with cursor.copy(_COPY_SQL) as copy:
            copy.set_types([kind for _, kind in COLUMNS])
            write_row = copy.write_row
            for arrived_at, post in posts:
                write_row(
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
                        post.metrics,
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
