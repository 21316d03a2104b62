from __future__ import annotations

from datetime import UTC, datetime, timedelta
from importlib import import_module

import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis.cover import window_cover
from analysis.historical import bucket_range, post_percentiles, post_percentiles_reference
from analysis.percentiles import Percentile
from analysis.results import NoDataError, Question
from ingestion.aggregates import BOUNDS, bucket_of
from ingestion.parser import DIMENSIONS
from ingestion.partitions import drop_partitions_before
from ingestion.services import posts_prune
from tests.conftest import make_post, store

pytestmark = pytest.mark.django_db

T = datetime(2030, 1, 2, 3, 0, tzinfo=UTC)  # posts arrive from T to T + 3 h
SPAN_US = 3 * 3600 * 10**6
MICRO = timedelta(microseconds=1)

# Offsets from T in microseconds: anywhere, or exactly on a second, a minute or an hour, or
# next to one; and many within a few seconds of each other (several in one second).
OFFSETS = st.one_of(
    st.integers(0, SPAN_US),
    st.integers(0, 3 * 3600).map(lambda s: s * 10**6),
    st.integers(0, 180).map(lambda m: m * 60 * 10**6),
    st.integers(0, 3).map(lambda h: h * 3600 * 10**6),
    st.tuples(st.integers(1, 180), st.sampled_from([-1, 1])).map(
        lambda t: t[0] * 60 * 10**6 + t[1]
    ),
    st.tuples(st.integers(1, 3 * 3600), st.sampled_from([-1, 1])).map(
        lambda t: t[0] * 10**6 + t[1]
    ),
    st.integers(3599 * 10**6, 3603 * 10**6),
)
VALUES = st.one_of(
    st.none(),
    st.integers(0, 70),  # single-value buckets
    st.integers(60, 300),  # buckets of 4 to 16 values: the exact lookup
    st.sampled_from([1000, 1001, 1003, 2**62, 2**63 - 1]),  # duplicates, the last bucket
    st.integers(0, 2**63 - 1),
)
TYPES = ("tweet", "pin", "story")
POSTS = st.lists(
    st.tuples(
        OFFSETS, st.sampled_from(TYPES), st.integers(0, 2**40), VALUES, VALUES, VALUES, VALUES
    ),
    min_size=1,
    max_size=250,
)


def stored(rows: list[tuple]) -> list[datetime]:
    """Store the generated posts through posts_ingest, in a few batches; return arrivals."""
    posts = [
        (
            T + offset * MICRO,
            make_post(
                post_type=post_type,
                created_ts=created,
                **dict(zip(DIMENSIONS, values, strict=True)),
            ),
        )
        for offset, post_type, created, *values in rows
    ]
    for start in range(0, len(posts), 100):
        store(*posts[start : start + 100])
    return [arrived_at for arrived_at, _ in posts]


def fast_or_none(*, dimension, duration, now) -> tuple | None:
    try:
        analysis = post_percentiles(Question((dimension,), duration), now=now)
    except NoDataError:
        return None
    return (
        analysis.total_posts,
        analysis.minimum_timestamp,
        analysis.maximum_timestamp,
        list(analysis.values[dimension].values()),
    )


def reference_or_none(**window) -> tuple | None:
    total, minimum, maximum, carried, values = post_percentiles_reference(**window)
    return (total, minimum, maximum, values) if carried else None


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    rows=POSTS,
    windows=st.lists(
        st.tuples(OFFSETS, OFFSETS, st.sampled_from(DIMENSIONS), st.booleans()),
        min_size=1,
        max_size=6,
    ),
)
def test_it_equals_percentile_disc_on_any_window(rows, windows):
    with transaction.atomic():  # a savepoint per example: the test's transaction stays clean
        arrivals = stored(rows)
        for end, length, dimension, on_a_post in windows:
            now = arrivals[end % len(arrivals)] if on_a_post else T + end * MICRO
            window = {"dimension": dimension, "duration": length * MICRO + MICRO, "now": now}
            assert fast_or_none(**window) == reference_or_none(**window), window
        transaction.set_rollback(True)


