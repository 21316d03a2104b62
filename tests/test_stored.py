from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from analysis.stored import posts_stored
from ingestion.services import posts_prune
from tests.conftest import make_post, store

pytestmark = pytest.mark.django_db


def test_it_counts_every_stored_post_and_names_the_oldest_and_newest_arrival(client):
    now = timezone.now()
    arrivals = [
        now - timedelta(hours=3, seconds=7),
        now - timedelta(minutes=5),
        now - timedelta(seconds=2),
    ]
    store(*((at, make_post(likes=None)) for at in arrivals))
    answer = client.get("/v1/stored").json()
    assert answer["posts_stored"] == 3
    assert answer["oldest_arrival"] == round(arrivals[0].timestamp(), 3)
    assert answer["newest_arrival"] == round(arrivals[-1].timestamp(), 3)
    assert 2 <= answer["newest_age_seconds"] < 10
    assert answer["now"] >= answer["newest_arrival"]


def test_an_empty_table_is_zero_posts_and_null_arrivals(client):
    answer = client.get("/v1/stored").json()
    assert answer["posts_stored"] == 0
    assert (answer["oldest_arrival"], answer["newest_arrival"], answer["newest_age_seconds"]) == (
        None,
        None,
        None,
    )


def test_pruned_posts_are_no_longer_counted():
    now = timezone.now()
    store((now - timedelta(hours=30), make_post()), (now - timedelta(minutes=1), make_post()))
    assert posts_stored(now=now).posts == 2
    posts_prune(now=now)
    stored = posts_stored(now=now)
    assert stored.posts == 1
    assert stored.oldest == now - timedelta(minutes=1)


def test_a_post_arriving_after_now_is_counted_but_is_not_the_newest():
    now = timezone.now()
    store((now - timedelta(seconds=30), make_post()), (now + timedelta(seconds=30), make_post()))
    stored = posts_stored(now=now)
    assert (stored.posts, stored.newest) == (2, now - timedelta(seconds=30))


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_other_methods_are_405(client, method):
    response = getattr(client, method)("/v1/stored")
    assert response.status_code == 405
    assert response["Allow"] == "GET"
