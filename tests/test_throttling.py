"""Per-client rate limits: DRF throttling over the database cache all web processes share."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.core.cache import caches

from analysis.throttling import ClientRateThrottle

BAD_QUERY = "/analysis?duration=oops&dimension=likes"  # answered at once, counted all the same


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch, settings) -> Clock:
    """A limit of 3 requests a minute, on a clock that moves only when told."""
    settings.ANALYSIS_RATE_LIMIT = "3/min"
    caches["shared"].clear()
    clock = Clock()
    monkeypatch.setattr(ClientRateThrottle, "timer", clock)
    return clock


@pytest.mark.django_db
def test_a_client_over_the_limit_gets_a_json_429_with_retry_after(client, clock):
    assert [client.get(BAD_QUERY).status_code for _ in range(3)] == [400, 400, 400]
    clock.now += 20
    refused = client.get(BAD_QUERY)
    assert refused.status_code == 429
    assert refused.json() == {
        "error": "too many requests from your address (the limit is 3/min): retry in 40 s"
    }
    assert refused["Retry-After"] == "40"
    clock.now += 40
    assert client.get(BAD_QUERY).status_code == 400  # the oldest request left the window


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("proxies", "second_client", "limited_together"),
    [
        (0, {"REMOTE_ADDR": "192.0.2.9"}, False),
        (0, {"HTTP_X_FORWARDED_FOR": "192.0.2.9"}, True),  # a forged header changes nothing
        (1, {"HTTP_X_FORWARDED_FOR": "192.0.2.9"}, False),  # behind one trusted proxy
    ],
)
def test_each_client_has_its_own_limit(
    client, clock, settings, proxies, second_client, limited_together
):
    settings.TRUSTED_PROXIES = proxies
    for _ in range(3):
        client.get(BAD_QUERY, HTTP_X_FORWARDED_FOR="192.0.2.1")
    other = client.get(BAD_QUERY, **second_client).status_code
    assert other == (429 if limited_together else 400)


@pytest.mark.django_db
def test_probes_are_not_limited(client, clock):
    for _ in range(3):
        client.get(BAD_QUERY)
    assert {client.get(path).status_code for path in ("/healthz", "/metrics") * 3} == {200}


@pytest.mark.django_db(transaction=True)
def test_the_counts_live_in_the_database_where_another_process_reads_them(client, clock, manage):
    for _ in range(3):
        client.get(BAD_QUERY)
    read = manage(
        "shell",
        "-c",
        "from django.core.cache import caches;"
        " print(caches['shared'].get('throttle_analysis_127.0.0.1'))",
    )
    output, _ = read.communicate(timeout=60)
    assert read.returncode == 0, output
    assert output.strip().splitlines()[-1] == str([clock.now] * 3)


@pytest.mark.django_db
def test_off_means_no_limit_and_no_cache_write(client, settings):
    settings.ANALYSIS_RATE_LIMIT = None
    caches["shared"].clear()
    assert {client.get(BAD_QUERY).status_code for _ in range(20)} == {400}
    assert caches["shared"].get("throttle_analysis_127.0.0.1") is None


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_of_one_client_are_all_counted(live_server, settings):
    settings.ANALYSIS_RATE_LIMIT = "20/min"
    caches["shared"].clear()
    with ThreadPoolExecutor(8) as pool:
        statuses = list(
            pool.map(lambda _: requests.get(live_server.url + BAD_QUERY).status_code, range(60))
        )
    assert Counter(statuses) == {400: 20, 429: 40}