BUCKETS = [
    (0, 1, (0, 0)),
    (63, 64, (63, 63)),
    (64, 65, (64, 67)),
    (67, 65, (64, 67)),
    (2**63 - 1, len(BOUNDS), (2**62 + 15 * 2**58, 2**63 - 1)),
]


@pytest.mark.parametrize(("value", "bucket", "values"), BUCKETS)
def test_buckets_in_python_are_the_buckets_of_sql_width_bucket(value, bucket, values):
    with connection.cursor() as cursor:
        cursor.execute("SELECT width_bucket(%s::bigint, %s::bigint[])", [value, list(BOUNDS)])
        assert cursor.fetchone()[0] == bucket_of(value) == bucket
    assert bucket_range(bucket) == values


COVERS = [
    # since, now → the from/to of seconds, minutes and hours (offsets from T in s)
    ((-3600, 3600), (-3599, 3600, -3540, 3600, 0, 3600)),
    ((-3599.5, 7200.25), (-3599, 7200, -3540, 7200, 0, 7200)),
    ((-3599.5, 7260.25), (-3599, 7260, -3540, 7260, 0, 7200)),
    ((10, 100), (11, 100, 100, 100, 100, 100)),  # no whole minute: 60 s to 120 s is not in
    ((10.5, 11.5), (11.5, 11.5, 11.5, 11.5, 11.5, 11.5)),  # no whole second: all raw
    ((10, 10.9), (10.9, 10.9, 10.9, 10.9, 10.9, 10.9)),
    ((0, 300), (1, 300, 60, 300, 300, 300)),  # no whole hour
    ((59.999999, 120), (60, 120, 60, 120, 120, 120)),  # the minute from 60 s is whole
]


@pytest.mark.parametrize(("window", "expected"), COVERS)
def test_a_window_splits_into_raw_edges_and_whole_seconds_minutes_hours(window, expected):
    since, now = (T + timedelta(seconds=s) for s in window)
    cover = window_cover(since=since, now=now)
    got = (cover.second_from, cover.second_to, cover.minute_from, cover.minute_to)
    got += (cover.hour_from, cover.hour_to)
    assert got == tuple(T + timedelta(seconds=s) for s in expected)


def aggregate_starts() -> list[datetime]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT min(start) FROM ingestion_bucketcount"
            " UNION ALL SELECT min(start) FROM ingestion_secondcount"
            " UNION ALL SELECT min(start) FROM ingestion_periodsummary"
        )
        return [start for (start,) in cursor.fetchall()]


@pytest.mark.parametrize("interval", [timedelta(hours=1), timedelta(minutes=15)])
def test_pruning_drops_the_aggregates_with_the_partitions(settings, interval):
    settings.PARTITION_INTERVAL = interval
    settings.RETENTION = timedelta(hours=1, minutes=20)
    drop_partitions_before(T + timedelta(days=1))  # those the migration made
    store(*((T + timedelta(minutes=m), make_post(likes=m)) for m in range(0, 180, 7)))
    assert aggregate_starts() == [T, T, T]
    posts_prune(now=T + timedelta(hours=3))
    oldest_kept = T + timedelta(hours=3) - settings.RETENTION
    oldest_kept -= (oldest_kept - T) % interval
    assert all(start >= oldest_kept for start in aggregate_starts())
    for minutes in (30, 90, 150, 24 * 60):
        window = {"dimension": "likes", "duration": timedelta(minutes=minutes), "now": T}
        window["now"] += timedelta(hours=3)
        assert fast_or_none(**window) == reference_or_none(**window)


def rows(*queries: str) -> list[tuple]:
    """Every row the queries return, one after the other."""
    with connection.cursor() as cursor:
        found = []
        for query in queries:
            cursor.execute(query)
            found += cursor.fetchall()
        return found


def second_rows() -> list[tuple]:
    return rows(
        "SELECT * FROM ingestion_secondcount ORDER BY 1, 2",
        "SELECT * FROM ingestion_periodsummary WHERE span = 1 ORDER BY 2",
    )


