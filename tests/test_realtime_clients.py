"""The per-client cap on realtime windows open at once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import requests

from analysis.realtime_clients import ClientBusyError, ClientWindows


def test_a_client_gets_up_to_its_cap_and_others_are_unaffected():
    windows = ClientWindows()
    with windows.hold("a", limit=2), windows.hold("a", limit=2):
        with pytest.raises(ClientBusyError), windows.hold("a", limit=2):
            pass
        with windows.hold("b", limit=2):
            assert (windows.open_windows("a"), windows.open_windows("b")) == (2, 1)
    with windows.hold("a", limit=2):  # released on the way out, also when the block raised
        assert windows.open_windows("a") == 1
    assert windows._open == {}  # clients that left are forgotten


def test_a_window_that_fails_gives_its_place_back():
    windows = ClientWindows()
    with pytest.raises(RuntimeError), windows.hold("a", limit=1):
        raise RuntimeError
    assert windows.open_windows("a") == 0


def test_one_client_over_its_cap_gets_429_while_another_is_served(live_server, settings, simulator):
    sim = simulator(rate=50)
    settings.STREAM_URL = sim.url
    settings.ANALYSIS_MIN_DURATION = timedelta(seconds=1)
    settings.REALTIME_MAX_PER_CLIENT = 2
    settings.TRUSTED_PROXIES = 1
    url = f"{live_server.url}/analysis?duration=2s&dimension=likes"

    def ask(client: str) -> requests.Response:
        return requests.get(url, headers={"X-Forwarded-For": client}, timeout=30)

    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(ask, ["192.0.2.1"] * 3 + ["192.0.2.2"]))
    first = sorted(response.status_code for response in answers[:3])
    assert first == [200, 200, 429]
    assert answers[3].status_code == 200
    refused = next(response for response in answers if response.status_code == 429)
    assert refused.headers["Retry-After"] == "5"
    assert refused.json() == {
        "error": "2 realtime analyses are already open from your address (the cap per client):"
        " wait for one to end, or use a window over 1m0s"
    }
