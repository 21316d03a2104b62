"""32 concurrent 5 s realtime requests against gunicorn, with web and collector RSS.

Usage: python bench/realtime.py [--requests 32] [--seconds 5] [--rounds 3] [--rate 100]
Starts `simulate_stream`, `collect_stream` and gunicorn as in docker-compose.yml (web
config gunicorn.conf.py) against a throw-away database (on DATABASE_URL's server), fires
the requests at once each round, and checks every answer: 200, a post count near rate ×
seconds, and within seconds + 0.5 s. RSS of the web (gunicorn master and its worker) and
collector processes is sampled every 100 ms throughout. Exit status 1 on any failure.
"""

from __future__ import annotations

import argparse
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
from pathlib import Path

from common import ROOT, bench_database, free_port, machine, manage, median, rss_mb

DIMENSIONS = ("likes", "comments", "favorites", "retweets")


def get(url: str, timeout: float = 30) -> tuple[int, dict, float]:
    """Return (status, JSON body, seconds taken)."""
    started = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            status, body = response.status, json.load(response)
    except urllib.error.HTTPError as error:
        status, body = error.code, json.load(error)
    return status, body, time.monotonic() - started


def wait_until_up(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            get(url, timeout=1)
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not come up in {seconds:.0f} s")


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []


class RssSampler(threading.Thread):
    """Record the peak RSS of named process groups until stopped."""

    def __init__(self, groups: dict[str, list[int]]) -> None:
        super().__init__(daemon=True)
        self.groups, self.peaks = groups, dict.fromkeys(groups, 0.0)
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.wait(0.1):
            for name, pids in self.groups.items():
                for pid in pids:
                    self.peaks[name] = max(self.peaks[name], rss_mb(pid))


def one_round(base: str, requests: int, seconds: int, rate: float) -> list[str]:
    """Fire the requests at once; return the failures."""
    urls = [
        f"{base}/analysis?duration={seconds}s&dimension={DIMENSIONS[i % 4]}"
        for i in range(requests)
    ]
    with ThreadPoolExecutor(requests) as pool:
        answers = list(pool.map(get, urls))
    failures, expected = [], rate * seconds
    for url, (status, body, took) in zip(urls, answers, strict=True):
        posts = body.get("total_posts", 0)
        if status != 200 or not 0.7 * expected <= posts <= 1.1 * expected or took > seconds + 0.5:
            failures.append(f"{url}: {status} {body} in {took:.2f} s")
    took = sorted(answer[2] for answer in answers)
    counts = sorted(answer[1].get("total_posts", 0) for answer in answers)
    print(
        f"  {requests} requests: {sum(a[0] == 200 for a in answers)} × 200,"
        f" latency min {took[0]:.2f} / median {median(took):.2f} / max {took[-1]:.2f} s,"
        f" posts {counts[0]}..{counts[-1]}",
        flush=True,
    )
    return failures


def start_processes(url: str, rate: float) -> tuple[dict[str, subprocess.Popen], int]:
    stream_port, web_port = free_port(), free_port()
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    stream = f"http://127.0.0.1:{stream_port}/stream"
    processes = {
        "simulator": manage(
            "simulate_stream", "--port", str(stream_port), "--rate", str(rate),
            database_url=url, wait=False, **quiet,
        ),
        "collector": manage(
            "collect_stream", "--url", stream, database_url=url, wait=False, **quiet
        ),
        "web": subprocess.Popen(
            [str(Path(sys.executable).parent / "gunicorn"), "analyzer_project.wsgi",
             "--config", "gunicorn.conf.py"],
            cwd=ROOT, env={**os.environ, "PORT": str(web_port), "DATABASE_URL": url,
                           "STREAM_URL": stream}, **quiet,
        ),
    }  # fmt: skip
    return processes, web_port


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=32)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rate", type=float, default=100, help="simulated events/s per client")
    options = parser.parse_args()
    print(f"realtime benchmark on {machine()}")
    with bench_database("sa_bench7_realtime") as url:
        processes, port = start_processes(url, options.rate)
        try:
            base = f"http://127.0.0.1:{port}"
            wait_until_up(f"{base}/healthz")
            time.sleep(2)  # the collector connects and starts writing
            web = processes["web"].pid
            sampler = RssSampler(
                {
                    "web master": [web],
                    "web worker": children(web),
                    "collector": [processes["collector"].pid],
                }
            )
            sampler.start()
            failures = []
            for _ in range(options.rounds):
                failures += one_round(base, options.requests, options.seconds, options.rate)
            sampler.stopping.set()
            sampler.join()
        finally:
            for process in processes.values():
                process.send_signal(signal.SIGTERM)
            for process in processes.values():
                process.wait(30)
    print("peak RSS: " + ", ".join(f"{name} {mb:.0f} MB" for name, mb in sampler.peaks.items()))
    if failures:
        print("\n".join(failures))
        sys.exit(f"{len(failures)} request(s) failed")
    print("every request answered 200 with a sane count in time")


if __name__ == "__main__":
    main()
