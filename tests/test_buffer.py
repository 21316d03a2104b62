from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

from ingestion.buffer import PostBuffer
from tests.conftest import make_post

T = datetime(2031, 5, 4, 10, 30, tzinfo=UTC)


def pairs(count: int, *, first: int = 0) -> list[tuple]:
    return [(T + timedelta(seconds=i), make_post(post_id=str(i))) for i in range(first, count)]


def fill(buffer: PostBuffer, count: int, *, first: int = 0) -> list[bool]:
    return [buffer.put(arrived_at, post) for arrived_at, post in pairs(count, first=first)]


def test_a_full_buffer_drops_and_counts():
    buffer = PostBuffer(limit=2, batch_size=10)
    kept = fill(buffer, 3)
    assert kept == [True, True, False]
    assert buffer.dropped == 1


def test_a_closed_buffer_refuses_without_counting_a_drop_until_it_opens_again():
    buffer = PostBuffer(limit=10, batch_size=10)
    buffer.close()
    assert fill(buffer, 2) == [False, False]
    buffer.open()
    assert fill(buffer, 1) == [True]
    assert (len(buffer), buffer.dropped) == (1, 0)


def test_take_empties_it_and_a_batch_given_back_goes_before_later_posts():
    buffer = PostBuffer(limit=10, batch_size=10)
    fill(buffer, 3)
    batch = buffer.take()
    assert (batch, len(buffer)) == (pairs(3), 0)
    fill(buffer, 5, first=3)
    buffer.give_back(batch)
    assert buffer.take() == pairs(5)


def test_a_full_batch_tells_the_writer():
    buffer = PostBuffer(limit=10, batch_size=3)
    fill(buffer, 2)
    assert not buffer.batch_ready.is_set()
    fill(buffer, 3, first=2)
    assert buffer.batch_ready.is_set()


def test_the_reader_is_held_back_at_two_batches_until_the_writer_takes():
    buffer = PostBuffer(limit=100, batch_size=2)
    fill(buffer, 3)
    started = time.monotonic()
    buffer.hold_back(timeout=5)  # under two batches: no wait
    assert time.monotonic() - started < 0.5

    fill(buffer, 4, first=3)
    taker = threading.Timer(0.3, buffer.take)
    taker.start()
    started = time.monotonic()
    buffer.hold_back(timeout=5)
    waited = time.monotonic() - started
    taker.join()
    assert 0.2 <= waited < 4
    assert len(buffer) == 0
