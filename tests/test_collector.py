from __future__ import annotations

import json
import signal
import threading
import time
from collections import Counter
from datetime import UTC, datetime

import psycopg
import pytest
from django.db import connection

from ingestion.collector import StreamCollector
from ingestion.leader import LeaderLock
from ingestion.parser import REJECTION_REASONS, RejectedEvent, parse_event
from ingestion.scripted_upstream import ScriptedUpstream
from ingestion.stream import StreamReader
from tests.conftest import sample

pytestmark = pytest.mark.django_db(transaction=True)


def stored_rows() -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT upstream_id, post_id, created_ts FROM ingestion_post ORDER BY id")
        return cursor.fetchall()


def identity(data: str) -> tuple:
    fields = next(iter(json.loads(data).values()))
    return (fields.get("id"), str(fields.get("post_id", "")), int(fields["timestamp"]))


def rejection_reason(data: str) -> str:
    with pytest.raises(RejectedEvent) as raised:
        parse_event(data)
    return raised.value.reason


def wait_until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def start(collector: StreamCollector) -> threading.Thread:
    thread = threading.Thread(target=collector.run)
    thread.start()
    return thread


def test_every_valid_event_lands_exactly_once_and_invalid_ones_are_counted(simulator):
    sim = simulator(rate=0, malformed_every=7, multiline_every=5, record=True, seed=3)
    reader = StreamReader(sim.url)
    collector = StreamCollector(lambda: reader)
    for handled, event in enumerate(reader.events(), start=1):
        collector.handle_event(event.data)
        if handled == 3000:
            reader.stop()
    assert collector.flush()
    sent = sim.sent[:3000]
    assert stored_rows() == [identity(e.data) for e in sent if e.valid]
    assert collector.rejected == Counter(rejection_reason(e.data) for e in sent if not e.valid)
    assert set(collector.rejected) == set(REJECTION_REASONS)


def test_sigterm_flushes_the_buffer_and_exits_0(simulator, manage):
    sim = simulator(rate=500, record=True)
    process = manage("collect_stream", "--url", sim.url, "--flush-interval", "60")
    for line in process.stdout:
        if "leader lock acquired" in line:
            break
    wait_until(lambda: sim.connections == 1 and len(sim.sent) >= 300)
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=15)
    rows = len(stored_rows())
    assert process.returncode == 0, output
    assert rows >= 250
    assert f"ingested {rows} posts" in output


def test_no_post_is_lost_while_the_database_is_away(simulator):
    sim = simulator(rate=300, record=True, seed=5)
    collector = StreamCollector(lambda: StreamReader(sim.url), flush_interval=0.1)
    thread = start(collector)
    name = connection.settings_dict["NAME"]
    # From another database: cut every session of the test database, let none come back.
    admin = psycopg.connect(**{**connection.get_connection_params(), "dbname": "postgres"})
    admin.autocommit = True
    try:
        wait_until(lambda: collector.ingested >= 100)
        connection.close()
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", [name]
        )
        wait_until(lambda: collector._flush_failures >= 2)
        time.sleep(2)
        buffered = len(collector.buffer)
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        wait_until(lambda: collector.ingested > 100 + buffered and not collector._flush_failures)
    finally:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        admin.close()
        collector.request_shutdown()
        thread.join(10)
    rows = stored_rows()
    assert buffered >= 300
    assert collector.buffer.dropped == 0
    assert rows == [identity(e.data) for e in sim.sent if e.valid][: len(rows)]
    assert len(rows) == collector.ingested


def test_two_collectors_elect_one_leader_and_the_standby_takes_over(simulator):
    sim = simulator(rate=200)
    first, second = (
        StreamCollector(lambda: StreamReader(sim.url), lock=LeaderLock(), standby_poll=0.1)
        for _ in range(2)
    )
    threads = [start(first), start(second)]
    try:
        wait_until(lambda: first.leading or second.leading)
        leader, standby = (first, second) if first.leading else (second, first)
        wait_until(lambda: leader.ingested > 50)
        assert not standby.leading and standby.ingested == 0
        leader.request_shutdown()
        threads[[first, second].index(leader)].join(10)
        leader.lock.release()
        stopped_at = time.monotonic()
        wait_until(lambda: standby.ingested > 0, timeout=5)
        assert time.monotonic() - stopped_at < 3
        assert len(stored_rows()) == leader.ingested + standby.ingested
    finally:
        first.request_shutdown()
        second.request_shutdown()
        for thread in threads:
            thread.join(10)


