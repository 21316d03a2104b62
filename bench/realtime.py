"""Concurrent realtime windows against gunicorn, each answer checked against what was sent.

Usage: python bench/realtime.py [--windows 32,256] [--seconds 5] [--rounds 3] [--rate 1000]
Starts `simulate_stream --record FILE`, `collect_stream` and gunicorn as in
docker-compose.yml (web config gunicorn.conf.py, REALTIME_MAX_CONCURRENT as in
.env.example) against a throw-away database (on DATABASE_URL's server). Each round fires
that many `duration=<seconds>s` requests at once and checks every answer: 200, within
seconds + 0.2 s, and `total_posts` within 1 % of the posts the simulator sent during
[X-Window-Start, X-Window-End] on the connection that served it (the one, not the
collector's, with the most posts sent in that interval; the collector connects first, so
it is connection 1). Peak RSS of the web worker and the collector is sampled every 100 ms
for each number of windows. Exit status 1 on any failure.
"""

from __future__ import annotations

import argparse
import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

from common import (
    ROOT,
    bench_database,
    children,
    free_port,
    machine,
    manage,
    median,
    rss_mb,
    wait_until_up,
)

from ingestion.parser import DIMENSIONS

COLLECTOR_CONNECTION = 1
COUNT_TOLERANCE = 0.01
LATENCY_SLACK = 0.2


def fire(port: int, paths: list[str], timeout: float = 30) -> list[tuple]:
    """Send every request at once, as that many separate clients would; return per request
    (status, JSON body, headers, seconds from its last byte sent to its answer, Unix time
    sent).

    One thread does it all: the connections are opened first, then each request is written
    in one send (256 take a few milliseconds) and the answers are read as they come. Client
    threads in this process would queue for its GIL and send late, which a crowd of real
    clients does not.
    """
    sockets = [socket.create_connection(("127.0.0.1", port), timeout=timeout) for _ in paths]
    sent, replies = [], [b""] * len(paths)
    with selectors.DefaultSelector() as selector:
        for number, (sock, path) in enumerate(zip(sockets, paths, strict=True)):
            request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
            sent.append((time.time(), time.monotonic()))
            sock.sendall(request.encode())
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ, number)
        done = [0.0] * len(paths)
        while selector.get_map():
            for key, _ in selector.select(timeout):
                chunk = key.fileobj.recv(65536)
                if chunk:
                    replies[key.data] += chunk
                    continue
                done[key.data] = time.monotonic()
                selector.unregister(key.fileobj)
                key.fileobj.close()
    answers = []
    for reply, (sent_at, started), finished in zip(replies, sent, done, strict=True):
        head, _, body = reply.partition(b"\r\n\r\n")
        status_line, *lines = head.decode().split("\r\n")
        headers = dict(line.split(": ", 1) for line in lines)
        if headers.get("Transfer-Encoding") == "chunked":
            body = _unchunk(body)
        status = int(status_line.split()[1])
        answers.append((status, json.loads(body), headers, finished - started, sent_at))
    return answers


def _unchunk(body: bytes) -> bytes:
    data = b""
    while body:
        size, _, body = body.partition(b"\r\n")
        length = int(size, 16)
        data, body = data + body[:length], body[length + 2 :]
    return data


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


def sent_posts(record: Path) -> dict[int, list[tuple[float, int]]]:
    """Return connection -> [(sent_at, posts)] from the simulator's record file."""
    writes: dict[int, list[tuple[float, int]]] = defaultdict(list)
    with record.open() as lines:
        for line in lines:
            write = json.loads(line)
            writes[write["connection"]].append((write["sent_at"], write["posts"]))
    return writes


def sent_in(writes: dict[int, list[tuple[float, int]]], start: float, end: float) -> int:
    """Posts sent in [start, end] on the realtime connection that carried the most."""
    return max(
        (
            sum(posts for sent_at, posts in connection if start <= sent_at <= end)
            for number, connection in writes.items()
            if number != COLLECTOR_CONNECTION
        ),
        default=0,
    )


