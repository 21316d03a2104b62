from __future__ import annotations

from datetime import timedelta
from itertools import pairwise
from unittest import mock

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from analysis.historical import post_percentiles_reference
from analysis.percentiles import DEFAULT_PERCENTILES
from analysis.results import Question
from analysis.series import post_series
from ingestion.parser import DIMENSIONS
from ingestion.partitions import drop_partitions_before, floor
from ingestion.services import posts_prune
from tests.conftest import make_post, store
from tests.test_fast_percentiles import MICRO, OFFSETS, PERCENTILE_LISTS, POSTS, TYPES, T, stored

pytestmark = pytest.mark.django_db

MINUTE, SECOND = timedelta(minutes=1), timedelta(seconds=1)
NOW = T + timedelta(hours=1, minutes=7, seconds=30)  # mid-step for any step of 2m or more


@pytest.fixture
def client():
    return APIClient()


def get(client, query: str, now=NOW):
    with mock.patch("django.utils.timezone.now", return_value=now):
        return client.get(f"/v1/analysis/series?{query}")


def expected_point(start, end, dimensions, requested=DEFAULT_PERCENTILES, post_types=()) -> dict:
    """What the series must answer for (start, end]: percentile_disc over its rows."""
    point = {"start": int(start.timestamp()), "end": int(end.timestamp())}
    for index, dimension in enumerate(dimensions):
        total, minimum, maximum, carried, values = post_percentiles_reference(
            dimension=dimension,
            duration=end - start,
            now=end,
            requested=requested,
            post_types=post_types,
        )
        if index == 0:
            point |= {"total_posts": total, "minimum_timestamp": minimum}
            point["maximum_timestamp"] = maximum
        values = values if carried else [None] * len(requested)
        point |= {f"{dimension}_{p.name}": v for p, v in zip(requested, values, strict=True)}
    return point


def series_of(question: Question, step: timedelta, now) -> list[dict]:
    return post_series(question, step=step, now=now).as_dict()["points"]


BAD_QUERIES = [
    ("duration=1h&dimension=likes", "step: is required, e.g. step=10m"),
    ("duration=1h&step=&dimension=likes", "step: is empty"),
    ("duration=1h&step=10&dimension=likes", "step: '10' is not a duration"),
    ("duration=1h&step=30s&dimension=likes", "step: '30s' is out of range: use 1m0s to 24h0m0s"),
    ("duration=1h&step=59.9s&dimension=likes", "step: '59.9s' is out of range"),
    ("duration=24h&step=25h&dimension=likes", "step: '25h' is out of range"),
    ("duration=1h&step=90s&dimension=likes", "step: '90s' is not a whole number of minutes"),
    ("duration=1h&step=1m0.5s&dimension=likes", "step: '1m0.5s' is not a whole number"),
    ("duration=1h&step=2h&dimension=likes", "step: 2h0m0s is longer than the duration: use at"),
    ("duration=1h&step=10m&step=5m&dimension=likes", "step: is given more than once"),
    ("step=10m&dimension=likes", "duration: is required"),
    ("duration=4s&step=1m&dimension=likes", "duration: '4s' is out of range: use 5s to"),
    ("duration=25h&step=1h&dimension=likes", "duration: '25h' is out of range"),
    ("duration=1h0.5s&step=1m&dimension=likes", "duration: 1h0m0.5s is not whole seconds"),
    ("duration=30s&step=1m&dimension=likes", "step: 1m0s is longer than the duration"),
    ("duration=1h&step=10m", "dimension: is required"),
    ("duration=1h&step=10m&dimension=views", 'dimension: "views" is not accepted'),
    ("duration=1h&step=10m&dimension=likes&percentiles=0", 'percentiles: "0" is out of range'),
    ("duration=1h&step=10m&dimension=likes&post_type=", "post_type: "),
]


@pytest.mark.parametrize(("query", "message"), BAD_QUERIES)
def test_bad_input_is_a_400_naming_the_parameter(client, query, message):
    response = get(client, query)
    assert response.status_code == 400
    assert response.json()["error"].startswith(message), response.json()


