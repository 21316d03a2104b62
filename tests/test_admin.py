from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from ingestion import admin as post_admin
from ingestion.admin import EstimatedCountPaginator, created_at, estimated_count, link_html
from ingestion.models import Post
from tests.conftest import make_post, store

pytestmark = pytest.mark.django_db

LIST = "/admin/ingestion/post/"


@pytest.fixture
def posts() -> dict[str, Post]:
    """Four posts, 10 min, 3 h, 12 h and 30 h old; return them by post_id."""
    now = timezone.now()
    store(
        (now - timedelta(hours=30), make_post(post_type="article", post_id="104")),
        (now - timedelta(hours=12), make_post(post_type="story", post_id="103", likes=7)),
        (now - timedelta(hours=3), make_post(post_type="pin", post_id="102")),
        (
            now - timedelta(minutes=10),
            make_post(
                post_type="tweet",
                post_id="101",
                created_ts=1_700_000_000,
                favorites=643,
                retweets=19,
                comments=24,
                metrics={"views": 5},
                text="Wishing for summer",
                link="https://example.com/p/101",
            ),
        ),
    )
    return {post.post_id: post for post in Post.objects.all()}


LISTS = [
    ("", ["101", "102", "103", "104"]),
    ("?type=tweet", ["101"]),
    ("?type=article", ["104"]),
    ("?type=youtube_video", []),
    ("?arrived=1h", ["101"]),
    ("?arrived=6h", ["101", "102"]),
    ("?arrived=24h", ["101", "102", "103"]),
    ("?type=story&arrived=24h", ["103"]),
    ("?q=102", ["102"]),
    ("?q=10", []),  # exact post_id, not "contains"
    ("?o=0", ["104", "103", "102", "101"]),  # arrival, oldest first
    ("?o=3", ["101", "102", "103", "104"]),  # a crafted sort by likes is ignored
    ("?o=-3.2", ["101", "102", "103", "104"]),
]


@pytest.mark.parametrize(("query", "post_ids"), LISTS)
def test_the_list_filters_and_searches(admin_client, posts, query, post_ids):
    response = admin_client.get(LIST + query)
    assert response.status_code == 200
    assert [post.post_id for post in response.context["cl"].result_list] == post_ids


def test_the_list_shows_the_columns_of_a_post(admin_client, posts):
    page = admin_client.get(LIST + "?type=tweet").content.decode()
    for text in ("tweet", "2023-11-14 22:13:20", "643", "19", "24", "Wishing for summer"):
        assert f">{text}<" in page


def test_the_detail_shows_every_field_and_a_clickable_link(admin_client, posts):
    post = posts["101"]
    response = admin_client.get(f"{LIST}{post.pk}/change/")
    assert response.status_code == 200
    page = response.content.decode()
    for text in ("101", "1700000000", "2023-11-14 22:13:20", "643", "{&quot;views&quot;: 5}"):
        assert text in page
    assert '<a href="https://example.com/p/101"' in page
    assert 'name="_save"' not in page  # read-only: no form to submit


FORBIDDEN = [
    ("get", "add/"),
    ("post", "add/"),
    ("post", "{pk}/change/"),
    ("get", "{pk}/delete/"),
    ("post", "{pk}/delete/"),
]


@pytest.mark.parametrize(("method", "path"), FORBIDDEN)
def test_posts_cannot_be_added_changed_or_deleted_even_by_a_superuser(
    admin_client, posts, method, path
):
    post = posts["101"]
    url = LIST + path.format(pk=post.pk)
    response = getattr(admin_client, method)(url, {"post_type": "pin", "post_id": "x"})
    assert response.status_code == 403
    assert Post.objects.get(pk=post.pk).post_type == "tweet"


def test_the_list_never_counts_the_whole_table(admin_client, posts):
    for query in ("", "?type=tweet", "?arrived=1h", "?q=101"):
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get(LIST + query).status_code == 200
        counts = [q["sql"] for q in queries if "COUNT(" in q["sql"].upper()]
        assert counts, query
        assert all("LIMIT 10001" in sql for sql in counts), counts


def test_past_the_exact_limit_the_count_is_postgresqls_estimate(posts, monkeypatch):
    monkeypatch.setattr(post_admin, "EXACT_COUNT_LIMIT", 2)
    analyze()
    assert EstimatedCountPaginator(Post.objects.all(), 100).count == 4
    assert EstimatedCountPaginator(Post.objects.filter(post_type="tweet"), 100).count == 1


def analyze() -> None:
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE ingestion_post")


def test_the_unfiltered_estimate_adds_up_the_partitions_statistics(posts):
    analyze()
    assert estimated_count(Post.objects.all()) == 4


FILTERS = [{"post_type": "tweet"}, {"post_id": "101"}, {"arrived_at__year": 2023}]


@pytest.mark.parametrize("lookups", FILTERS)
def test_a_filtered_estimate_is_the_planners(posts, lookups):
    analyze()
    queryset = Post.objects.filter(**lookups)
    assert estimated_count(queryset) == int(re.search(r" rows=(\d+)", queryset.explain())[1])


LINKS = [
    ("https://example.com/x?a=1&b=2", '<a href="https://example.com/x?a=1&amp;b=2"'),
    ("HTTP://example.com/", '<a href="HTTP://example.com/"'),
    ("javascript:alert(1)", "javascript:alert(1)"),  # shown, never clickable
    ("example.com/x", "example.com/x"),
    ("", ""),
]


@pytest.mark.parametrize(("link", "html"), LINKS)
def test_only_web_links_become_anchors(link, html):
    assert link_html(link).startswith(html)


CREATED = [
    (1_700_000_000, datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)),
    (0, datetime(1970, 1, 1, tzinfo=UTC)),
    (2**62, None),  # out of datetime's range: shown as empty, never a crash
    (-(2**62), None),
]


@pytest.mark.parametrize(("created_ts", "expected"), CREATED)
def test_the_creation_time_is_shown_as_a_datetime(created_ts, expected):
    assert created_at(created_ts) == expected
