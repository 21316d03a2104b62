"""The web takes its database connections from a bounded pool, whatever the crowd."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
import requests
from django.db import connection
from django.utils import timezone

from tests.conftest import ROOT, TEST_SECRET_KEY, free_port, make_post, store

POOL_SIZE = 2
QUIET = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}


def peak_connections(name: str, stop: threading.Event, peaks: list) -> None:
    """Append the most connections named `name` seen at once, sampling until `stop`."""
    with psycopg.connect(**connection.get_connection_params(), autocommit=True) as db:
        peak = 0
        while not stop.wait(0.02):
            query = "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s"
            peak = max(peak, db.execute(query, [f"stream-analyzer {name}"]).fetchone()[0])
    peaks.append(peak)


def start_web(server: str, port: int, database_url: str, name: str) -> subprocess.Popen:
    if server == "runserver":
        command = [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"]
    else:
        gunicorn = str(Path(sys.executable).parent / "gunicorn")
        command = [gunicorn, "analyzer_project.wsgi", "--config", "gunicorn.conf.py"]
    # One client sends the whole crowd: no rate limit here.
    env = {"DATABASE_URL": database_url, "DATABASE_POOL_MAX_SIZE": str(POOL_SIZE),
           "PROCESS_NAME": name, "PORT": str(port), "DJANGO_SECRET_KEY": TEST_SECRET_KEY,
           "ANALYSIS_RATE_LIMIT": "off"}  # fmt: skip
    web = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env}, **QUIET)
    deadline = time.monotonic() + 20
    while True:
        try:
            requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return web
        except (requests.ConnectionError, requests.Timeout):  # not listening, or still loading
            assert web.poll() is None and time.monotonic() < deadline, "the web did not start"
            time.sleep(0.1)


@pytest.mark.parametrize("server", ["runserver", "gunicorn"])
def test_a_crowd_of_distinct_requests_waits_for_the_pool_instead_of_failing(server, database_url):
    now = timezone.now()
    store(*((now - timedelta(seconds=s), make_post(likes=s)) for s in range(1, 600)))
    port, name = free_port(), f"crowd-{server}"
    # Distinct durations: no two requests share a computation, each needs a connection.
    urls = [
        f"http://127.0.0.1:{port}/analysis?duration={minutes}m&dimension=likes"
        for minutes in range(2, 122)
    ]
    web = start_web(server, port, database_url, name)
    stop, peaks = threading.Event(), []
    sampler = threading.Thread(target=peak_connections, args=(name, stop, peaks))
    sampler.start()
    try:
        with ThreadPoolExecutor(40) as crowd:
            statuses = list(crowd.map(lambda url: requests.get(url, timeout=60).status_code, urls))
    finally:
        stop.set()
        sampler.join()
        web.terminate()
        web.wait(30)
    assert statuses == [200] * len(urls)
    assert 1 <= peaks[0] <= POOL_SIZE