def test_more_than_1440_points_is_a_400(client, settings):
    settings.ANALYSIS_MAX_DURATION = timedelta(hours=48)
    response = get(client, "duration=24h1m&step=1m&dimension=likes")
    assert response.json() == {
        "error": "step: 1m0s cuts 24h1m0s into 1441 points: use a longer step (at most 1440 points)"
    }
    assert len(get(client, "duration=48h&step=2m&dimension=likes").json()["points"]) == 1440


GOOD_QUERIES = [
    # duration, step → (start, end) of each point, minutes from T; NOW is T + 67.5 min
    ("1h", "10m", [(10 * i, 10 * i + 10) for i in range(1, 7)]),
    ("25m", "10m", [(45, 50), (50, 60), (60, 70)]),  # the first point is shorter
    ("90s", "1m", [(66.5, 67), (67, 68)]),
    ("2h", "1h", [(0, 60), (60, 120)]),  # the last point ends after now
    ("1h30m", "1h30m", [(0, 90)]),  # steps of the clock: multiples of 90 min since 1970
    ("24h", "24h", [(-3 * 60, 21 * 60)]),  # a day of the UTC clock: T is 03:00
]


@pytest.mark.parametrize(("duration", "step", "points"), GOOD_QUERIES)
def test_points_are_steps_of_the_clock_the_last_holding_now(client, duration, step, points):
    answer = get(client, f"duration={duration}&step={step}&dimension=likes").json()
    assert (answer["duration"], answer["step"]) == (duration_text(duration), duration_text(step))
    edges = [(p["start"], p["end"]) for p in answer["points"]]
    at = T.timestamp()
    assert edges == [(at + low * 60, at + high * 60) for low, high in points]


def duration_text(text: str) -> str:
    from analyzer_project.durations import format_duration, parse_duration

    return format_duration(parse_duration(text))


def test_a_step_without_posts_has_zero_posts_and_null_figures(client):
    store(
        (T + timedelta(minutes=41), make_post(likes=5, comments=7, created_ts=100)),
        (T + timedelta(minutes=60), make_post(likes=9, created_ts=90)),  # the end of (50, 60]
        (T + timedelta(minutes=61), make_post(created_ts=80)),  # carries no dimension
    )
    response = get(client, "duration=40m&step=10m&dimension=likes,comments&percentiles=50,100")
    assert response.status_code == 200
    assert response.json() == {
        "duration": "40m0s",
        "step": "10m0s",
        "points": [
            point(30, 40, 0, None, None, None, None, None, None),
            point(40, 50, 1, 100, 100, 5, 5, 7, 7),
            point(50, 60, 1, 90, 90, 9, 9, None, None),
            point(60, 70, 1, 80, 80, None, None, None, None),
        ],
    }
    assert response["X-Window-Start"] == f"{(T + 30 * MINUTE).timestamp():.3f}"
    assert response["X-Window-End"] == f"{(T + 70 * MINUTE).timestamp():.3f}"


def point(start, end, total, low, high, *values) -> dict:
    keys = ("likes_p50", "likes_p100", "comments_p50", "comments_p100")
    return {
        "start": int((T + start * MINUTE).timestamp()),
        "end": int((T + end * MINUTE).timestamp()),
        "total_posts": total,
        "minimum_timestamp": low,
        "maximum_timestamp": high,
        **dict(zip(keys, values, strict=True)),
    }


def test_post_type_keeps_only_posts_of_those_types(client):
    store(
        (T + timedelta(minutes=61), make_post(post_type="tweet", likes=1, created_ts=10)),
        (T + timedelta(minutes=62), make_post(post_type="pin", likes=2, created_ts=20)),
        (T + timedelta(minutes=64), make_post(post_type="story", likes=3, created_ts=30)),
    )
    query = "duration=2m&step=1m&dimension=likes&percentiles=100&post_type=pin,story"
    points = get(client, query, now=T + timedelta(minutes=63)).json()["points"]
    # (61m, 62m] holds the pin (at its end), (62m, 63m] nothing, the story comes later
    assert [(p["total_posts"], p["minimum_timestamp"], p["likes_p100"]) for p in points] == [
        (1, 20, 2),
        (0, None, None),
    ]


