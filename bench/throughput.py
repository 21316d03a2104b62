"""Historical throughput under a crowd, and the database connections the web holds.

Usage: python bench/throughput.py [--clients 200] [--requests 3] [--rounds 3] [--rate 1000]
           [--preload-minutes 60] [--runserver-requests 2000] [--scenario both] [--py-spy FILE]
Against a throw-away database on DATABASE_URL's server: starts `simulate_stream --rate`,
`collect_stream` and the web, preloads the last --preload-minutes of posts at --rate posts/s
through posts_ingest (bench/load.py's pool of simulator posts), so the 1 h window is full.
- gunicorn (gunicorn.conf.py): each round, --clients threads of a separate load process
  (one keep-alive http.client connection each) send --requests `duration=1h` requests at
  once (dimensions rotate): requests/s, p50/p99/max latency, statuses.
- runserver (`manage.py runserver --noreload`): 4 clients send --runserver-requests
  historical requests in all (durations 2m..24h), a new HTTP connection each: statuses.
Both report the peak number of database connections the web process held (pg_stat_activity,
application_name "stream-analyzer gunicorn" / "... runserver") and, for gunicorn, the CPU
the load process, the web worker and the machine used. With --py-spy FILE an extra first
gunicorn round, not counted, is profiled. Figures are per round, then medians. Exit status 1
on any non-200.
"""

from __future__ import annotations

import argparse
import dataclasses
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from common import (
    ROOT,
    bench_database,
    children,
    cpu_seconds,
    free_port,
    machine,
    machine_cpu_seconds,
    manage,
    median,
    wait_until_up,
)

from ingestion.parser import DIMENSIONS

RUNSERVER_DURATIONS = ("2m", "5m", "1h", "24h")
QUIET = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}


def fire(port: int, clients: int, requests: int) -> dict:
    """Send `requests` duration=1h requests from each of `clients` threads, all at once."""
    barrier, results = threading.Barrier(clients), []

    def client(number: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        connection.connect()
        barrier.wait()
        for i in range(requests):
            path = f"/analysis?duration=1h&dimension={DIMENSIONS[(number + i) % len(DIMENSIONS)]}"
            started = time.monotonic()
            try:
                connection.request("GET", path)
                response = connection.getresponse()
                response.read()
                status = response.status
            except OSError:
                status, connection = 0, http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            results.append((status, time.monotonic() - started, time.monotonic()))
        connection.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    cpu, started = time.process_time(), time.monotonic()
    for thread in threads:
        thread.join()
    return {
        "cpu": time.process_time() - cpu,
        "wall": max(end for _, _, end in results) - started,
        "latencies": [took for _, took, _ in results],
        "statuses": [status for status, _, _ in results],
    }


class ConnectionSampler(threading.Thread):
    """Record the peak number of connections named `application_name`, every 50 ms."""

    def __init__(self, url: str, application_name: str) -> None:
        super().__init__(daemon=True)
        self.url, self.name, self.peak = url, application_name, 0
        self.stopping = threading.Event()

    def run(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as db:
            while not self.stopping.wait(0.05):
                row = db.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                    [self.name],
                ).fetchone()
                self.peak = max(self.peak, row[0])

    def __enter__(self) -> ConnectionSampler:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stopping.set()
        self.join()


def preload(url: str, *, minutes: int, rate: int) -> None:
    """Store minutes × 60 × rate posts arriving evenly over the minutes before now."""
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "analyzer_project.settings")
    import django

    django.setup()
    from django.db import connection
    from load import make_pool

    from ingestion.partitions import ensure_partitions
    from ingestion.services import posts_ingest

    total, started = minutes * 60 * rate, time.monotonic()
    pool, end = make_pool(min(200_000, total), seed=7), datetime.now(UTC)
    start, step = end - timedelta(minutes=minutes), timedelta(seconds=1 / rate)
    ensure_partitions(now=start, ahead=timedelta(minutes=minutes + 60))
    for first in range(0, total, 20_000):
        batch = []
        for i in range(first, min(first + 20_000, total)):
            post, lag = pool[i % len(pool)]
            arrived_at = start + step * i
            created = int(arrived_at.timestamp()) - lag
            batch.append((arrived_at, dataclasses.replace(post, created_ts=created)))
        posts_ingest(posts=batch)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")  # what autovacuum does to an insert-only table
    connection.close()
    print(f"preloaded {total:,} posts in {time.monotonic() - started:.0f} s", flush=True)


def start_stream(url: str, rate: int) -> tuple[list[subprocess.Popen], str]:
    port = free_port()
    stream = f"http://127.0.0.1:{port}/stream"
    simulator = manage(
        "simulate_stream", "--port", str(port), "--rate", str(rate),
        database_url=url, wait=False, **QUIET,
    )  # fmt: skip
    time.sleep(1)
    collector = manage("collect_stream", "--url", stream, database_url=url, wait=False, **QUIET)
    return [simulator, collector], stream


def start_web(kind: str, url: str, stream: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = {"DATABASE_URL": url, "STREAM_URL": stream, "PORT": str(port)}
    if kind == "gunicorn":
        command = [str(Path(sys.executable).parent / "gunicorn"), "analyzer_project.wsgi",
                   "--config", "gunicorn.conf.py"]  # fmt: skip
    else:
        command = [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"]
    web = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env}, **QUIET)
    wait_until_up(f"http://127.0.0.1:{port}/healthz")
    return web, port


