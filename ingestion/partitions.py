"""Partitions of ingestion_post by arrival time: created ahead, dropped whole past retention.

One partition per PARTITION_INTERVAL (an hour unless configured otherwise; shorter ones
serve tests and soak drills with a retention of minutes).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction

TABLE = "ingestion_post"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
PARTITIONS_LOCK = 0x5354_5245_414D_5054  # "stream-analyzer partitions", any constant
# Partition DDL locks the parent table exclusively. Queued behind a long query, it would
# block every insert and read queued after it: give up instead (a later run retries).
LOCK_TIMEOUT = "SET LOCAL lock_timeout = '5s'"


def floor(moment: datetime, unit: timedelta) -> datetime:
    """Return the start of the `unit`-long slice of time (counted from the epoch) holding moment."""
    return EPOCH + (moment - EPOCH) // unit * unit


def interval() -> timedelta:
    return settings.PARTITION_INTERVAL


def partition_start(moment: datetime) -> datetime:
    """Return the start of the partition that holds `moment`."""
    return floor(moment, interval())


def partition_name(start: datetime) -> str:
    if interval() % timedelta(hours=1):
        return f"{TABLE}_p{start.astimezone(UTC):%Y%m%d_%H%M}"
    return f"{TABLE}_p{start.astimezone(UTC):%Y%m%d_%H}"


def existing_partitions() -> dict[str, tuple[datetime, datetime]]:
    """Return {name: (start, end)} for every partition of the posts table."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT child.relname, pg_get_expr(child.relpartbound, child.oid)
            FROM pg_inherits
            JOIN pg_class parent ON parent.oid = pg_inherits.inhparent
            JOIN pg_class child ON child.oid = pg_inherits.inhrelid
            WHERE parent.relname = %s
            """,
            [TABLE],
        )
        rows = cursor.fetchall()
    return {name: _bounds(expression) for name, expression in rows}


def _bounds(expression: str) -> tuple[datetime, datetime]:
    # "FOR VALUES FROM ('2026-11-29 22:00:00+00') TO ('2026-11-29 23:00:00+00')"
    start, end = expression.split("'")[1::2][:2]
    return datetime.fromisoformat(start), datetime.fromisoformat(end)


def ensure_partitions(*, now: datetime, ahead: timedelta = timedelta(hours=2)) -> list[str]:
    """Create the partitions from now's to now + ahead's; return the names of those created.

    A range already covered by a partition of another size (PARTITION_INTERVAL changed)
    is left to it: the new size starts where the old partitions end.
    """
    covered = list(existing_partitions().values())
    created = []
    start = partition_start(now)
    while start <= now + ahead:
        end = start + interval()
        if not any(low < end and start < high for low, high in covered):
            _create(partition_name(start), start, end)
            created.append(partition_name(start))
        start = end
    return created


def _create(name: str, start: datetime, end: datetime) -> None:
    # Names come from partition_name() only; bounds are bound parameters. The collector and
    # the scheduler may create the same partition at once: the transaction-scoped lock
    # makes the second wait, then find it (IF NOT EXISTS) instead of failing.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(LOCK_TIMEOUT)
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [PARTITIONS_LOCK])
        cursor.execute(
            f'CREATE TABLE IF NOT EXISTS "{name}" PARTITION OF {TABLE} '
            "FOR VALUES FROM (%s) TO (%s)",
            [start.isoformat(), end.isoformat()],
        )


def drop_partitions_before(cutoff: datetime, *, dry_run: bool = False) -> list[str]:
    """Drop every partition lying entirely before cutoff; return their names."""
    expired = sorted(name for name, (_, end) in existing_partitions().items() if end <= cutoff)
    if not dry_run:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(LOCK_TIMEOUT)
            for name in expired:
                cursor.execute(f'DROP TABLE IF EXISTS "{name}"')
    return expired
