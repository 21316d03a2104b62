from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ingestion.partitions import drop_partitions_before, ensure_partitions, existing_partitions

pytestmark = pytest.mark.django_db

T = datetime(2030, 1, 2, 3, 40, tzinfo=UTC)


def test_it_creates_the_current_hour_and_two_ahead_once():
    created = ensure_partitions(now=T, ahead=timedelta(hours=2))
    assert created == [
        "ingestion_post_p20300102_03",
        "ingestion_post_p20300102_04",
        "ingestion_post_p20300102_05",
    ]
    assert existing_partitions()["ingestion_post_p20300102_04"] == (
        datetime(2030, 1, 2, 4, tzinfo=UTC),
        datetime(2030, 1, 2, 5, tzinfo=UTC),
    )
    assert ensure_partitions(now=T, ahead=timedelta(hours=2)) == []


def test_it_drops_only_partitions_lying_entirely_before_the_cutoff():
    ensure_partitions(now=T - timedelta(hours=3), ahead=timedelta(hours=3))
    cutoff = datetime(2030, 1, 2, 1, 30, tzinfo=UTC)
    # The migration made partitions for the real current hours too: they are older.
    older = [name for name in existing_partitions() if name < "ingestion_post_p2030"]
    expected = [*older, "ingestion_post_p20300102_00"]
    assert drop_partitions_before(cutoff, dry_run=True) == expected
    assert "ingestion_post_p20300102_00" in existing_partitions()
    assert drop_partitions_before(cutoff) == expected
    assert "ingestion_post_p20300102_00" not in existing_partitions()
    assert "ingestion_post_p20300102_01" in existing_partitions()


def test_shorter_partition_intervals_are_named_to_the_minute(settings):
    settings.PARTITION_INTERVAL = timedelta(minutes=15)
    created = ensure_partitions(now=T, ahead=timedelta(minutes=20))
    assert created == [
        "ingestion_post_p20300102_0330",
        "ingestion_post_p20300102_0345",
        "ingestion_post_p20300102_0400",
    ]
    assert existing_partitions()["ingestion_post_p20300102_0345"] == (
        datetime(2030, 1, 2, 3, 45, tzinfo=UTC),
        datetime(2030, 1, 2, 4, 0, tzinfo=UTC),
    )


def test_a_changed_interval_starts_where_the_old_partitions_end(settings):
    ensure_partitions(now=T, ahead=timedelta(0))  # 03:00-04:00, hourly
    settings.PARTITION_INTERVAL = timedelta(minutes=30)
    created = ensure_partitions(now=T, ahead=timedelta(hours=1))
    assert created == ["ingestion_post_p20300102_0400", "ingestion_post_p20300102_0430"]


@pytest.mark.django_db(transaction=True)
def test_two_processes_creating_the_same_partition_both_succeed():
    import threading

    from django.db import connection

    errors = []

    def create():
        try:
            ensure_partitions(now=T + timedelta(days=400), ahead=timedelta(0))
        except Exception as error:  # noqa: BLE001 - the failure is what is tested
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=create) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert "ingestion_post_p20310206_03" in existing_partitions()
