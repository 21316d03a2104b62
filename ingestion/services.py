"""Writes to the posts table."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from operator import attrgetter

import orjson
from django.conf import settings
from django.db import connection, transaction
from psycopg.types.json import set_json_dumps

from ingestion.aggregates import aggregates_add, aggregates_count, aggregates_delete_before
from ingestion.models import CollectorHeartbeat, Post
from ingestion.parser import ParsedPost
from ingestion.partitions import drop_partitions_before, ensure_partitions, existing_partitions

# COPY writes every column of the Post model but its identity. A binary COPY sends values
# in the server's own format, so it needs each column's type up front (and no escaping).
_BINARY_TYPES = {
    "DateTimeField": "timestamptz",
    "CharField": "varchar",
    "BigIntegerField": "int8",
    "JSONField": "jsonb",
}
_ARRIVED_AT = Post._meta.get_field("arrived_at")
# The other columns are the parsed post's attributes of the same names.
_POST_FIELDS = [f for f in Post._meta.concrete_fields if f not in (Post._meta.pk, _ARRIVED_AT)]
_COPY_SQL = (
    f"COPY {Post._meta.db_table} ({', '.join(f.column for f in [_ARRIVED_AT, *_POST_FIELDS])})"
    " FROM STDIN (FORMAT BINARY)"
)
_COPY_TYPES = [_BINARY_TYPES[f.get_internal_type()] for f in [_ARRIVED_AT, *_POST_FIELDS]]
_post_values = attrgetter(*(f.attname for f in _POST_FIELDS))


def posts_ingest(*, posts: Sequence[tuple[datetime, ParsedPost]]) -> int:
    """Store (arrival time, post) pairs in one COPY, with their aggregates; return how many."""
    with transaction.atomic():
        with _copy(posts):
            # PostgreSQL is still storing the rows sent: count them meanwhile. The COPY's
            # end waits for it, and the collector's writer spends most of a batch waiting.
            counts = aggregates_count(posts=posts)
        # Same transaction: a reader's snapshot sees the rows and their counts, or neither.
        aggregates_add(counts=counts)
    return len(posts)


@contextmanager
def _copy(posts: Sequence[tuple[datetime, ParsedPost]]) -> Iterator[None]:
    """Send the posts in a COPY, which ends (waiting for PostgreSQL) as the block ends."""
    # Binary COPY with psycopg's C dumpers and orjson for the metrics costs about a third of
    # the CPU of a text COPY with json.dumps: the collector's largest share after parsing.
    with connection.cursor() as cursor:
        set_json_dumps(orjson.dumps, context=cursor.cursor)
        with cursor.copy(_COPY_SQL) as copy:
            copy.set_types(_COPY_TYPES)
            write_row = copy.write_row
            for arrived_at, post in posts:
                write_row((arrived_at, *_post_values(post)))
            yield


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