def test_rows_land_in_the_partition_of_their_arrival_hour():
    moments = iter(
        [
            datetime(2031, 5, 4, 10, 59, 59, 900_000, tzinfo=UTC),
            datetime(2031, 5, 4, 11, 0, 0, 100_000, tzinfo=UTC),
            datetime(2031, 5, 4, 11, 0, 1, tzinfo=UTC),
        ]
    )
    collector = StreamCollector(lambda: None, now=lambda: next(moments))
    collector.handle_event('{"tweet": {"timestamp": 1, "post_id": "before"}}')
    collector.handle_event('{"tweet": {"timestamp": 2, "post_id": "after"}}')
    assert collector.flush()
    with connection.cursor() as cursor:
        cursor.execute("SELECT post_id, tableoid::regclass::text FROM ingestion_post")
        assert sorted(cursor.fetchall()) == [
            ("after", "ingestion_post_p20310504_11"),
            ("before", "ingestion_post_p20310504_10"),
        ]


def test_a_lagging_writer_slows_the_reader_instead_of_filling_memory(simulator):
    sim = simulator(rate=0)
    reader = StreamReader(sim.url)
    collector = StreamCollector(lambda: reader, batch_size=50)
    thread = threading.Thread(target=collector.read_forever, args=(reader,))
    thread.start()
    time.sleep(0.5)  # nobody flushes: the reader must hold back at two batches
    backlog = len(collector.buffer)
    reader.stop()
    collector.flush()
    thread.join(5)
    assert 100 <= backlog <= 101
    assert collector.buffer.dropped == 0


def test_a_shutdown_request_takes_no_lock():
    """Signal handlers call it while the interrupted main thread may hold any lock."""
    collector = StreamCollector(lambda: None)
    with collector.buffer._lock, collector.buffer.batch_ready._cond:
        thread = threading.Thread(target=collector.request_shutdown)
        thread.start()
        thread.join(1)
        assert not thread.is_alive()
    assert collector.shutdown


def test_a_stored_row_holds_every_field_of_its_post():
    """The binary COPY sends values as they are: tabs, backslashes, line separators, unicode."""
    arrived_at = datetime(2031, 5, 4, 10, 30, 0, 123_456, tzinfo=UTC)
    collector = StreamCollector(lambda: None, now=lambda: arrived_at)
    data = json.dumps(
        {
            "tweet": {
                "id": 7,
                "timestamp": 1_700_000_000,
                "post_id": "p\t1",
                "content": "a\tb\\c\nd\u2028e 東京 🌞",
                "link": "https://example.com/x",
                "favorites": 643,
                "retweets": 0,
                "views": 2**63 - 1,
                "saves": 5.0,
            }
        },
        ensure_ascii=False,
    )
    assert collector.handle_event(data)
    assert collector.flush()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT arrived_at, post_type, upstream_id, post_id, created_ts, likes, comments,"
            " favorites, retweets, metrics, text, link FROM ingestion_post"
        )
        ((*row, metrics_text, text, link),) = cursor.fetchall()
        assert (*row, json.loads(metrics_text), text, link) == (
            arrived_at,
            "tweet",
            7,
            "p\t1",
            1_700_000_000,
            None,
            None,
            643,
            0,
            {"views": 2**63 - 1, "saves": 5},
            "a\tb\\c\nd\u2028e 東京 🌞",
            "https://example.com/x",
        )


def test_oversized_events_are_counted_as_rejected_and_the_posts_after_them_stored():
    def script(connection: int):
        yield b'data: {"tweet": {"id": 1, "timestamp": 1700000000}}\n\n'
        yield b"data: " + b"x" * 300_000 + b"\n\n"  # under the limit: an invalid_json event
        yield b"data: " + b"x" * 2_000_000 + b"\n\n"
        yield b"data: x\n" * 200_000 + b"\n"  # 1.6 MB of short lines
        yield b'data: {"tweet": {"id": 2, "timestamp": 1700000000}}\n\n'

    before = sample("collector_events_rejected_total", reason="too_large")
    upstream = ScriptedUpstream(script).start()
    collector = StreamCollector(lambda: StreamReader(upstream.url, max_event_bytes=2**20))
    thread = start(collector)
    try:
        wait_until(lambda: collector.ingested >= 2)
        wait_until(lambda: collector.rejected["too_large"] >= 2)
    finally:
        collector.request_shutdown()
        thread.join(10)
        upstream.stop()
    assert [row[0] for row in stored_rows()[:2]] == [1, 2]
    assert collector.rejected["invalid_json"] >= 1
    counted = sample("collector_events_rejected_total", reason="too_large") - before
    assert counted == collector.rejected["too_large"]
