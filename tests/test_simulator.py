"""The local stream simulator, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable

import pytest
import requests
import sseclient

from ingestion.parser import POST_TYPES, REJECTION_REASONS, RejectedEvent, parse_event
from ingestion.simulator import EventGenerator, StreamSimulator


def read_events(response: requests.Response, count: int) -> list[sseclient.Event]:
    events = sseclient.SSEClient(response.iter_content(chunk_size=None)).events()
    return [next(events) for _ in range(count)]


def read_raw_until(response: requests.Response, done: Callable[[bytes], bool]) -> bytes:
    raw = b""
    for chunk in response.iter_content(chunk_size=None):
        raw += chunk
        if done(raw):
            break
    return raw


def verdict(data: str) -> str | None:
    try:
        parse_event(data)
    except RejectedEvent as rejection:
        return rejection.reason
    return None


def test_stream_is_a_chunked_event_stream(simulator):
    sim = simulator(rate=0)
    with requests.get(sim.url, stream=True, timeout=5) as response:
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        assert response.headers["Cache-Control"] == "no-cache"
        assert response.headers["Transfer-Encoding"] == "chunked"
        assert all(verdict(event.data) is None for event in read_events(response, 50))


def test_unknown_path_is_404(simulator):
    sim = simulator()
    response = requests.get(sim.url.replace("/stream", "/nope"), timeout=5)
    assert response.status_code == 404


def test_it_sends_every_post_type(simulator):
    sim = simulator(rate=0, seed=7)
    with requests.get(sim.url, stream=True, timeout=5) as response:
        events = read_events(response, 600)
    types = {next(iter(json.loads(event.data))) for event in events}
    assert types == set(POST_TYPES)


def test_posts_are_realistic_and_all_valid():
    generator = EventGenerator(seed=3)
    started = time.time()
    payloads = [generator.next_data() for _ in range(5000)]
    assert all(valid for _, valid in payloads)
    posts = [parse_event(data) for data, _ in payloads]
    fields = [next(iter(json.loads(data).values())) for data, _ in payloads]
    now = time.time()
    assert all(started - 601 <= post.created_ts <= now + 1 for post in posts)
    assert all(post.post_id.isdigit() and post.upstream_id for post in posts)
    likes = sorted(post.likes for post in posts if post.likes is not None)
    assert likes[len(likes) // 4] == 0  # many zeros
    assert likes[len(likes) // 2] < 100 < 10**6 <= likes[-1]  # mostly small, a long tail
    assert any(re.search(r"[\u3040-\u9fff]", post.text) for post in posts)  # CJK
    assert any("\n" in text for f in fields for text in f.values() if isinstance(text, str))
    odd = [v for f in fields for v in f.values() if v is None or type(v) in (bool, str, float)]
    assert {None, "12", 3.5, True} <= set(odd)
    assert any(type(v) is float and v.is_integer() for v in odd)
    assert any(type(v) is int and v < 0 for f in fields for v in f.values())


def test_payloads_are_300_to_800_bytes_with_raw_line_separators(simulator):
    sim = simulator(rate=0, seed=4, record=True)
    with requests.get(sim.url, stream=True, timeout=5) as response:
        received = [event.data for event in read_events(response, 2000)]
    assert received == [event.data for event in sim.sent[:2000]]
    sizes = [len(data.encode()) for data in received]
    assert min(sizes) >= 300 and max(sizes) <= 800 and max(sizes) - min(sizes) > 300
    # U+2028 and U+2029 travel raw inside JSON strings, and the posts still parse.
    assert sum("\u2028" in data for data in received) > 100
    assert sum("\u2029" in data for data in received) > 100
    assert all(verdict(data) is None for data in received)


def test_replayed_payloads_keep_recent_timestamps(simulator):
    sim = simulator(rate=0, seed=6, pool=50, record=True)
    with requests.get(sim.url, stream=True, timeout=5) as response:
        received = [parse_event(event.data) for event in read_events(response, 200)]
    assert [post.post_id for post in received[:50]] == [post.post_id for post in received[50:100]]
    assert all(time.time() - 601 <= post.created_ts <= time.time() for post in received)


def test_record_file_says_what_each_connection_carried(simulator, tmp_path):
    with (tmp_path / "sent.jsonl").open("w") as record:
        sim = simulator(rate=400, seed=2, malformed_every=4, record=True, record_file=record)
        for _ in range(2):
            with requests.get(sim.url, stream=True, timeout=5) as response:
                read_events(response, 40)
        sim.stop()
    lines = [json.loads(line) for line in (tmp_path / "sent.jsonl").read_text().splitlines()]
    for connection in (1, 2):
        mine = [line for line in lines if line["connection"] == connection]
        sent = [event for event in sim.sent if event.connection == connection]
        assert sum(line["events"] for line in mine) == len(sent) >= 40
        assert sum(line["posts"] for line in mine) == sum(event.valid for event in sent)
        assert [line["sent_at"] for line in mine] == sorted({event.sent_at for event in sent})


def test_generator_is_deterministic_for_a_seed():
    def payloads(seed: int) -> list[str]:
        # Timestamps follow the clock (here a fixed one); everything else follows the seed.
        generator = EventGenerator(seed=seed, malformed_every=4, clock=lambda: 1_700_000_000.0)
        return [generator.next_data()[0] for _ in range(200)]

    assert payloads(11) == payloads(11)
    assert payloads(11) != payloads(12)


def test_malformed_events_match_parser_verdict(simulator):
    sim = simulator(rate=0, seed=5, malformed_every=3, record=True)
    with requests.get(sim.url, stream=True, timeout=5) as response:
        received = [event.data for event in read_events(response, 90)]
    sent = sim.sent[:90]
    assert received == [event.data for event in sent]
    verdicts = [verdict(event.data) for event in sent]
    assert [event.valid for event in sent] == [reason is None for reason in verdicts]
    assert {reason for reason in verdicts if reason} == set(REJECTION_REASONS)
    assert sum(not event.valid for event in sent) == 30


def test_multiline_events_join_to_the_recorded_data(simulator):
    sim = simulator(rate=0, malformed_every=5, multiline_every=2, record=True)
    with requests.get(sim.url, stream=True, timeout=5) as response:
        received = [event.data for event in read_events(response, 40)]
    sent = sim.sent[:40]
    assert received == [event.data for event in sent]
    assert all("\n" in event.data for event in sent[1::2] if event.valid)
    assert all("\n" not in event.data for event in sent[::2])
    assert all(verdict(event.data) is None for event in sent if event.valid)


def test_it_sends_keepalive_comments(simulator):
    sim = simulator(rate=0.5, keepalive_interval=0.05)
    with requests.get(sim.url, stream=True, timeout=5) as response:
        raw = read_raw_until(response, lambda raw: raw.count(b": keepalive\n\n") >= 3)
    assert raw.count(b"data: ") == 1  # the first event; keepalives fill the silence after it


def test_it_sends_retry_with_the_first_event_of_each_connection(simulator):
    sim = simulator(rate=100, retry_ms=1500)
    for _ in range(2):
        with requests.get(sim.url, stream=True, timeout=5) as response:
            events = read_events(response, 3)
        assert [event.retry for event in events] == ["1500", None, None]


def test_it_cuts_mid_event_after_drop_after(simulator):
    sim = simulator(rate=100, drop_after=0.2, record=True)
    for connection in (1, 2):  # the reconnected client is cut again
        raw = b""
        response = requests.get(sim.url, stream=True, timeout=5)
        with response, pytest.raises(requests.exceptions.ChunkedEncodingError):
            for chunk in response.iter_content(chunk_size=None):
                raw += chunk
        sent = [event for event in sim.sent if event.connection == connection]
        *whole, last = sent
        assert len(whole) >= 10 and all(event.complete for event in whole)
        assert last.complete is False
        frame = f"data: {last.data}\n\n".encode()
        assert raw.endswith(frame[: len(frame) // 2])
        assert not raw.endswith(b"\n\n")


def test_it_serves_several_clients_at_once(simulator):
    sim = simulator(rate=200, seed=1, record=True)
    responses = [requests.get(sim.url, stream=True, timeout=5) for _ in range(3)]
    try:
        streams = [[event.data for event in read_events(r, 5)] for r in responses]
    finally:
        for response in responses:
            response.close()
    assert sim.connections == 3
    assert {event.connection for event in sim.sent} == {1, 2, 3}
    assert len({stream[0] for stream in streams}) == 3  # each connection has its own posts


def test_ids_are_unique_across_connections(simulator):
    sim = simulator(rate=500, ids=True)
    first = requests.get(sim.url, stream=True, timeout=5)
    second = requests.get(sim.url, stream=True, timeout=5, headers={"Last-Event-ID": "7"})
    with first, second:
        ids = [event.id for response in (first, second) for event in read_events(response, 20)]
    assert all(event_id.isdigit() for event_id in ids)
    assert len(set(ids)) == 40


def test_it_paces_events_at_the_rate(simulator):
    sim = simulator(rate=40, record=True)
    with requests.get(sim.url, stream=True, timeout=5) as response:
        read_events(response, 11)
    first, tenth = sim.sent[0], sim.sent[10]
    assert 0.2 <= tenth.sent_at - first.sent_at <= 0.4  # 10 intervals of 25 ms


def test_stop_is_prompt_with_clients_connected():
    sim = StreamSimulator(rate=0)
    sim.start()
    reading = requests.get(sim.url, stream=True, timeout=5)
    idle = requests.get(sim.url, stream=True, timeout=5)  # never read: the server blocks
    with reading, idle:
        read_events(reading, 10)
        started = time.monotonic()
        sim.stop()
        assert time.monotonic() - started < 1
