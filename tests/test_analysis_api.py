from __future__ import annotations

import json
import re
import socket
import threading
import time
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import RequestFactory
from django.utils import timezone
from rest_framework.test import APIClient

from analysis.historical import post_percentiles
from analysis.percentiles import percentiles
from analysis.realtime import SLOTS, RealtimeWindow, unix_time
from analysis.results import NoDataError, Question
from analysis.views import arrival
from ingestion.parser import parse_event
from tests.conftest import free_port, make_post, store

pytestmark = pytest.mark.django_db


@pytest.fixture
def client():
    return APIClient()


@pytest.fixture
def realtime(settings, simulator):
    """Point the API at a simulator and allow 1 s windows."""

    def configure(**options):
        sim = simulator(record=True, **options)
        settings.STREAM_URL = sim.url
        settings.ANALYSIS_MIN_DURATION = timedelta(seconds=1)
        return sim

    return configure


LONG = "9" * 5000
BAD_QUERIES = [
    ("dimension=likes", "duration: is required"),
    ("duration=&dimension=likes", "duration: is empty"),
    ("duration=abc&dimension=likes", "duration: 'abc' is not a duration"),
    ("duration=5&dimension=likes", "duration: '5' is not a duration"),
    ("duration=-5s&dimension=likes", "duration: '-5s' is not a duration"),
    ("duration=0s&dimension=likes", "duration: '0s' is out of range: use 5s to 24h0m0s"),
    ("duration=4s&dimension=likes", "duration: '4s' is out of range"),
    ("duration=4999ms&dimension=likes", "duration: '4999ms' is out of range"),
    ("duration=24h1s&dimension=likes", "duration: '24h1s' is out of range"),
    ("duration=25h&dimension=likes", "duration: '25h' is out of range"),
    ("duration=1e3s&dimension=likes", "duration: '1e3s' is not a duration"),
    ("duration=5S&dimension=likes", "duration: '5S' is not a duration"),
    ("duration=5%20s&dimension=likes", "duration: '5 s' is not a duration"),
    ("duration=5s5&dimension=likes", "duration: '5s5' is not a duration"),
    (f"duration={LONG}s&dimension=likes", "duration: is longer than 64 characters"),
    ("duration=%00&dimension=likes", "duration: "),
    ("duration=%C3%A9&dimension=likes", "duration: 'é' is not a duration"),
    ("duration=2m", "dimension: is required: one of likes, comments, favorites, retweets"),
    ("duration=2m&dimension=", 'dimension: "" is not accepted: use one of likes'),
    ("duration=2m&dimension=views", 'dimension: "views" is not accepted'),
    ("duration=2m&dimension=Likes", 'dimension: "Likes" is not accepted'),
    (f"duration=2m&dimension={LONG}", "dimension: "),
    ("duration=2m&duration=3m&dimension=likes", "duration: is given more than once"),
    ("duration=2m&dimension=likes&dimension=likes", "dimension: is given more than once"),
    ("duration=2m&dimension=likes,likes", 'dimension: "likes" is given twice: give each once'),
    ("duration=2m&dimension=likes,", 'dimension: "" is not accepted: use one of likes'),
    ("duration=2m&dimension=likes;comments", 'dimension: "likes;comments" is not accepted'),
    ("duration=2m&dimension=likes&percentiles=", 'percentiles: "" is not a decimal number'),
    ("duration=2m&dimension=likes&percentiles=50,", 'percentiles: "" is not a decimal number'),
    ("duration=2m&dimension=likes&percentiles=p95", 'percentiles: "p95" is not a decimal number'),
    ("duration=2m&dimension=likes&percentiles=0", 'percentiles: "0" is out of range'),
    ("duration=2m&dimension=likes&percentiles=100.5", 'percentiles: "100.5" is out of range'),
    ("duration=2m&dimension=likes&percentiles=99.9999", 'percentiles: "99.9999" has more than 3'),
    ("duration=2m&dimension=likes&percentiles=50,50.0", 'percentiles: "50.0" is given twice'),
    ("duration=2m&dimension=likes&percentiles=99.9,99.90", 'percentiles: "99.90" is given twice'),
    (
        f"duration=2m&dimension=likes&percentiles={','.join(map(str, range(1, 12)))}",
        "percentiles: has 11 items: give at most 10",
    ),
    ("duration=2m&dimension=likes&percentiles=50&percentiles=90", "percentiles: is given more"),
    ("duration=2m&dimension=likes&post_type=", 'post_type: "" is not a post type'),
    ("duration=2m&dimension=likes&post_type=tweet,,pin", 'post_type: "" is not a post type'),
    (f"duration=2m&dimension=likes&post_type={'x' * 65}", f'post_type: "{"x" * 64}" is not a'),
    ("duration=2m&dimension=likes&post_type=pin,tweet,pin", 'post_type: "pin" is given twice'),
    ("duration=2m&dimension=likes&post_type=pin,t%00", "post_type: holds a NUL character"),
    (
        f"duration=2m&dimension=likes&post_type={','.join(f't{i}' for i in range(21))}",
        "post_type: has 21 items: give at most 20",
    ),
]


