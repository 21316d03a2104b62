"""Ingestion throughput and cost: simulator → collector → committed rows, with CPU and memory.

Usage: python bench/ingest.py [--rate 0] [--seconds 60] [--runs 3] [--warmup 5]
Each run starts `simulate_stream --rate RATE` (0 = full speed; realistic 300-800 byte
payloads) and `collect_stream` as separate processes against a fresh database, and over
the measured window (after a warm-up) reports: posts/s sent (from the simulator's --record
file) and committed, the collector's CPU (% of one core, utime+stime from /proc), the CPU
of its PostgreSQL backend(s), the collector's peak RSS, and the posts dropped (from the
collector's closing summary line). Prints each run and the medians.

The collector's backend is found in pg_stat_activity by its application_name; it changes
when DATABASE_CONN_MAX_AGE recycles the connection, so every backend seen is sampled each
0.5 s and their CPU deltas are summed (a backend's last half second may be missed).
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass

import psycopg
from common import bench_database, cpu_seconds, free_port, machine, manage, median, rss_mb

COLLECTOR_APP = "stream-analyzer collect_stream"
SAMPLE = 0.5  # seconds between samples of rows, CPU and RSS


@dataclass
class Run:
    sent_per_s: float
    posts_per_s: float
    collector_cpu: float  # % of one core
    postgres_cpu: float  # % of one core, the collector's backend(s)
    peak_rss: float  # MB
    dropped: int
    summary: str


class BackendCpu:
    """Sum the CPU used by the collector's PostgreSQL backends from the first sample on."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}

    def sample(self) -> None:
        pids = self.conn.execute(
            "SELECT pid FROM pg_stat_activity"
            " WHERE application_name = %s AND datname = current_database()",
            [COLLECTOR_APP],
        ).fetchall()
        for (pid,) in pids:
            if (used := cpu_seconds(pid)) is not None:
                self.first.setdefault(pid, used)
                self.last[pid] = used

    def seconds(self) -> float:
        return sum(self.last[pid] - self.first[pid] for pid in self.last)


def posts_sent(record: str, since: float, until: float) -> int:
    """Posts the simulator wrote between two wall-clock times, from its record file."""
    with open(record) as lines:
        writes = (json.loads(line) for line in lines)
        return sum(w["posts"] for w in writes if since <= w["sent_at"] < until)


def one_run(url: str, rate: float, seconds: float, warmup: float) -> Run:
    port = free_port()
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    record = tempfile.NamedTemporaryFile(suffix=".jsonl")  # noqa: SIM115 - closed below
    simulator = manage(
        "simulate_stream", "--port", str(port), "--rate", f"{rate:g}", "--seed", "1",
        "--record", record.name, database_url=url, wait=False, **quiet,
    )  # fmt: skip
    time.sleep(1.5)
    with tempfile.TemporaryFile("w+") as summary, psycopg.connect(url, autocommit=True) as conn:
        collector = manage(
            "collect_stream", "--url", f"http://127.0.0.1:{port}/stream",
            database_url=url, wait=False, stdout=summary, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        count = "SELECT count(*) FROM ingestion_post"
        try:
            time.sleep(warmup)
            backend = BackendCpu(conn)
            backend.sample()
            # The clocks are read just before each count, whose snapshot is taken as it starts:
            # a count of millions of rows takes a while, which must not stretch the window.
            started, wall_started = time.monotonic(), time.time()
            start_cpu = cpu_seconds(collector.pid)
            start_rows = conn.execute(count).fetchone()[0]
            peak_rss = 0.0
            while (elapsed := time.monotonic() - started) < seconds:
                time.sleep(min(SAMPLE, seconds - elapsed))
                peak_rss = max(peak_rss, rss_mb(collector.pid))
                backend.sample()
            elapsed, wall_ended = time.monotonic() - started, time.time()
            cpu = cpu_seconds(collector.pid) - start_cpu
            rows = conn.execute(count).fetchone()[0] - start_rows
            backend.sample()
        finally:
            for process in (collector, simulator):
                process.send_signal(signal.SIGTERM)
                process.wait(30)
        summary.seek(0)
        line = summary.read().strip()
    with record:
        sent = posts_sent(record.name, wall_started, wall_ended)
    dropped = re.search(r"dropped (\d+)", line)
    return Run(
        sent_per_s=sent / (wall_ended - wall_started),
        posts_per_s=rows / elapsed,
        collector_cpu=100 * cpu / elapsed,
        postgres_cpu=100 * backend.seconds() / elapsed,
        peak_rss=peak_rss,
        dropped=int(dropped.group(1)) if dropped else -1,
        summary=line,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=0, help="events/s offered; 0 = full speed")
    parser.add_argument("--seconds", type=float, default=60, help="measured window")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--warmup", type=float, default=5, help="seconds before measuring")
    options = parser.parse_args()
    offered = f"{options.rate:,.0f} events/s" if options.rate > 0 else "full speed"
    print(f"ingest benchmark on {machine()}; stream offered at {offered}", flush=True)
    runs = []
    for number in range(1, options.runs + 1):
        with bench_database() as url:
            run = one_run(url, options.rate, options.seconds, options.warmup)
        runs.append(run)
        print(
            f"run {number}: {run.sent_per_s:,.0f} posts/s sent, {run.posts_per_s:,.0f} committed,"
            f" dropped {run.dropped},"
            f" collector CPU {run.collector_cpu:.0f} % of a core, PostgreSQL backend"
            f" {run.postgres_cpu:.0f} %, collector peak RSS {run.peak_rss:.0f} MB",
            flush=True,
        )
        print(f"  collector: {run.summary}", flush=True)

    def mid(name: str) -> float:
        return median([getattr(run, name) for run in runs])

    print(
        f"median of {len(runs)} runs of {options.seconds:.0f} s at {offered}:"
        f" {mid('sent_per_s'):,.0f} posts/s sent, {mid('posts_per_s'):,.0f} committed,"
        f" dropped {sum(r.dropped for r in runs)} in all,"
        f" collector CPU {mid('collector_cpu'):.0f} %, PostgreSQL {mid('postgres_cpu'):.0f} %,"
        f" collector RSS ≤ {max(r.peak_rss for r in runs):.0f} MB"
    )


if __name__ == "__main__":
    main()
