from __future__ import annotations

import random
import time
import tracemalloc
from collections.abc import Iterator

import pytest
import sseclient

from ingestion.scripted_upstream import ScriptedUpstream
from ingestion.stream import Backoff, StreamReader, _SSEClient
from tests.conftest import free_port


class FakeTime:
    """A clock that only moves when the reader sleeps: back-off is observed, not waited."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_it_reconnects_after_a_cut_mid_event_with_growing_jittered_delays(simulator):
    sim = simulator(rate=500, drop_after=0.3, ids=True, record=True, seed=1)
    fake = FakeTime()
    reader = StreamReader(
        sim.url, backoff=Backoff(rng=random.Random(7)), clock=fake.clock, sleep=fake.sleep
    )
    received = []
    for event in reader.events():
        received.append(event.id)
        if reader.reconnects == 3:
            reader.stop()
    complete = [e.event_id for e in sim.sent if e.complete and e.connection <= 3]
    cut = [e for e in sim.sent if not e.complete]
    assert len(cut) == 3
    assert received[: len(complete)] == complete  # nothing lost but the cut events
    first, second, third = reader.delays
    assert 0.5 <= first <= 1 <= second <= 2 <= third <= 4
    assert len({d / (2**i) for i, d in enumerate(reader.delays)}) == 3  # jittered
    assert sum(fake.sleeps) == pytest.approx(sum(reader.delays))


def test_it_sends_last_event_id_when_reconnecting(simulator):
    sim = simulator(rate=500, drop_after=0.2, ids=True, record=True)
    reader = StreamReader(sim.url, backoff=Backoff(base=0.01))
    seen = []
    for event in reader.events():
        seen.append(event.id)
        if reader.reconnects == 1:
            break
    assert reader.last_event_id == seen[-1]
    assert sim.last_event_ids == [seen[-2]]


def test_retry_field_sets_the_base_delay(simulator):
    sim = simulator(rate=200, drop_after=0.2, retry_ms=100)
    fake = FakeTime()
    reader = StreamReader(sim.url, clock=fake.clock, sleep=fake.sleep)
    for _ in reader.events():
        if reader.reconnects == 1:
            reader.stop()
    assert 0.05 <= reader.delays[0] <= 0.1


def test_a_deadline_ends_a_silent_stream_on_time(simulator):
    sim = simulator(rate=0.01, keepalive_interval=60)
    reader = StreamReader(sim.url, read_timeout=30)
    started = time.monotonic()
    events = list(reader.events(deadline=started + 0.5))
    elapsed = time.monotonic() - started
    assert len(events) <= 1
    # Not a speed check: the deadline ended the blocking read, not the 30 s read timeout.
    assert 0.5 <= elapsed < 10
    assert reader.reconnects == 0


def test_an_unreachable_upstream_is_retried_until_the_deadline():
    reader = StreamReader(f"http://127.0.0.1:{free_port()}/stream", backoff=Backoff(base=0.1))
    started = time.monotonic()
    assert list(reader.events(deadline=started + 1.0)) == []
    assert 1.0 <= time.monotonic() - started < 10  # it stopped retrying at the deadline
    assert reader.reconnects >= 2
    assert reader.connections == 0


def test_backoff_is_capped_and_resets():
    backoff = Backoff(rng=random.Random(1))
    delays = [backoff.next_delay() for _ in range(10)]
    assert all(15 <= d <= 30 for d in delays[5:])
    backoff.reset()
    assert 0.5 <= backoff.next_delay() <= 1


def post(number: int) -> bytes:
    return b'data: {"tweet": {"timestamp": %d, "likes": %d}}\n\n' % (1_700_000_000, number)


def parsed(chunks: list[bytes], *, max_bytes: int = 2**20) -> tuple[list[str], int]:
    """The data of the events _SSEClient reads from `chunks`, and how many were too large."""
    too_large = []
    client = _SSEClient(chunks, max_bytes=max_bytes, on_too_large=lambda: too_large.append(1))
    return [event.data for event in client.events()], len(too_large)


def pieces(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


STREAM = b': keepalive\nid: 1\ndata: {"a":\ndata:  1}\n\nretry: 50\ndata: b\n\ndata: \xc3\xa9\n\n'


@pytest.mark.parametrize("ending", [b"\n", b"\r\n", b"\r"])
@pytest.mark.parametrize("size", [1, 2, 3, 5, 64 * 1024])
def test_events_are_the_same_however_the_stream_is_cut_into_chunks(ending, size):
    stream = STREAM.replace(b"\n", ending)
    assert parsed(pieces(stream, size)) == (['{"a":\n 1}', "b", "é"], 0)


# Events of every shape: one data line (the usual), and what sseclient-py's parser reads.
SHAPES = [
    b'data: {"tweet": {"timestamp": 1}}',
    b"data: \xc3\xa9 \xe2\x80\xa8 \xe2\x80\xa9",  # U+2028 and U+2029 stay inside the data
    b"data: ",
    b"data:  two spaces",
    b"data:no space",
    b"data",
    b"data: a\ndata: b",
    b"id: 7\ndata: x",
    b"event: update\ndata: x",
    b"retry: 50\ndata: x",
    b": comment only",
    b": comment\ndata: x",
    b"data: x\r\nid: 8",
    b"dat: x",
]


@pytest.mark.parametrize("shape", SHAPES)
def test_each_event_is_what_sseclient_py_makes_of_it(shape):
    stream = [post(1) + shape + b"\n\n" + post(2)]
    ours = _SSEClient(stream, max_bytes=2**20, on_too_large=lambda: None).events()
    theirs = sseclient.SSEClient(stream).events()
    fields = ("id", "event", "data", "retry")
    assert [[getattr(e, f) for f in fields] for e in ours] == [
        [getattr(e, f) for f in fields] for e in theirs
    ]


OVERSIZED = [
    # (what comes between two posts, with a 1010-byte limit) -> (discarded, kept)
    (b"data: " + b"x" * 5000 + b"\n\n", (1, 0)),
    (b"data: x\n" * 1000 + b"\n", (1, 0)),  # many lines of one event
    (b"data: " + b"x" * 5000 + b"\r\n\r\n" + b"data: " + b"y" * 3000 + b"\r\n\r\n", (2, 0)),
    (b"data: " + b"x" * 1004 + b"\n\n", (0, 1)),  # at the limit
    (b"data: " + b"x" * 1005 + b"\n\n", (1, 0)),  # a byte over it
]


@pytest.mark.parametrize(("between", "outcome"), OVERSIZED)
@pytest.mark.parametrize("size", [7, 700, 64 * 1024])
def test_an_event_over_the_limit_is_discarded_and_counted_and_the_next_one_read(
    between, outcome, size
):
    data, too_large = parsed(pieces(post(1) + between + post(2), size), max_bytes=1010)
    assert (too_large, len(data) - 2) == outcome
    assert [d[-3:] for d in data if "tweet" in d] == ["1}}", "2}}"]


def endless_line(megabytes: int) -> Iterator[bytes]:
    yield b"data: "
    chunk = b"x" * 2**16
    for _ in range(megabytes * 16):
        yield chunk


def test_an_endless_event_keeps_memory_bounded_and_takes_linear_time():
    tracemalloc.start()
    try:
        started = time.monotonic()
        assert parsed(endless_line(200), max_bytes=2**20) == ([], 1)
        elapsed = time.monotonic() - started
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * 2**20  # the limit, a chunk and change; not 200 MB
    assert elapsed < 30  # not a speed check: quadratic joining took hours


def test_the_reader_discards_oversized_events_and_keeps_reading_after_them():
    def script(connection: int) -> Iterator[bytes]:
        yield post(1)
        yield b"data: " + b"x" * 3_000_000 + b"\n\n"
        yield post(2)
        yield from endless_line(3)  # never ends: the server hangs up

    upstream = ScriptedUpstream(script).start()
    try:
        reader = StreamReader(upstream.url, max_event_bytes=2**20, backoff=Backoff(base=0.01))
        seen = []
        for event in reader.events():
            seen.append(event.data)
            if len(seen) == 4:
                reader.stop()
    finally:
        upstream.stop()
    assert [data[-3:] for data in seen] == ["1}}", "2}}", "1}}", "2}}"]
    assert reader.too_large >= 3  # both connections' 3 MB event, the first's endless one
    assert reader.reconnects == 1