def type_rows() -> list[tuple]:
    return rows(
        "SELECT * FROM ingestion_typecount ORDER BY 1, 2, 3, 4, 5",
        "SELECT * FROM ingestion_typesummary ORDER BY 1, 2, 3",
    )


def test_the_migration_counts_older_posts_per_type_as_the_collector_does():
    backfill = import_module("ingestion.migrations.0007_type_aggregates").BACKFILL
    values = [0, 1, 63, 64, 67, 68, 1000, 10**6, 2**40, 2**62, 2**63 - 1, None]
    posts = [
        (
            T + timedelta(seconds=37 * i),
            make_post(post_type=TYPES[i % 3], likes=v, comments=values[-1 - n], created_ts=i),
        )
        for i, (n, v) in enumerate((n, v) for n in range(12) for v in values)
    ]
    for start in range(0, len(posts), 10):  # flushes that end mid-minute: merged counts
        store(*posts[start : start + 10])
    written = type_rows()
    assert {row[0] for row in written} == {60, 3600}
    assert {row[1] for row in written} == set(TYPES)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM ingestion_typecount")
        cursor.execute("DELETE FROM ingestion_typesummary")
        cursor.execute(backfill)
    assert type_rows() == written


def test_the_migration_counts_seconds_of_older_posts_as_the_collector_does():
    backfill = import_module("ingestion.migrations.0006_second_aggregates").BACKFILL
    values = [0, 1, 63, 64, 67, 68, 1000, 10**6, 2**40, 2**62, 2**63 - 1, None]
    posts = [
        (T + timedelta(milliseconds=137 * i), make_post(likes=v, retweets=values[-1 - n]))
        for i, (n, v) in enumerate((n, v) for n in range(12) for v in values)
    ]
    for start in range(0, len(posts), 10):  # flushes that end mid-second: merged histograms
        store(*posts[start : start + 10])
    written = second_rows()
    assert len(written) > 20
    assert any(len(buckets) > 1 for _, _, buckets, _ in written[:-20] if buckets)
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM ingestion_secondcount")
        cursor.execute("DELETE FROM ingestion_periodsummary WHERE span = 1")
        cursor.execute(backfill)
    assert second_rows() == written


PERCENTILE_LISTS = st.lists(
    st.builds(lambda p: Percentile.parse(f"{p / 1000:.3f}"), st.integers(1, 100_000)),
    min_size=1,
    max_size=10,
    unique=True,
)


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    rows=POSTS,
    windows=st.lists(
        st.tuples(
            OFFSETS,
            OFFSETS,
            st.lists(st.sampled_from(DIMENSIONS), min_size=1, max_size=4, unique=True),
            PERCENTILE_LISTS,
            st.lists(st.sampled_from((*TYPES, "article")), max_size=3, unique=True),
        ),
        min_size=1,
        max_size=4,
    ),
)
def test_any_percentiles_of_several_dimensions_and_post_types_equal_percentile_disc(rows, windows):
    with transaction.atomic():
        arrivals = stored(rows)
        for end, length, dimensions, requested, post_types in windows:
            now = arrivals[end % len(arrivals)]
            duration = length * MICRO + MICRO
            references = {
                d: post_percentiles_reference(
                    dimension=d,
                    duration=duration,
                    now=now,
                    requested=requested,
                    post_types=tuple(post_types),
                )
                for d in dimensions
            }
            question = Question(tuple(dimensions), duration, tuple(requested), tuple(post_types))
            if not any(reference[3] for reference in references.values()):
                with pytest.raises(NoDataError):
                    post_percentiles(question, now=now)
                continue
            analysis = post_percentiles(question, now=now)
            counts = next(iter(references.values()))[:3]
            assert counts == (
                analysis.total_posts,
                analysis.minimum_timestamp,
                analysis.maximum_timestamp,
            )
            names = [p.name for p in requested]
            for d, (*_, carried, values) in references.items():
                expected = (
                    dict(zip(names, values, strict=True)) if carried else dict.fromkeys(names)
                )
                assert analysis.values[d] == expected, (d, requested)
        transaction.set_rollback(True)
