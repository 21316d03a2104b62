from __future__ import annotations

import random
import time

import pytest

from ingestion.stream import Backoff, StreamReader
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