@pytest.mark.parametrize(("query", "message"), BAD_QUERIES)
def test_bad_input_is_a_400_naming_the_parameter(client, query, message):
    response = client.get(f"/analysis?{query}")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"].startswith(message)


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete", "head", "options"])
def test_other_methods_are_405_with_allow_get(client, method):
    response = getattr(client, method)("/analysis?duration=2m&dimension=likes")
    assert response.status_code == 405
    assert response["Allow"] == "GET"
    if method != "head":
        assert "not allowed" in response.json()["error"]


def test_unknown_paths_are_404_json(client):
    response = client.get("/nope")
    assert response.status_code == 404
    assert response.json() == {"error": "/nope is not a route: use GET /analysis"}


def test_historical_window_edges_are_exact():
    now = timezone.now()
    window = timedelta(minutes=10)
    store(
        (now - window + timedelta(microseconds=1), make_post(likes=10, created_ts=100)),
        (now - window, make_post(likes=99, created_ts=50)),
        (now, make_post(likes=20, created_ts=200)),
        (now + timedelta(microseconds=1), make_post(likes=77, created_ts=300)),
    )
    result = post_percentiles(Question(("likes",), window), now=now)
    coverage = result.window.coverage
    assert (coverage.since, coverage.newest, coverage.age_seconds) == (now - window, now, 0)
    assert result.as_dict() == {
        "total_posts": 2,
        "minimum_timestamp": 100,
        "maximum_timestamp": 200,
        "likes_p50": 10,
        "likes_p90": 20,
        "likes_p99": 20,
    }


def test_historical_counts_posts_without_the_dimension_but_not_in_percentiles(client):
    now = timezone.now()
    store(
        (now - timedelta(seconds=30), make_post(likes=5, created_ts=10)),
        (now - timedelta(seconds=20), make_post(favorites=8, created_ts=20)),
        (now - timedelta(seconds=3 * 60), make_post(likes=1000, created_ts=1)),
    )
    response = client.get("/analysis?duration=2m&dimension=likes")
    assert response.status_code == 200
    assert response.content == (
        b'{"total_posts":2,"minimum_timestamp":10,"maximum_timestamp":20,'
        b'"likes_p50":5,"likes_p90":5,"likes_p99":5}'
    )


def test_historical_answers_say_how_fresh_and_how_far_back_the_data_is(client):
    now = timezone.now()
    store(
        (now - timedelta(seconds=90), make_post(likes=1)),
        (now - timedelta(seconds=30), make_post(likes=2)),
    )
    covered = client.get("/analysis?duration=2m&dimension=likes")
    assert covered.status_code == 200
    assert int(covered["X-Data-Age"]) in (30, 31)
    assert covered["X-Data-Since"] == str(int((now - timedelta(seconds=90)).timestamp()))
    recent = client.get("/analysis?duration=65s&dimension=likes")
    assert recent.json()["total_posts"] == 1
    since = int(recent["X-Data-Since"])
    assert int((now - timedelta(seconds=65)).timestamp()) <= since <= int(now.timestamp()) - 64
    missing = client.get("/analysis?duration=2m&dimension=retweets")
    assert missing.status_code == 404
    assert int(missing["X-Data-Age"]) in (30, 31)


def test_realtime_answers_carry_no_freshness_headers(client, realtime):
    realtime(rate=200)
    response = client.get("/analysis?duration=1s&dimension=comments")
    assert response.status_code == 200
    assert "X-Data-Age" not in response


def test_no_post_carrying_the_dimension_is_a_404(client):
    store((timezone.now() - timedelta(seconds=5), make_post(likes=5)))
    response = client.get("/analysis?duration=2m&dimension=retweets")
    assert response.status_code == 404
    assert response.json() == {"error": "no post in the last 2m carries retweets"}
    with pytest.raises(NoDataError):
        post_percentiles(Question(("retweets",), timedelta(hours=1)), now=timezone.now())


