from __future__ import annotations

import importlib
import io
import signal
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from django_q.models import Failure, Schedule, Success

from ingestion.models import Post
from ingestion.partitions import (
    drop_partitions_before,
    ensure_partitions,
    existing_partitions,
    partition_name,
    partition_start,
)
from ingestion.services import PruneResult, posts_prune
from tests.conftest import make_post, store

T = datetime(2030, 1, 2, 3, 40, tzinfo=UTC)
TASK = "ingestion.tasks.prune_posts_task"
SCHEDULE_MIGRATION = importlib.import_module("ingestion.migrations.0003_prune_schedule")


def declare_schedule() -> Schedule:
    """Do what migration 0003 does; return the schedule (get(): there must be one)."""
    SCHEDULE_MIGRATION.create_schedule(apps, None)
    return Schedule.objects.get(name=SCHEDULE_MIGRATION.NAME)


@pytest.fixture
def partitions_from_t_minus_26h(db, settings) -> None:
    """Leave only the partitions of the hours from T - 26 h to T - 1 h."""
    settings.RETENTION = timedelta(hours=24)
    settings.PARTITION_INTERVAL = timedelta(hours=1)
    drop_partitions_before(T)  # those the migration made for the real clock
    ensure_partitions(now=T - timedelta(hours=26), ahead=timedelta(hours=25))


def hours(start: datetime, end: datetime) -> list[str]:
    """Return the names of the partitions for every hour from start's to end's."""
    names, hour = [], partition_start(start)
    while hour <= end:
        names.append(partition_name(hour))
        hour += timedelta(hours=1)
    return names


def test_it_keeps_the_retention_window_and_creates_two_hours_ahead(partitions_from_t_minus_26h):
    kept_at = T - timedelta(hours=23, minutes=59)
    store((kept_at, make_post(post_id="kept")))

    result = posts_prune(now=T)

    assert result == PruneResult(
        created=hours(T, T + timedelta(hours=2)),
        dropped=hours(T - timedelta(hours=26), T - timedelta(hours=25)),
    )
    partitions = existing_partitions()
    assert set(hours(T - timedelta(hours=24), T + timedelta(hours=2))) <= set(partitions)
    assert min(end for _, end in partitions.values()) > T - timedelta(hours=24)
    assert list(Post.objects.values_list("post_id", "arrived_at")) == [("kept", kept_at)]


def test_a_second_run_changes_nothing(partitions_from_t_minus_26h):
    posts_prune(now=T)
    partitions = existing_partitions()
    assert posts_prune(now=T) == PruneResult(created=[], dropped=[])
    assert existing_partitions() == partitions


def test_a_dry_run_reports_what_a_run_would_do_and_changes_nothing(partitions_from_t_minus_26h):
    partitions = existing_partitions()
    planned = posts_prune(now=T, dry_run=True)
    assert existing_partitions() == partitions
    assert posts_prune(now=T) == planned


COMMAND_RUNS = [
    (
        [],
        "created 3 partition(s): ingestion_post_p20300102_03, ingestion_post_p20300102_04,"
        " ingestion_post_p20300102_05\n"
        "dropped 2 partition(s): ingestion_post_p20300101_01, ingestion_post_p20300101_02\n",
        True,
    ),
    (
        ["--dry-run"],
        "would create 3 partition(s): ingestion_post_p20300102_03, ingestion_post_p20300102_04,"
        " ingestion_post_p20300102_05\n"
        "would drop 2 partition(s): ingestion_post_p20300101_01, ingestion_post_p20300101_02\n",
        False,
    ),
]


@pytest.mark.parametrize(("args", "output", "changes"), COMMAND_RUNS)
def test_the_command_says_what_it_created_and_dropped(
    partitions_from_t_minus_26h, monkeypatch, args, output, changes
):
    monkeypatch.setattr(timezone, "now", lambda: T)
    before = existing_partitions()
    stdout = io.StringIO()
    call_command("prune_posts", *args, stdout=stdout)
    assert stdout.getvalue() == output
    assert (existing_partitions() != before) is changes


# The ingestion tables as PostgreSQL sees them, partitions aside (those follow the clock):
# columns with their types, defaults and identity; options and partition key; constraints;
# indexes.
SCHEMA_QUERIES = (
    """
    SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
           a.attidentity::text, pg_get_expr(d.adbin, d.adrelid)
    FROM pg_class c
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
    WHERE c.relname LIKE 'ingestion_%' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
    ORDER BY 1, a.attnum
    """,
    """
    SELECT relname, relkind::text, reloptions, pg_get_partkeydef(oid) FROM pg_class
    WHERE relname LIKE 'ingestion_%' AND relkind IN ('r', 'p') AND NOT relispartition
    ORDER BY 1
    """,
    """
    SELECT o.conname, pg_get_constraintdef(o.oid)
    FROM pg_constraint o JOIN pg_class t ON t.oid = o.conrelid
    WHERE t.relname LIKE 'ingestion_%' AND NOT t.relispartition
    ORDER BY 1
    """,
    """
    SELECT pg_get_indexdef(i.indexrelid)
    FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid
    WHERE t.relname LIKE 'ingestion_%' AND NOT t.relispartition
    ORDER BY 1
    """,
)


def ingestion_schema() -> list[list[tuple]]:
    with connection.cursor() as cursor:
        return [cursor.execute(query).fetchall() for query in SCHEMA_QUERIES]


@pytest.mark.django_db
def test_the_migrations_undo_and_redo_to_the_same_schema_with_one_schedule():
    schema = ingestion_schema()
    call_command("migrate", "ingestion", "zero", verbosity=0)
    assert ingestion_schema() == [[], [], [], []]
    assert not Schedule.objects.filter(name=SCHEDULE_MIGRATION.NAME).exists()
    call_command("migrate", "ingestion", verbosity=0)
    assert ingestion_schema() == schema
    assert partition_name(partition_start(timezone.now())) in existing_partitions()
    schedule = declare_schedule()  # as if migration 0003 were applied again: still one
    assert (schedule.func, schedule.schedule_type, schedule.minutes, schedule.repeats) == (
        TASK,
        Schedule.MINUTES,
        5,
        -1,
    )


@pytest.mark.slow
def test_the_scheduler_process_runs_the_maintenance_on_schedule(manage):
    now = timezone.now()
    expired = ensure_partitions(now=now - timedelta(hours=30), ahead=timedelta(0))
    schedule = declare_schedule()  # a transactional test may have flushed the table
    Schedule.objects.filter(pk=schedule.pk).update(next_run=now)

    qcluster = manage("qcluster")
    # The cluster looks at its schedules about 30 s after start, then every 30 s.
    deadline = time.monotonic() + 60
    while not Success.objects.filter(func=TASK).exists() and time.monotonic() < deadline:
        assert not Failure.objects.filter(func=TASK).exists()
        assert qcluster.poll() is None
        time.sleep(0.5)
    qcluster.send_signal(signal.SIGTERM)
    output = qcluster.communicate(timeout=30)[0]

    assert Success.objects.filter(func=TASK).count() == 1, output
    assert expired[0] not in existing_partitions()
    # The task ran 30 to 60 s after `now`: from its own clock, two hours ahead.
    ahead = hours(now + timedelta(minutes=2), now + timedelta(hours=2))
    assert set(ahead) <= set(existing_partitions())
    assert expired[0] in Success.objects.get(func=TASK).result
    assert qcluster.returncode == 0, output