def test_no_stored_post_at_all_is_a_series_of_empty_points(client):
    answer = get(client, "duration=3m&step=1m&dimension=likes").json()
    assert [p["total_posts"] for p in answer["points"]] == [0, 0, 0]


def test_a_post_on_an_edge_holding_the_next_points_extremes_counts_in_the_earlier(client):
    # Arrived exactly at T + 10m: it belongs to (T, T + 10m], but the aggregates count it in
    # the minute from T + 10m, where it is also the oldest and newest creation time.
    store(
        (T + 10 * MINUTE, make_post(likes=1000, created_ts=1)),
        (T + 10 * MINUTE, make_post(likes=2000, created_ts=10**9)),
        (T + 12 * MINUTE, make_post(likes=3, created_ts=500)),
        (T + 20 * MINUTE, make_post(likes=4, created_ts=600)),
    )
    assert_exact(Question(("likes",), 30 * MINUTE), 10 * MINUTE, T + 25 * MINUTE)
    points = series_of(Question(("likes",), 30 * MINUTE), 10 * MINUTE, T + 25 * MINUTE)
    assert [p["total_posts"] for p in points] == [2, 2, 0]


@pytest.mark.parametrize("interval", [timedelta(hours=1), timedelta(minutes=15)])
def test_points_after_pruning_count_only_the_posts_left(settings, interval):
    settings.PARTITION_INTERVAL = interval
    settings.RETENTION = timedelta(hours=1, minutes=20)
    drop_partitions_before(T + timedelta(days=1))  # those the migration made
    store(*((T + timedelta(minutes=m), make_post(likes=m, created_ts=m)) for m in range(180)))
    now = T + timedelta(hours=3)
    posts_prune(now=now)
    for step in (MINUTE, 7 * MINUTE, 60 * MINUTE):
        assert_exact(Question(("likes",), 3 * 60 * MINUTE), step, now)


def assert_exact(question: Question, step: timedelta, now, context=None) -> None:
    """Assert the series tiles its window with steps of the clock, each point exact."""
    points = series_of(question, step, now)
    end = floor(now - MICRO, step) + step
    count = -(-question.duration // step)
    edges = [end - question.duration, *(end - i * step for i in range(count - 1, -1, -1))]
    assert [(p["start"], p["end"]) for p in points] == [
        (int(low.timestamp()), int(high.timestamp())) for low, high in pairwise(edges)
    ]
    for got, (low, high) in zip(points, pairwise(edges), strict=True):
        expected = expected_point(
            low, high, question.dimensions, question.percentiles, question.post_types
        )
        assert got == expected, context


SERIES = st.tuples(
    OFFSETS,  # now
    st.integers(1, 8),  # points
    st.sampled_from([1, 2, 3, 5, 10, 60, 90]),  # step, minutes
    st.integers(0, 3599),  # seconds cut from the first point
    st.lists(st.sampled_from(DIMENSIONS), min_size=1, max_size=3, unique=True),
    PERCENTILE_LISTS,
    st.lists(st.sampled_from((*TYPES, "article")), max_size=2, unique=True),
)


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(rows=POSTS, series=st.lists(SERIES, min_size=1, max_size=3))
def test_each_point_equals_percentile_disc_over_its_interval(rows, series):
    with transaction.atomic():  # a savepoint per example: the test's transaction stays clean
        stored(rows)
        for now, count, minutes, cut, dimensions, requested, post_types in series:
            step = minutes * MINUTE
            duration = max(count * step - min(cut, minutes * 60 - 1) * SECOND, step)
            question = Question(tuple(dimensions), duration, tuple(requested), tuple(post_types))
            assert_exact(question, step, T + now * MICRO, series)
        transaction.set_rollback(True)
