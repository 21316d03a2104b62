from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
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


@pytest.fixture
def database_url(transactional_db) -> str:
    """A DATABASE_URL for subprocesses, pointing at the test database."""
    params = connection.settings_dict
    host = quote(params["HOST"] or "localhost", safe="")
    port = f":{params['PORT']}" if params["PORT"] else ""
    password = f":{quote(params['PASSWORD'])}" if params.get("PASSWORD") else ""
    return f"postgresql://{params['USER']}{password}@{host}{port}/{params['NAME']}"


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