def stop(process: subprocess.Popen) -> None:
    process.send_signal(signal.SIGTERM)
    process.wait(30)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def gunicorn_round(
    url: str, port: int, worker: int, options: argparse.Namespace, profile: str | None = None
) -> dict:
    load = [sys.executable, __file__, "--fire", str(port), "--clients", str(options.clients),
            "--requests", str(options.requests)]  # fmt: skip
    profiler = None
    if profile:  # --nonblocking: stopping 272 threads 100 times a second would dominate
        profiler = subprocess.Popen(
            [str(Path(sys.executable).parent / "py-spy"), "record", "--nonblocking",
             "-p", str(worker), "-f", "raw", "-o", profile], **QUIET,
        )  # fmt: skip
        time.sleep(1)
    web_cpu, machine_cpu = cpu_seconds(worker), machine_cpu_seconds()
    with ConnectionSampler(url, "stream-analyzer gunicorn") as sampler:
        result = json.loads(subprocess.run(load, capture_output=True, check=True).stdout)
    web_cpu, machine_cpu = cpu_seconds(worker) - web_cpu, machine_cpu_seconds() - machine_cpu
    if profiler:
        profiler.send_signal(signal.SIGINT)
        profiler.wait(30)
    latencies, statuses = result["latencies"], result["statuses"]
    figures = {
        "rps": len(latencies) / result["wall"],
        "p50": percentile(latencies, 0.5),
        "p99": percentile(latencies, 0.99),
        "max": max(latencies),
        "statuses": {s: statuses.count(s) for s in sorted(set(statuses))},
        "connections": sampler.peak,
        "client_cpu": result["cpu"] / result["wall"],
        "web_cpu": web_cpu / result["wall"],
        "machine_cpu": machine_cpu / result["wall"],
    }
    print(
        f"  {len(latencies)} requests: {figures['rps']:.0f} req/s, p50 {figures['p50']:.3f} s,"
        f" p99 {figures['p99']:.3f} s, max {figures['max']:.3f} s, statuses"
        f" {figures['statuses']}, peak web connections {figures['connections']},"
        f" CPU (cores): load process {figures['client_cpu']:.2f}, web worker"
        f" {figures['web_cpu']:.2f}, machine {figures['machine_cpu']:.2f}",
        flush=True,
    )
    return figures


def get_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=120) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def runserver_round(url: str, port: int, requests: int) -> dict:
    urls = [
        f"http://127.0.0.1:{port}/analysis?duration={RUNSERVER_DURATIONS[i % 4]}"
        f"&dimension={DIMENSIONS[i // 4 % len(DIMENSIONS)]}"
        for i in range(requests)
    ]
    started = time.monotonic()
    sampler = ConnectionSampler(url, "stream-analyzer runserver")
    with sampler, ThreadPoolExecutor(4) as pool:
        statuses = list(pool.map(get_status, urls))
    wall = time.monotonic() - started
    figures = {
        "rps": requests / wall,
        "statuses": {s: statuses.count(s) for s in sorted(set(statuses))},
        "connections": sampler.peak,
    }
    print(
        f"  {requests} requests in {wall:.1f} s ({figures['rps']:.0f} req/s), statuses"
        f" {figures['statuses']}, peak web connections {figures['connections']}",
        flush=True,
    )
    return figures


def summary(name: str, rounds: list[dict]) -> list[str]:
    """Print the medians of the rounds; return the rounds' failures."""
    keys = [key for key in rounds[0] if key != "statuses"]
    medians = ", ".join(f"{key} {median([r[key] for r in rounds]):.3g}" for key in keys)
    print(f"{name} medians of {len(rounds)} rounds: {medians}", flush=True)
    return [f"{name}: {r['statuses']}" for r in rounds if set(r["statuses"]) != {200}]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--requests", type=int, default=3, help="per client")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rate", type=int, default=1000, help="stream posts/s")
    parser.add_argument("--preload-minutes", type=int, default=60)
    parser.add_argument("--runserver-requests", type=int, default=2000)
    parser.add_argument("--scenario", choices=["gunicorn", "runserver", "both"], default="both")
    parser.add_argument(
        "--py-spy",
        metavar="FILE",
        help="first an extra gunicorn round, py-spy recorded into FILE (raw)",
    )
    parser.add_argument("--fire", type=int, metavar="PORT", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.fire:
        print(json.dumps(fire(options.fire, options.clients, options.requests)))
        return
    print(f"throughput benchmark on {machine()}")
    failures = []
    with bench_database("sa_bench_throughput") as url:
        stream_processes, stream = start_stream(url, options.rate)
        try:
            preload(url, minutes=options.preload_minutes, rate=options.rate)
            for kind in ("gunicorn", "runserver"):
                if options.scenario not in (kind, "both"):
                    continue
                web, port = start_web(kind, url, stream)
                # gunicorn serves from its one worker process, runserver from itself.
                worker = children(web.pid)[0] if kind == "gunicorn" else web.pid
                print(f"{kind}:", flush=True)
                try:
                    if kind == "gunicorn" and options.py_spy:
                        print("  (profiled round, not counted)", flush=True)
                        gunicorn_round(url, port, worker, options, profile=options.py_spy)
                    rounds = [
                        gunicorn_round(url, port, worker, options)
                        if kind == "gunicorn"
                        else runserver_round(url, port, options.runserver_requests)
                        for _ in range(options.rounds)
                    ]
                finally:
                    stop(web)
                failures += summary(kind, rounds)
        finally:
            for process in stream_processes:
                stop(process)
    if failures:
        sys.exit("not every answer was 200: " + "; ".join(failures))


if __name__ == "__main__":
    main()
