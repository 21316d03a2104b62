"""Ingestion throughput: simulator at full speed → collector → committed rows/s.

Usage: python bench/ingest.py [--seconds 60] [--runs 3]
Each run starts `simulate_stream --rate 0` and `collect_stream` as separate processes
against a fresh database, and counts committed rows at the end of the measured window
(after a warm-up). Prints rows/s per run, the median, and the collector's peak RSS.
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import tempfile
import time

import psycopg
from common import bench_database, free_port, machine, manage, median, rss_mb


def count_rows(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM ingestion_post").fetchone()[0]


def one_run(url: str, seconds: float, warmup: float = 5.0) -> tuple[float, float, str]:
    """Return committed posts/s, the collector's peak RSS and its closing summary line."""
    port = free_port()
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    simulator = manage(
        "simulate_stream", "--port", str(port), "--rate", "0", "--seed", "1",
        database_url=url, wait=False, **quiet,
    )  # fmt: skip
    time.sleep(1.5)
    with tempfile.TemporaryFile("w+") as summary:
        collector = manage(
            "collect_stream", "--url", f"http://127.0.0.1:{port}/stream",
            database_url=url, wait=False, stdout=summary, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            time.sleep(warmup)
            start_rows, started = count_rows(url), time.monotonic()
            peak_rss = 0.0
            while (elapsed := time.monotonic() - started) < seconds:
                time.sleep(min(5.0, seconds - elapsed))
                peak_rss = max(peak_rss, rss_mb(collector.pid))
                rows = count_rows(url) - start_rows
                print(f"  {time.monotonic() - started:5.1f} s: {rows:>9} rows", flush=True)
            rows = count_rows(url) - start_rows
            elapsed = time.monotonic() - started
        finally:
            for process in (collector, simulator):
                process.send_signal(signal.SIGTERM)
                process.wait(30)
        summary.seek(0)
        return rows / elapsed, peak_rss, summary.read().strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--runs", type=int, default=3)
    options = parser.parse_args()
    print(f"ingest benchmark on {machine()}")
    rates, peaks = [], []
    for run in range(1, options.runs + 1):
        with bench_database() as url:
            rate, peak, summary = one_run(url, options.seconds)
        rates.append(rate)
        peaks.append(peak)
        print(f"run {run}: {rate:,.0f} posts/s committed, collector peak RSS {peak:.0f} MB")
        print(f"  collector: {summary}")
    print(
        f"median of {len(rates)} runs of {options.seconds:.0f} s: {median(rates):,.0f} posts/s"
        f" (min {min(rates):,.0f}, max {max(rates):,.0f}); collector RSS ≤ {max(peaks):.0f} MB"
    )


if __name__ == "__main__":
    main()
