"""Shared by the benchmarks: a throw-away database, processes, and figures."""

from __future__ import annotations

import contextlib
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# The benchmarks load the service from one address: no rate limit or per-client realtime
# cap unless a drill sets one, and a throw-away key for gunicorn (it refuses the
# development one).
os.environ.setdefault("ANALYSIS_RATE_LIMIT", "off")
os.environ.setdefault("REALTIME_MAX_PER_CLIENT", "100000")
os.environ.setdefault("DJANGO_SECRET_KEY", "bench-key-" + os.urandom(24).hex())


def server_url() -> str:
    """The PostgreSQL to benchmark on: DATABASE_URL, or the embedded one."""
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    from analyzer_project import embedded_db

    host = quote(embedded_db.socket_dir(), safe="")
    return f"postgresql://{embedded_db.USER}@{host}/{embedded_db.DATABASE_NAME}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def create_database(name: str) -> str:
    """Create database `name` afresh (dropping an older one), migrate it, return its URL."""
    url = server_url()
    with psycopg.connect(with_database(url, "postgres"), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    created = with_database(url, name)
    if manage("migrate", "--noinput", "-v0", database_url=created).returncode:
        raise SystemExit("migrate failed")
    return created


@contextlib.contextmanager
def bench_database(name: str = "stream_analyzer_bench") -> Iterator[str]:
    """Yield the URL of a fresh, migrated database; drop it afterwards."""
    bench_url = create_database(name)
    try:
        yield bench_url
    finally:
        with psycopg.connect(with_database(server_url(), "postgres"), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def manage(
    *args: str, database_url: str, wait: bool = True, env: dict | None = None, **popen
) -> subprocess.Popen:
    """Run (or start, with wait=False) `manage.py args` against database_url."""
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url, "PYTHONUNBUFFERED": "1", **(env or {})},
        **popen,
    )
    if wait:
        process.wait()
    return process


def machine() -> str:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    python = platform.python_version()
    return f"{platform.machine()}, {os.cpu_count()} cores, {memory:.0f} GiB, Python {python}"


def median(values: list[float]) -> float:
    return statistics.median(values)


def rss_mb(pid: int) -> float:
    """Resident memory of a process, in MB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def children(pid: int) -> list[int]:
    """The child processes of `pid` (gunicorn's workers)."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process so far, or None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def machine_cpu_seconds() -> float:
    """CPU time the whole machine has been busy (all but idle and iowait)."""
    with open("/proc/stat") as stat:
        ticks = stat.readline().split()[1:]
    busy = sum(int(t) for t in ticks) - int(ticks[3]) - int(ticks[4])
    return busy / os.sysconf("SC_CLK_TCK")


def wait_until_up(url: str, seconds: float = 30) -> None:
    """Poll url until it answers; exit the benchmark if it does not within `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not come up in {seconds:.0f} s")
