from __future__ import annotations

import json
import signal
import time
from datetime import timedelta

import pytest
import requests
from django.db import connection
from django.utils import timezone

from ingestion.collector import StreamCollector
from ingestion.models import CollectorHeartbeat
from tests.conftest import free_port, sample

pytestmark = pytest.mark.django_db


def test_healthz_answers(client):
    response = client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def beat(seconds_ago: float) -> None:
    CollectorHeartbeat.objects.create(
        collector="host:1", beat_at=timezone.now() - timedelta(seconds=seconds_ago)
    )


def test_readyz_is_200_with_a_fresh_heartbeat(client):
    beat(seconds_ago=2)
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "ready": True,
        "checks": {"database": "ok", "migrations": "ok", "collector": "ok", "partition": "ok"},
    }


@pytest.mark.parametrize(
    ("seconds_ago", "message"),
    [(None, "failed: no collector heartbeat yet"), (45, "failed: last heartbeat 45 s ago")],
)
def test_readyz_is_503_naming_a_missing_or_stale_heartbeat(client, seconds_ago, message):
    if seconds_ago is not None:
        beat(seconds_ago)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["ready"] is False
    assert response.json()["checks"]["collector"].startswith(message)


@pytest.mark.django_db(transaction=True)
def test_readyz_is_503_when_the_database_is_gone(client):
    settings_dict = connection.settings_dict
    saved = settings_dict["NAME"]
    connection.close()
    settings_dict["NAME"] = "no_such_database"
    try:
        response = client.get("/readyz")
    finally:
        connection.close()
        settings_dict["NAME"] = saved
    assert response.status_code == 503
    assert response.json()["checks"]["database"].startswith("failed: ")
    assert "no_such_database" in response.json()["checks"]["database"]


@pytest.mark.django_db(transaction=True)
def test_metrics_move_after_an_ingest_and_a_request(client):
    before = {
        "ingested": sample("collector_posts_ingested_total"),
        "rejected": sample("collector_events_rejected_total", reason="invalid_json"),
        "batches": sample("collector_batch_size_count"),
        "flushes": sample("collector_flush_seconds_count"),
        "requests": sample("analysis_requests_total", mode="none", status="400"),
        "latency": sample("analysis_request_seconds_count", mode="none"),
    }
    collector = StreamCollector(lambda: None, buffer_limit=10)
    collector.handle_event('{"tweet": {"timestamp": 1, "likes": 3}}')
    collector.handle_event("{broken")
    assert collector.flush()
    assert client.get("/analysis?duration=oops&dimension=likes").status_code == 400
    assert sample("collector_posts_ingested_total") == before["ingested"] + 1
    assert sample("collector_events_rejected_total", reason="invalid_json") == (
        before["rejected"] + 1
    )
    assert sample("collector_batch_size_count") == before["batches"] + 1
    assert sample("collector_flush_seconds_count") == before["flushes"] + 1
    assert sample("collector_ingest_lag_seconds") >= 0
    assert sample("collector_buffer_fill_ratio") == 0
    assert sample("analysis_requests_total", mode="none", status="400") == before["requests"] + 1
    assert sample("analysis_request_seconds_count", mode="none") == before["latency"] + 1
    exposed = client.get("/metrics").content.decode()
    for name in (
        "collector_posts_ingested_total",
        "collector_events_rejected_total",
        "collector_posts_dropped_total",
        "collector_stream_reconnects_total",
        "collector_batch_size_bucket",
        "collector_flush_seconds_bucket",
        "collector_ingest_lag_seconds",
        "collector_buffered_posts",
        "collector_buffer_fill_ratio",
        "analysis_requests_total",
        "analysis_request_seconds_bucket",
        "analysis_realtime_sessions_in_use",
    ):
        assert name in exposed


@pytest.mark.django_db(transaction=True)
def test_the_collector_logs_json_lines_and_serves_metrics(simulator, manage):
    sim = simulator(rate=200, malformed_every=10)
    port = free_port()
    process = manage(
        "collect_stream",
        "--url",
        sim.url,
        "--metrics-port",
        str(port),
        "--metrics-host",
        "127.0.0.1",
        "--progress-interval",
        "0.5",
        LOG_FORMAT="json",
    )
    lines = []
    for line in process.stdout:
        lines.append(line)
        if '"ingested ' in line:
            break
    deadline = time.monotonic() + 10
    while True:
        metrics = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        if "collector_posts_ingested_total " in metrics and "reason=" in metrics:
            break
        assert time.monotonic() < deadline
        time.sleep(0.1)
    process.send_signal(signal.SIGTERM)
    rest, _ = process.communicate(timeout=15)
    lines += rest.splitlines()
    assert process.returncode == 0, rest
    entries = [json.loads(line) for line in lines if line.startswith("{")]
    assert len(entries) >= 3
    assert all(
        {"time", "level", "process", "logger", "message"} <= entry.keys() for entry in entries
    )
    assert {entry["process"] for entry in entries} == {"collect_stream"}
    assert [line for line in lines if not line.startswith("{")] == [rest.splitlines()[-1]]
    assert 'collector_events_rejected_total{reason="invalid_json"}' in metrics