def test_realtime_answers_exactly_the_posts_read_inside_the_window(realtime):
    sim = realtime(rate=200, seed=11, malformed_every=9)
    question = Question(("likes",), timedelta(seconds=1))
    window = RealtimeWindow(sim.url, question, started=time.monotonic())
    result = window.run()
    sent = [e for e in sim.sent if e.connection == 1 and e.valid]
    counted = sent[window.counted.start : window.counted.stop]
    assert window.counted.start == 0  # the window opened the connection
    assert counted[-1].sent_at <= unix_time(window.deadline)
    posts = [parse_event(e.data) for e in counted]
    values = [p.likes for p in posts if p.likes is not None]
    assert result.as_dict() == {
        "total_posts": len(posts),
        "minimum_timestamp": min(p.created_ts for p in posts),
        "maximum_timestamp": max(p.created_ts for p in posts),
        **{f"likes_{k}": v for k, v in percentiles(values).items()},
    }


def window_of(response) -> tuple[float, float]:
    start, end = response["X-Window-Start"], response["X-Window-End"]
    assert re.fullmatch(r"[0-9]+\.[0-9]{3}", start) and re.fullmatch(r"[0-9]+\.[0-9]{3}", end)
    return float(start), float(end)


def test_realtime_answers_state_their_window(client, realtime):
    realtime(rate=200)
    before = time.time()
    response = client.get("/analysis?duration=1s&dimension=likes")
    after = time.time()
    assert response.status_code == 200
    start, end = window_of(response)
    assert before - 0.001 <= start and end <= after + 0.001
    assert end - start == pytest.approx(1, abs=0.0015)


def test_historical_answers_state_the_window_they_were_computed_for(client):
    store((timezone.now() - timedelta(seconds=30), make_post(likes=1)))
    before = time.time()
    answered = client.get("/analysis?duration=2m&dimension=likes")
    missing = client.get("/analysis?duration=2m&dimension=retweets")
    after = time.time()
    for response in (answered, missing):
        start, end = window_of(response)
        assert before - 0.001 <= end <= after + 0.001
        assert end - start == pytest.approx(120, abs=0.0015)
    assert missing.status_code == 404


def test_answers_without_a_window_state_none(client, settings):
    assert "X-Window-Start" not in client.get("/analysis?duration=4s&dimension=likes")
    settings.REALTIME_MAX_CONCURRENT = 1
    with SLOTS.slot(1):
        busy = client.get("/analysis?duration=5s&dimension=likes")
    assert busy.status_code == 503
    assert "X-Window-Start" not in busy


@pytest.mark.parametrize(
    "query",
    [
        "/analysis?dimension=comments",
        "/v1/analysis?dimension=likes,comments,favorites,retweets&percentiles=0.1,50,95,99.9,100",
        "/v1/analysis?dimension=likes,comments&post_type=tweet,instagram_media,story",
    ],
)
def test_both_modes_give_byte_identical_json_for_the_same_posts(client, realtime, query):
    sim = realtime(rate=100, seed=12)
    live = client.get(f"{query}&duration=1s")
    assert live.status_code == 200
    total = live.json()["total_posts"]
    kept = parse_qs(urlsplit(query).query).get("post_type", [""])[0].split(",")
    posts = []  # what the window read: up to its total-th post of the kept types
    for event in (e for e in sim.sent if e.connection == 1):
        if total == 0:
            break
        posts.append(post := parse_event(event.data))
        total -= kept == [""] or post.post_type in kept
    arrived = timezone.now() - timedelta(seconds=30)
    store(*((arrived, post) for post in posts))
    stored = client.get(f"{query}&duration=2m")
    assert stored.status_code == 200
    assert stored.content == live.content


