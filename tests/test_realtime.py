"""Realtime windows on a shared upstream connection, against a real simulator."""

from __future__ import annotations

import itertools
import threading
import time
from datetime import timedelta

import pytest

from analysis.percentiles import percentiles
from analysis.realtime import (
    NOT_CARRIED,
    RealtimeWindow,
    SharedStream,
    UpstreamUnavailableError,
    unix_time,
)
from analysis.results import Question
from ingestion.parser import DIMENSIONS, parse_event
from ingestion.scripted_upstream import ScriptedUpstream
from tests.conftest import free_port


def window(url: str, dimension: str, seconds: float) -> RealtimeWindow:
    """A window starting now, as a request's would."""
    question = Question((dimension,), timedelta(seconds=seconds))
    return RealtimeWindow(url, question, started=time.monotonic())


def run_later(url: str, windows: list[tuple[float, tuple[str, float]]]) -> list:
    """Open each (delay, (dimension, seconds)) window after its delay, each in its thread;
    return the (window, answer) pairs in order once all have answered."""
    answers: list = [None] * len(windows)

    def run(index: int, delay: float, dimension: str, seconds: float) -> None:
        time.sleep(delay)
        opened = window(url, dimension, seconds)
        answers[index] = (opened, opened.run())

    threads = [
        threading.Thread(target=run, args=(index, delay, *spec))
        for index, (delay, spec) in enumerate(windows)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def sent_posts(sim) -> list:
    """The complete valid events the simulator sent, connection after connection: the log's
    positions, since a client reads the connections one after the other."""
    return sorted((e for e in sim.sent if e.valid and e.complete), key=lambda e: e.connection)


def expected(events, dimension: str) -> dict[str, int]:
    """The answer for these sent events, computed from the simulator's side."""
    posts = [parse_event(event.data) for event in events]
    values = [getattr(post, dimension) for post in posts]
    return {
        "total_posts": len(posts),
        "minimum_timestamp": min(post.created_ts for post in posts),
        "maximum_timestamp": max(post.created_ts for post in posts),
        **{
            f"{dimension}_{name}": value
            for name, value in percentiles([v for v in values if v is not None]).items()
        },
    }


def reader_threads(url: str) -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == f"realtime {url}"]


def test_a_window_that_starts_while_another_is_open_shares_its_connection(simulator):
    sim = simulator(rate=1000, seed=21, malformed_every=9, record=True)
    (first, first_answer), (second, second_answer) = run_later(
        sim.url, [(0, ("likes", 2)), (0.5, ("comments", 1))]
    )
    assert sim.connections == 1
    sent = sent_posts(sim)
    # The first window opened the connection: it counts from its first post; the second
    # joined half-way and counts a part of the same posts, the ones read in its interval.
    assert first.counted.start == 0 < second.counted.start < second.counted.stop
    assert second.counted.stop <= first.counted.stop
    for opened, answer in ((first, first_answer), (second, second_answer)):
        counted = sent[opened.counted.start : opened.counted.stop]
        assert answer.as_dict() == expected(counted, *opened.question.dimensions)
        assert counted[-1].sent_at <= unix_time(opened.deadline)  # sent before it was read


def test_the_last_window_to_leave_closes_the_connection(simulator, caplog):
    sim = simulator(rate=200, seed=22, record=True)
    caplog.set_level("INFO", logger="ingestion.simulator")
    window(sim.url, "likes", 1).run()
    for thread in reader_threads(sim.url):
        thread.join(timeout=5)
    assert not reader_threads(sim.url)
    for _ in range(50):  # the simulator notices at its next write
        if "connection 1 closed" in caplog.text:
            break
        time.sleep(0.1)
    assert "connection 1 closed" in caplog.text and "client gone" in caplog.text
    later = window(sim.url, "likes", 1)
    answer = later.run()
    assert sim.connections == 2
    assert later.counted.start == 0  # a new log for the new connection
    on_second = [event for event in sent_posts(sim) if event.connection == 2]
    assert answer.as_dict() == expected(on_second[: later.counted.stop], "likes")


def test_an_upstream_cut_while_several_windows_are_open_reconnects_them_all(simulator):
    sim = simulator(rate=200, seed=23, drop_after=0.5, retry_ms=50, record=True)
    answers = run_later(sim.url, [(0, ("likes", 2)), (0.2, ("comments", 2)), (0.4, ("likes", 1.5))])
    assert sim.connections >= 2
    sent = sent_posts(sim)
    for opened, answer in answers:
        counted = sent[opened.counted.start : opened.counted.stop]
        assert {event.connection for event in counted} >= {1, 2}
        assert answer.as_dict() == expected(counted, *opened.question.dimensions)