def one_round(port: int, windows: int, seconds: int, record: Path) -> tuple[dict, list[str]]:
    """Fire the windows at once; return the round's figures and its failures."""
    urls = [
        f"/analysis?duration={seconds}s&dimension={DIMENSIONS[i % len(DIMENSIONS)]}"
        for i in range(windows)
    ]
    answers = fire(port, urls)
    time.sleep(0.5)  # the record file has every write of the windows' intervals
    writes = sent_posts(record)
    failures, errors, late, after = [], [], [0.0], [0.0]
    for url, (status, body, headers, took, asked) in zip(urls, answers, strict=True):
        error = 1.0
        if status == 200:
            start, end = float(headers["X-Window-Start"]), float(headers["X-Window-End"])
            sent = sent_in(writes, start, end)
            error = (body["total_posts"] - sent) / max(sent, 1)
            late.append(start - asked)
            after.append(asked + took - end)
        errors.append(error)
        if status != 200 or abs(error) > COUNT_TOLERANCE or took > seconds + LATENCY_SLACK:
            failures.append(f"{url}: {status} {body} in {took:.2f} s, count error {error:.2%}")
    took = sorted(answer[3] for answer in answers)
    figures = {
        "statuses": dict(Counter(answer[0] for answer in answers)),
        "min": took[0],
        "median": median(took),
        "max": took[-1],
        "worst_error": max(errors, key=abs),
        "late_start": max(late),
        "after_end": max(after),
    }
    print(
        f"  {windows} windows: statuses {figures['statuses']}, latency min {took[0]:.3f} /"
        f" median {figures['median']:.3f} / max {took[-1]:.3f} s,"
        f" worst count error {figures['worst_error']:+.3%}; latest window start"
        f" {figures['late_start']:.3f} s after its request was sent, latest answer"
        f" {figures['after_end']:.3f} s after its window's end",
        flush=True,
    )
    return figures, failures


def start_processes(
    url: str, rate: float, record: Path, cap: int
) -> tuple[dict[str, subprocess.Popen], int]:
    stream_port, web_port = free_port(), free_port()
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    stream = f"http://127.0.0.1:{stream_port}/stream"
    processes = {
        "simulator": manage(
            "simulate_stream", "--port", str(stream_port), "--rate", str(rate),
            "--record", str(record), database_url=url, wait=False, **quiet,
        ),
        "collector": manage(
            "collect_stream", "--url", stream, database_url=url, wait=False, **quiet
        ),
    }  # fmt: skip
    time.sleep(1)  # the collector's connection is the simulator's connection 1
    processes["web"] = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "analyzer_project.wsgi",
         "--config", "gunicorn.conf.py"],
        cwd=ROOT, env={**os.environ, "PORT": str(web_port), "DATABASE_URL": url,
                       "STREAM_URL": stream, "REALTIME_MAX_CONCURRENT": str(cap)}, **quiet,
    )  # fmt: skip
    return processes, web_port


def summary(windows: int, rounds: list[dict], peaks: dict[str, float]) -> None:
    print(
        f"{windows} windows, medians of {len(rounds)} rounds: latency median"
        f" {median([r['median'] for r in rounds]):.3f} s,"
        f" max {median([r['max'] for r in rounds]):.3f} s,"
        f" worst count error {median([abs(r['worst_error']) for r in rounds]):.3%};"
        " peak RSS " + ", ".join(f"{name} {mb:.0f} MB" for name, mb in peaks.items()),
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", default="32,256", help="concurrent windows per round")
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rate", type=float, default=1000, help="simulated posts/s per client")
    parser.add_argument("--cap", type=int, default=256, help="REALTIME_MAX_CONCURRENT")
    options = parser.parse_args()
    levels = [int(level) for level in options.windows.split(",")]
    print(f"realtime benchmark on {machine()}, stream {options.rate:g} posts/s")
    failures: list[str] = []
    with tempfile.TemporaryDirectory() as tmp, bench_database("sa_bench7_realtime") as url:
        record = Path(tmp) / "sent.jsonl"
        processes, port = start_processes(url, options.rate, record, options.cap)
        try:
            wait_until_up(f"http://127.0.0.1:{port}/healthz")
            time.sleep(2)  # the collector writes
            web = processes["web"].pid
            for windows in levels:
                sampler = RssSampler(
                    {"web worker": children(web), "collector": [processes["collector"].pid]}
                )
                sampler.start()
                rounds = []
                for _ in range(options.rounds):
                    figures, failed = one_round(port, windows, options.seconds, record)
                    rounds.append(figures)
                    failures += failed
                    time.sleep(1)  # the last window has closed the shared connection
                sampler.stopping.set()
                sampler.join()
                summary(windows, rounds, sampler.peaks)
        finally:
            for process in processes.values():
                process.send_signal(signal.SIGTERM)
            for process in processes.values():
                process.wait(30)
    if failures:
        print("\n".join(failures[:20]))
        sys.exit(f"{len(failures)} request(s) failed")
    print("every answer: 200, within 1 % of what was sent in its window, in time")


if __name__ == "__main__":
    main()