def test_several_dimensions_and_percentiles_in_one_answer(client):
    now = timezone.now()
    store(
        *(
            (now - timedelta(seconds=s), make_post(likes=s, comments=s % 7, created_ts=s))
            for s in range(1, 101)
        )
    )
    response = client.get(
        "/v1/analysis?duration=2m&dimension=likes,comments,retweets&percentiles=95,99.9,100"
    )
    assert response.status_code == 200
    assert response.json() == {
        "total_posts": 100,
        "minimum_timestamp": 1,
        "maximum_timestamp": 100,
        "likes_p95": 95,
        "likes_p99.9": 100,
        "likes_p100": 100,
        "comments_p95": 6,
        "comments_p99.9": 6,
        "comments_p100": 6,
        "retweets_p95": None,
        "retweets_p99.9": None,
        "retweets_p100": None,
    }
    # Each dimension's figures are the single-dimension answer's.
    for dimension in ("likes", "comments"):
        alone = client.get(f"/analysis?duration=2m&dimension={dimension}&percentiles=95,99.9,100")
        assert alone.json().items() <= response.json().items()
    # The default percentiles, and /analysis takes the new parameters too.
    both = client.get("/analysis?duration=2m&dimension=likes,comments").json()
    assert list(both) == [
        "total_posts",
        "minimum_timestamp",
        "maximum_timestamp",
        *(f"{d}_p{p}" for d in ("likes", "comments") for p in (50, 90, 99)),
    ]


def test_a_post_type_filter_covers_every_figure(client):
    now = timezone.now()
    store(
        (now - timedelta(seconds=90), make_post(post_type="tweet", likes=1, created_ts=10)),
        (now - timedelta(seconds=80), make_post(post_type="pin", likes=50, created_ts=20)),
        (now - timedelta(seconds=70), make_post(post_type="story", likes=7, created_ts=30)),
        (now - timedelta(minutes=30), make_post(post_type="pin", likes=9, created_ts=5)),
    )
    query = "/v1/analysis?duration=1h&dimension=likes&percentiles=50,100"
    assert client.get(f"{query}&post_type=pin,story").json() == {
        "total_posts": 3,
        "minimum_timestamp": 5,
        "maximum_timestamp": 30,
        "likes_p50": 9,
        "likes_p100": 50,
    }
    assert client.get(f"{query}&post_type=tweet").json()["total_posts"] == 1
    assert client.get(f"{query}").json()["total_posts"] == 4
    unknown = client.get(f"{query}&post_type=no_such_type")
    assert unknown.status_code == 404
    assert unknown.json() == {"error": "no post in the last 1h carries likes"}


def test_a_404_only_when_no_listed_dimension_is_carried(client):
    store((timezone.now() - timedelta(seconds=5), make_post(likes=5)))
    missing = client.get("/v1/analysis?duration=2m&dimension=favorites,retweets")
    assert missing.status_code == 404
    assert missing.json() == {"error": "no post in the last 2m carries favorites or retweets"}
    assert client.get("/v1/analysis?duration=2m&dimension=retweets,likes").status_code == 200


def test_an_unreachable_upstream_is_a_502_within_the_window(client, settings):
    settings.STREAM_URL = f"http://127.0.0.1:{free_port()}/stream"
    settings.ANALYSIS_MIN_DURATION = timedelta(seconds=1)
    started = time.monotonic()
    response = client.get("/analysis?duration=1s&dimension=likes")
    assert response.status_code == 502
    assert "upstream" in response.json()["error"]
    start, end = window_of(response)
    assert end - start == pytest.approx(1, abs=0.0015)
    assert time.monotonic() - started < 1.5


def test_realtime_requests_over_the_cap_are_503_with_retry_after(settings, realtime):
    realtime(rate=50)
    settings.REALTIME_MAX_CONCURRENT = 2
    responses = []

    def ask():
        responses.append(APIClient().get("/analysis?duration=1s&dimension=likes"))

    threads = [threading.Thread(target=ask) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = sorted(r.status_code for r in responses)
    assert statuses in ([200, 200, 503], [200, 404, 503], [404, 404, 503])
    busy = next(r for r in responses if r.status_code == 503)
    assert busy["Retry-After"] == "5"
    assert "too many realtime" in json.loads(busy.content)["error"]


def test_a_request_starts_when_its_bytes_arrived_not_when_its_thread_ran():
    with socket.create_server(("127.0.0.1", 0)) as server:
        client_side = socket.create_connection(server.getsockname())
        served, _ = server.accept()
        with client_side, served:
            client_side.sendall(b"GET /analysis HTTP/1.1\r\n\r\n")
            time.sleep(0.3)  # the request waits, as behind a crowd's GIL
            request = RequestFactory().get("/analysis", **{"gunicorn.socket": served})
            assert time.monotonic() - arrival(request) == pytest.approx(0.3, abs=0.03)
    runserver = RequestFactory().get("/analysis")  # no socket: the view's own start
    assert time.monotonic() - arrival(runserver) == pytest.approx(0, abs=0.01)
