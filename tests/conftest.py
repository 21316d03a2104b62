from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
import yaml
from django.db import connection
from prometheus_client import REGISTRY

from ingestion.parser import ParsedPost
from ingestion.partitions import ensure_partitions
from ingestion.services import posts_ingest
from ingestion.simulator import StreamSimulator

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on (yet)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def sample(name: str, **labels: str) -> float:
    """The current value of a Prometheus sample of this process (0 if never set)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


def make_post(**fields) -> ParsedPost:
    """Build a valid ParsedPost; override any field by keyword."""
    defaults = {"post_type": "tweet", "created_ts": 1_700_000_000, "post_id": "1"}
    return ParsedPost(**{**defaults, **fields})


def store(*posts_at: tuple) -> None:
    """Store (arrived_at, ParsedPost) pairs, creating the partitions their arrival hours need."""
    first = min(arrived_at for arrived_at, _ in posts_at)
    last = max(arrived_at for arrived_at, _ in posts_at)
    ensure_partitions(now=first, ahead=last - first)
    posts_ingest(posts=list(posts_at))


@pytest.fixture(autouse=True)
def _no_rate_limit(settings) -> None:
    """Every test is the same client (127.0.0.1): the rate limit is off unless a test sets one."""
    settings.ANALYSIS_RATE_LIMIT = None


@pytest.fixture
def simulator() -> Iterator:
    """Start StreamSimulators on free ports of 127.0.0.1; stop them all afterwards."""
    started = []

    def start(**options) -> StreamSimulator:
        sim = StreamSimulator(host="127.0.0.1", port=0, **options)
        sim.start()
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.stop()


def subprocess_database_url() -> str:
    """A DATABASE_URL for subprocesses, pointing at the test database."""
    params = connection.settings_dict
    host = quote(params["HOST"] or "localhost", safe="")
    port = f":{params['PORT']}" if params["PORT"] else ""
    password = f":{quote(params['PASSWORD'])}" if params.get("PASSWORD") else ""
    return f"postgresql://{params['USER']}{password}@{host}{port}/{params['NAME']}"


@pytest.fixture
def database_url(transactional_db) -> str:
    """subprocess_database_url() for a transactional test (emptied afterwards)."""
    return subprocess_database_url()


@pytest.fixture
def manage(database_url) -> Iterator:
    """Start `manage.py <args>` against the test database; kill what is left afterwards."""
    processes = []

    def start(*args: str, **env: str) -> subprocess.Popen:
        process = subprocess.Popen(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env={**os.environ, "DATABASE_URL": database_url, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        processes.append(process)
        return process

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait()


# A production-like secret for the web processes the tests start (gunicorn refuses the
# development key).
TEST_SECRET_KEY = "test-secret-key-for-gunicorn-started-by-the-tests-0123456789"


@dataclass
class Web:
    url: str
    process: subprocess.Popen


@pytest.fixture
def gunicorn(database_url) -> Iterator:
    """Start the web as docker-compose.yml runs it, on a free port; stop it afterwards."""
    started: list[tuple[subprocess.Popen, object]] = []
    command = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["web"]

    def start(*, output=subprocess.DEVNULL, **env: str) -> Web:
        port = free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", *shlex.split(command["command"])[1:]],
            cwd=ROOT,
            env={
                "DATABASE_URL": database_url,
                "DJANGO_SECRET_KEY": TEST_SECRET_KEY,
                "PORT": str(port),
                "PATH": str(ROOT / ".venv" / "bin"),
                **env,
            },
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        started.append((process, output))
        web = Web(f"http://127.0.0.1:{port}", process)
        deadline = time.monotonic() + 20
        while True:
            try:
                assert requests.get(f"{web.url}/healthz", timeout=1).status_code == 200
                return web
            except (requests.ConnectionError, requests.Timeout):  # not listening, or still loading
                assert process.poll() is None, "gunicorn exited"
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.1)

    yield start
    for process, _ in started:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