def test_an_unreachable_upstream_fails_the_window(simulator):
    url = f"http://127.0.0.1:{free_port()}/stream"
    with pytest.raises(UpstreamUnavailableError):
        window(url, "likes", 1).run()


class ManualClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def wait_for_records(stream: SharedStream, read_at: float, count: int) -> None:
    for _ in range(100):
        if stream.read_at.tolist().count(read_at) >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"fewer than {count} posts read at {read_at}")


def test_the_log_keeps_only_what_open_windows_can_count(simulator):
    sim = simulator(rate=1000, seed=24)
    clock = ManualClock(100.0)
    stream = SharedStream.join(sim.url, 100.0, clock=clock)
    wait_for_records(stream, 100.0, 2 * stream.BLOCK)
    clock.now = 110.0
    assert SharedStream.join(sim.url, 110.0, clock=clock) is stream
    wait_for_records(stream, 110.0, 1)
    early = stream.read_at.tolist().count(100.0)
    clock.now = 120.0
    stream.leave(100.0)
    # The whole blocks read before the open window's start are gone, nothing after it.
    assert stream.dropped == early // stream.BLOCK * stream.BLOCK > 0
    assert stream.read_at.tolist().count(100.0) == early % stream.BLOCK
    assert len(stream.created) == len(stream.values["likes"]) == len(stream.read_at)
    assert len(stream.blocks) == len(stream.read_at) // stream.BLOCK
    positions, parts = stream.summaries(110.0, 120.0, ("likes",), ())
    assert positions.start == early
    assert sum(part.posts for part in parts) == len(positions)
    stream.leave(110.0)
    reopened = SharedStream.join(sim.url, 130.0, clock=clock)
    assert reopened is not stream
    reopened.leave(130.0)


def test_windows_ending_together_share_the_merge_of_their_whole_blocks(simulator):
    sim = simulator(rate=2000, seed=25)
    clock = ManualClock(99.0)
    stream = SharedStream.join(sim.url, 99.0, clock=clock)
    for now, count in ((99.0, 10), (100.0, 3 * stream.BLOCK), (101.0, stream.BLOCK)):
        clock.now = now
        wait_for_records(stream, now, count)
    clock.now = 102.0  # what follows is read after every window below
    try:
        windows = [(100.0, 101.0), (100.0, 101.0), (99.0, 101.0), (99.0, 100.0)]
        answers = [stream.summaries(start, end, DIMENSIONS, ()) for start, end in windows]
    finally:
        stream.leave(99.0)
    for positions, parts in answers:
        log = slice(positions.start - stream.dropped, positions.stop - stream.dropped)
        assert sum(part.posts for part in parts) == len(positions)
        for name in DIMENSIONS:
            counted = sorted(itertools.chain.from_iterable(p.carried[name] for p in parts))
            assert counted == sorted(v for v in stream.values[name][log] if v != NOT_CARRIED)
    # The second window found the first's merges of its whole blocks (its partial blocks
    # are its own); the others made their own, and only the latest MERGES_KEPT are kept.
    first, second = (
        {id(p.carried[n]) for p in parts for n in DIMENSIONS} for _, parts in answers[:2]
    )
    assert len(first & second) == len(DIMENSIONS)
    kept = {id(merged) for merged in stream.merges.values()}
    assert len(kept) == stream.MERGES_KEPT < 3 * len(DIMENSIONS)
    latest = answers[3][1]
    assert all(any(id(p.carried[name]) in kept for p in latest) for name in DIMENSIONS)


def test_a_window_skips_an_oversized_event_and_counts_the_posts_around_it(settings):
    settings.STREAM_MAX_EVENT_BYTES = 2**20

    def script(connection: int):
        yield b'data: {"tweet": {"timestamp": 1700000001, "likes": 5}}\n\n'
        yield b"data: " + b"x" * 5_000_000 + b"\n\n"
        yield b'data: {"tweet": {"timestamp": 1700000002, "likes": 7}}\n\n'
        while not upstream.stopping.wait(0.1):
            yield b": keepalive\n\n"

    upstream = ScriptedUpstream(script).start()
    try:
        opened = window(upstream.url, "likes", 1.5)
        answer = opened.run()
    finally:
        upstream.stop()
    assert answer.as_dict() == {
        "total_posts": 2,
        "minimum_timestamp": 1700000001,
        "maximum_timestamp": 1700000002,
        "likes_p50": 5,
        "likes_p90": 7,
        "likes_p99": 7,
    }
