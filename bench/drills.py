"""Reliability and hostile drills (issues 6, 14) against the real processes.

Usage: python bench/drills.py [flapping database sigkill load hostile soak oversized lockout
       flood slowloris deploy]  (default: all)
Each drill runs the real collector / web (gunicorn, as in docker-compose.yml) / scheduler
processes against a fresh database and the stream simulator, and prints one verdict line.
Exit status 1 if any drill fails.
"""

from __future__ import annotations

import contextlib
import html
import json
import os
import re
import runpy
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import requests
from common import ROOT, bench_database, free_port, machine, manage

from ingestion.parser import DIMENSIONS
from ingestion.scripted_upstream import ScriptedUpstream
from ingestion.simulator import StreamSimulator

VERDICTS: list[str] = []


# --- harness ---------------------------------------------------------------------------


class Stack:
    """The processes of one drill, all stopped (and their logs kept) at the end."""

    def __init__(self, database_url: str, **env: str) -> None:
        self.url = database_url
        self.env = env
        self.processes: list[tuple[str, subprocess.Popen, Path]] = []
        self.logs = Path(tempfile.mkdtemp(prefix="drill-"))

    def start(self, name: str, *args: str, **env: str) -> subprocess.Popen:
        log = self.logs / f"{name}-{len(self.processes)}.log"
        process = manage(
            *args,
            database_url=self.url,
            wait=False,
            env={**self.env, **env},
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
        )
        self.processes.append((name, process, log))
        return process

    def web(self, **env: str) -> str:
        port = free_port()
        log = self.logs / f"web-{len(self.processes)}.log"
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "analyzer_project.wsgi", "-c", "gunicorn.conf.py"],
            cwd=ROOT,
            env={**os.environ, "DATABASE_URL": self.url, "PORT": str(port), **self.env, **env},
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
        )
        self.processes.append(("web", process, log))
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: get(f"{base}/healthz").status_code == 200, 30, "web start")
        return base

    def log(self, process: subprocess.Popen) -> str:
        return next(log.read_text() for _, p, log in self.processes if p is process)

    def stop(self, process: subprocess.Popen, sig: int = signal.SIGTERM) -> int:
        process.send_signal(sig)
        return process.wait(60)

    def close(self) -> None:
        for _, process, _ in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for _, process, _ in self.processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()


def get(url: str, timeout: float = 10) -> requests.Response:
    try:
        return requests.get(url, timeout=timeout)
    except requests.RequestException:
        return requests.Response()  # status_code None


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> float:
    """Poll condition until true; return the seconds it took."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"{what}: not within {timeout} s")
        time.sleep(0.1)
    return time.monotonic() - started


def sql(url: str, statement: str, *params) -> list[tuple]:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        cursor = conn.execute(statement, params or None)
        return cursor.fetchall() if cursor.description else []


def identity(data: str) -> tuple:
    fields = next(iter(json.loads(data).values()))
    return (fields.get("id"), str(fields.get("post_id", "")), int(fields["timestamp"]))


def stored(url: str) -> Counter:
    rows = sql(url, "SELECT upstream_id, post_id, created_ts FROM ingestion_post")
    return Counter(rows)


def verdict(name: str, ok: bool, figures: str) -> None:
    line = f"{name}: {'PASS' if ok else 'FAIL'} — {figures}"
    VERDICTS.append(line)
    print(line, flush=True)


def drain(stack: Stack, sim: StreamSimulator, collector: subprocess.Popen) -> int:
    """Stop the stream, let the collector write what it read, stop it; return its exit code."""
    sim.stop()
    time.sleep(2)
    return stack.stop(collector)


def missing_posts(url: str, sim: StreamSimulator, **only) -> tuple[Counter, list]:
    """Valid events sent in full but not stored, and events cut by the drill's final stop."""
    sent = [e for e in sim.sent if e.valid and e.complete]
    sent = [e for e in sent if all(getattr(e, k) == v for k, v in only.items())]
    missing = Counter(identity(e.data) for e in sent) - stored(url)
    last_writes = {max(e.sent_at for e in sim.sent if e.connection == c) for c in range(1, 999)
                   if any(e.connection == c for e in sim.sent)}  # fmt: skip
    tail = [e for e in sent if identity(e.data) in missing and e.sent_at >= max(last_writes) - 1]
    return missing, tail


# --- the drills ------------------------------------------------------------------------


def flapping(url: str, seconds: float = 120) -> None:
    """1. Upstream cut every few seconds, malformed and multi-line events, comments."""
    sim = StreamSimulator(rate=300, drop_after=4, malformed_every=25, multiline_every=4,
                          ids=True, record=True, seed=1, keepalive_interval=0.5)  # fmt: skip
    sim.start()
    stack = Stack(url)
    try:
        collector = stack.start("collector", "collect_stream", "--url", sim.url)
        time.sleep(seconds)
        code = drain(stack, sim, collector)
        missing, tail = missing_posts(url, sim)
        delays = [float(d) for d in re.findall(r"reconnecting to \S+ in ([\d.]+) s",
                                               stack.log(collector))]  # fmt: skip
        # Policy: the i-th delay of a streak lies in [c/2, c], c = min(30, 2**i) (healthy
        # connections last 4 s here, under the 30 s that resets the streak).
        in_policy = all(min(30, 2**i) / 2 <= d <= min(30, 2**i) + 0.05 for i, d in
                        enumerate(delays))  # fmt: skip
        cut = sum(1 for e in sim.sent if not e.complete)
        valid = sum(1 for e in sim.sent if e.valid and e.complete)
        lost = sum(missing.values()) - len(tail)
        verdict(
            "1 flapping upstream",
            code == 0 and lost == 0 and in_policy and len(delays) >= 4,
            f"{seconds:.0f} s, {sim.connections} connections, {valid} valid events sent in full,"
            f" {valid - sum(missing.values())} stored, {cut} cut mid-write (not stored),"
            f" {lost} lost; reconnect delays {', '.join(f'{d:.1f}' for d in delays)} s"
            f" ({'within' if in_policy else 'OUTSIDE'} 1 s doubling to 30 s, equal jitter)",
        )
    finally:
        sim.stop()
        stack.close()


def database(url: str, rate: float = 1000, outage: float = 6) -> None:
    """2. The database refuses every connection for a few seconds under a 1,000 posts/s stream."""
    sim = StreamSimulator(rate=rate, record=True, seed=2)
    sim.start()
    stack = Stack(url)
    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    try:
        collector = stack.start("collector", "collect_stream", "--url", sim.url)
        web = stack.web(STREAM_URL=sim.url)
        wait_for(lambda: get(f"{web}/readyz").status_code == 200, 30, "ready before outage")
        time.sleep(3)
        sql(admin, f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        sql(admin, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
            name)  # fmt: skip
        statuses, started = [], time.monotonic()
        while time.monotonic() - started < outage:
            statuses.append(get(f"{web}/readyz").status_code)
            time.sleep(0.5)
        sql(admin, f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        recovered = wait_for(lambda: get(f"{web}/readyz").status_code == 200, 60, "recovery")
        time.sleep(3)
        alive = collector.poll() is None
        code = drain(stack, sim, collector)
        missing, tail = missing_posts(url, sim)
        lost = sum(missing.values()) - len(tail)
        log = stack.log(collector)
        verdict(
            "2 database outage",
            alive and code == 0 and lost == 0 and set(statuses) == {503},
            f"{outage:.0f} s outage at {rate:.0f} posts/s: collector kept running"
            f" ({log.count('flush failed')} failed flushes, then caught up), {lost} posts lost"
            f" of {sum(1 for e in sim.sent if e.valid)}; /readyz {Counter(statuses)} during the"
            f" outage, 200 again {recovered:.1f} s after it",
        )
    finally:
        sql(admin, f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        sim.stop()
        stack.close()


def sigkill(url: str, rate: float = 1000) -> None:
    """3. The leading collector is killed with SIGKILL while a standby runs."""
    sim = StreamSimulator(rate=rate, record=True, seed=3)
    sim.start()
    stack = Stack(url)
    try:
        first = stack.start("collector", "collect_stream", "--url", sim.url)
        wait_for(lambda: sim.connections == 1, 30, "first leader")
        second = stack.start("collector", "collect_stream", "--url", sim.url)
        time.sleep(5)
        leader, standby = (first, second)
        assert sim.connections == 1, "the standby must not read the stream"
        stack.stop(leader, signal.SIGKILL)
        killed = time.monotonic()
        beats = "SELECT count(*) FROM ingestion_collectorheartbeat WHERE collector LIKE %s"
        wait_for(lambda: sql(url, beats, f"%:{standby.pid}")[0][0] > 0, 30, "takeover")
        takeover = time.monotonic() - killed
        time.sleep(3)
        code = drain(stack, sim, standby)
        missing, _ = missing_posts(url, sim, connection=1)
        lost = sum(missing.values())
        verdict(
            "3 leader SIGKILL",
            code == 0 and takeover <= 5 and lost <= rate,
            f"standby leading {takeover:.1f} s after the kill; {lost} posts lost (read by the"
            f" killed leader and not yet flushed; at most 1 s = {rate:.0f} allowed)",
        )
    finally:
        sim.stop()
        stack.close()


def load_posts(url: str, count: int) -> None:
    """Bulk-load `count` realistic posts over the last 24 h with bench/load.py's loader."""
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "analyzer_project.settings")
    import django

    django.setup()
    from load import load as bulk_load

    bulk_load(count, pool_size=50_000, batch_size=50_000)
    sql(url, "ANALYZE ingestion_post")


def load(url: str, posts: int = 1_000_000, clients: int = 200) -> None:
    """4. 200 concurrent historical requests over 1 M posts; 32 realtime + 1 over the cap."""
    started = time.monotonic()
    load_posts(url, posts)
    loaded = time.monotonic() - started
    sim = StreamSimulator(rate=100)
    sim.start()
    stack = Stack(url, REALTIME_MAX_CONCURRENT="32")  # the cap this drill goes over
    try:
        web = stack.web(STREAM_URL=sim.url)
        queries = [f"duration={d}&dimension={m}" for d in ("2m", "1h", "6h", "24h")
                   for m in DIMENSIONS]  # fmt: skip

        def ask(i: int) -> tuple[int | None, float]:
            t = time.monotonic()
            status = get(f"{web}/analysis?{queries[i % len(queries)]}", timeout=300).status_code
            return status, time.monotonic() - t

        with ThreadPoolExecutor(clients) as pool:
            results = list(pool.map(ask, range(clients * 3)))
        latencies = sorted(seconds for _, seconds in results)
        errors = Counter(status for status, _ in results if status != 200)
        p50, p99 = latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99) - 1]

        def live(_: int) -> str:
            response = get(f"{web}/analysis?duration=5s&dimension=comments", timeout=30)
            if response.status_code != 200:
                return str(response.status_code)
            # 5 s of a 100 posts/s stream, read from a fresh connection.
            total = response.json()["total_posts"]
            totals.append(total)
            return "200 correct" if 400 <= total <= 505 else "200 wrong"

        totals: list[int] = []
        with ThreadPoolExecutor(33) as pool:
            realtime = Counter(pool.map(live, range(33)))
        verdict(
            "4 load",
            not errors and realtime == Counter({"200 correct": 32, "503": 1}),
            f"{posts:,} posts loaded in {loaded:.0f} s; {len(results)} historical requests from"
            f" {clients} concurrent clients: errors {dict(errors) or 'none'},"
            f" latency p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms,"
            f" max {latencies[-1] * 1000:.0f} ms; 33 concurrent"
            f" realtime: {dict(realtime)} (posts per 5 s window at 100/s:"
            f" {min(totals, default=0)}–{max(totals, default=0)})",
        )
    finally:
        sim.stop()
        stack.close()


HOSTILE = [
    "duration=" + "9" * 10_000 + "s&dimension=likes",
    "duration=5m&dimension=" + "x" * 10_000,
    "duration=%F0%9F%92%A9&dimension=%E2%80%AE",
    "duration=%00%01%02&dimension=likes%00",
    "duration=%ZZ&dimension=%",
    "duration=5m&dimension=likes&" + "&".join(f"p{i}=%FF" for i in range(500)),
    "duration=５m&dimension=ｌｉｋｅｓ",
    "duration[]=5m&dimension[$ne]=1",
    "duration=5m;DROP TABLE ingestion_post&dimension=likes'--",
]


def hostile(url: str, examples: int = 300, slow_clients: int = 20) -> None:
    """5. Generated and hand-made garbage, long lines and slow clients against gunicorn."""
    stack = Stack(url, REALTIME_MAX_DURATION="5s")
    try:
        web = stack.web()
        fuzz = subprocess.run(
            [str(ROOT / ".venv" / "bin" / "schemathesis"), "run", str(ROOT / "openapi.yaml"),
             "--url", web, "--max-examples", str(examples), "--checks",
             "not_a_server_error,status_code_conformance,content_type_conformance,"
             "response_schema_conformance", "--no-color"],
            capture_output=True, text=True, timeout=900,
        )  # fmt: skip
        summary = [line for line in fuzz.stdout.splitlines() if re.search(r"\d+ (passed|failed)",
                                                                       line)]  # fmt: skip
        slow = []
        for _ in range(slow_clients):  # each sends a request line and then nothing
            sock = socket.create_connection(("127.0.0.1", int(web.rsplit(":", 1)[1])))
            sock.sendall(b"GET /analysis?duration=2m&dimension=likes HTTP/1.1\r\nHost: x\r\n")
            slow.append(sock)
        answers = [get(f"{web}/analysis?{query}") for query in HOSTILE]
        served = [get(f"{web}/healthz", timeout=5).status_code for _ in range(20)]
        not_found = get(f"{web}/nope")
        for sock in slow:
            sock.close()
        fuzz_result = summary[-1].strip() if summary else fuzz.stdout[-300:]
        # Request lines over 8 KB get gunicorn's own 414 before reaching the API.
        bad = [r for r in answers if r.status_code is None or r.status_code >= 500
               or "Traceback" in r.text or r.status_code != 414 and not r.headers.get(
                   "Content-Type", "").startswith("application/json")]  # fmt: skip
        verdict(
            "5 hostile input",
            fuzz.returncode == 0
            and not bad
            and served == [200] * 20
            and not_found.json() == {"error": "/nope is not a route: use GET /analysis"},
            f"schemathesis {examples} examples: {fuzz_result} (exit {fuzz.returncode});"
            f" {len(HOSTILE)} hostile queries (10 KB lines, unicode, NUL, bad escapes) →"
            f" {dict(Counter(r.status_code for r in answers))} (414 for lines over 8 KB,"
            f" JSON otherwise), {len(bad)} bad, no trace; {slow_clients} stalled"
            f" clients held while 20 other requests were served; DEBUG off (404 is JSON)",
        )
    finally:
        stack.close()


def tree_rss(process: subprocess.Popen) -> float:
    root = psutil.Process(process.pid)
    return sum(p.memory_info().rss for p in [root, *root.children(recursive=True)]) / 2**20


def soak(url: str, minutes: float = 10, rate: float = 2000) -> None:
    """6. 10 minutes at 2,000 posts/s with RETENTION=2m and 1-minute partitions."""
    sim = StreamSimulator(rate=rate, seed=6)
    sim.start()
    stack = Stack(url, RETENTION="2m", PARTITION_INTERVAL="1m", ANALYSIS_MAX_DURATION="2m")
    try:
        # The migration made hourly partitions: drop them (empty) so minute ones start now.
        for (name,) in sql(url, "SELECT inhrelid::regclass::text FROM pg_inherits"
                                " WHERE inhparent = 'ingestion_post'::regclass"):  # fmt: skip
            sql(url, f'DROP TABLE "{name}"')
        sql(url, "UPDATE django_q_schedule SET minutes = 1, next_run = now()")
        collector = stack.start("collector", "collect_stream", "--url", sim.url)
        scheduler = stack.start("scheduler", "qcluster")
        samples, oldest_ages, started = [], [], time.monotonic()
        while time.monotonic() - started < minutes * 60:
            time.sleep(10)
            samples.append((tree_rss(collector), tree_rss(scheduler)))
            age = sql(url, "SELECT extract(epoch FROM now() - min(arrived_at)) FROM ingestion_post")
            oldest_ages.append(float(age[0][0] or 0))
            print(f"  {time.monotonic() - started:4.0f} s: collector {samples[-1][0]:.0f} MB,"
                  f" scheduler {samples[-1][1]:.0f} MB, oldest row {oldest_ages[-1]:.0f} s",
                  flush=True)  # fmt: skip
        runs = sql(url, "SELECT count(*) FROM django_q_task WHERE func LIKE %s AND success",
                   "%prune_posts_task")[0][0]  # fmt: skip
        partitions = sql(url, "SELECT count(*) FROM pg_inherits WHERE inhparent ="
                              " 'ingestion_post'::regclass")[0][0]  # fmt: skip
        recent = sql(url, "SELECT count(*) FROM ingestion_post WHERE arrived_at > now() - '90s'"
                          "::interval")[0][0]  # fmt: skip
        code = drain(stack, sim, collector)
        warm = samples[min(5, len(samples) - 1)]
        growth = [last - first for first, last in zip(warm, samples[-1], strict=True)]
        # A partition is dropped once it lies entirely before now - 2 min, by a run every
        # minute: the oldest row is at most 2 + 1 + 1 minutes old (+ a run's duration).
        worst = max(oldest_ages[len(oldest_ages) // 3 :])
        verdict(
            "6 soak",
            code == 0
            and max(growth) < 20
            and worst <= 260
            and runs >= minutes - 2
            and recent >= rate * 80,
            f"{minutes:.0f} min at {rate:.0f} posts/s: RSS collector {warm[0]:.0f}→"
            f"{samples[-1][0]:.0f} MB, scheduler {warm[1]:.0f}→{samples[-1][1]:.0f} MB;"
            f" {runs} maintenance runs; oldest row at most {worst:.0f} s old (retention 120 s,"
            f" 60 s partitions); {partitions} partitions at the end; last 90 s: {recent:,} rows",
        )
    finally:
        sim.stop()
        stack.close()


# --- hostile drills (issue 14) ---------------------------------------------------------


def hostile_script(first: int, posts: int, flood_mb: int) -> Callable[[int], Iterator[bytes]]:
    """Connection 1: posts, a 50 MB data: line, posts, then data: lines without end (flood_mb
    MB of them, then a hang-up); later connections: posts, then keepalives. Post ids from
    `first`, numbered across connections."""

    def post(number: int) -> bytes:
        return b'data: {"tweet": {"id": %d, "timestamp": %d, "likes": %d}}\n\n' % (
            number, int(time.time()), number)  # fmt: skip

    def script(connection: int) -> Iterator[bytes]:
        if connection == 1:
            yield b"".join(post(first + i) for i in range(posts))
            yield b"data: "
            yield from (b"x" * 2**16 for _ in range(50 * 16))  # one 50 MB line
            yield b"\n\n" + b"".join(post(first + posts + i) for i in range(posts))
            yield from (b"data: x\n" * 8192 for _ in range(flood_mb * 16))  # no blank line
            return
        yield b"".join(post(first + 2 * posts + i) for i in range(posts))
        while True:
            time.sleep(0.5)
            yield b": keepalive\n\n"

    return script


def oversized(url: str, posts: int = 100, flood_mb: int = 200) -> None:
    """7. An upstream sends a 50 MB data: line, then data: lines without end; realtime too."""
    upstream = ScriptedUpstream(hostile_script(1, posts, flood_mb)).start()
    live = ScriptedUpstream(hostile_script(1, posts, flood_mb)).start()
    stack = Stack(url, STREAM_MAX_EVENT_BYTES=str(2**20))
    port = free_port()
    try:
        metrics_at = ("--metrics-port", str(port), "--metrics-host", "127.0.0.1")
        collector = stack.start("collector", "collect_stream", "--url", upstream.url, *metrics_at)
        peak, started, rows = 0.0, time.monotonic(), 0
        while rows < 3 * posts and time.monotonic() - started < 180:
            peak = max(peak, tree_rss(collector))
            rows = sql(url, "SELECT count(*) FROM ingestion_post")[0][0]
            time.sleep(0.1)
        metrics = get(f"http://127.0.0.1:{port}/metrics").text
        found = re.search(r'collector_events_rejected_total\{reason="too_large"\} (\S+)', metrics)
        too_large = int(float(found[1])) if found else 0
        ids = sorted(row[0] for row in sql(url, "SELECT upstream_id FROM ingestion_post"))
        web = stack.web(STREAM_URL=live.url, ANALYSIS_MIN_DURATION="1s")
        web_process = stack.processes[-1][1]
        with ThreadPoolExecutor(1) as pool:
            asked = pool.submit(get, f"{web}/analysis?duration=15s&dimension=likes", 60)
            web_peak = 0.0
            while not asked.done():
                web_peak = max(web_peak, tree_rss(web_process))
                time.sleep(0.1)
        answer = asked.result()
        counted = answer.json().get("total_posts") if answer.status_code == 200 else None
        code = stack.stop(collector)
        verdict(
            "7 oversized upstream events",
            code == 0
            and peak < 150
            and too_large >= 2
            and ids == list(range(1, 3 * posts + 1))
            and web_peak < 150
            and counted == 3 * posts,
            f"collector: peak RSS {peak:.0f} MB (limit 150) over a 50 MB line and {flood_mb} MB"
            f' of data: lines without a blank line; rejected{{reason="too_large"}} {too_large};'
            f" {len(ids)} of {3 * posts} valid posts stored, those after the oversized events"
            f" included; exit {code}. Realtime 15 s window on the same upstream:"
            f" {answer.status_code}, {counted} posts counted of {3 * posts} sent, web peak RSS"
            f" {web_peak:.0f} MB",
        )
    finally:
        upstream.stop()
        live.stop()
        stack.close()


def login_page(session: requests.Session, base: str) -> tuple[int, str]:
    page = session.get(f"{base}/admin/login/", timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    return page.status_code, token[1] if token else ""


def login(session: requests.Session, base: str, password: str) -> requests.Response:
    _, token = login_page(session, base)
    return session.post(f"{base}/admin/login/?next=/admin/", timeout=10, allow_redirects=False,
                        data={"username": "admin", "password": password,
                              "csrfmiddlewaretoken": token})  # fmt: skip


def from_address(address: str) -> requests.Session:
    """A session whose connections come from `address` (another loopback address)."""
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter()
    adapter.init_poolmanager(10, 10, source_address=(address, 0))
    session.mount("http://", adapter)
    return session


def lockout(url: str, attempts: int = 30, limit: int = 5) -> None:
    """8. 30 wrong admin passwords from one address, then the right one; another address."""
    stack = Stack(url, ADMIN_LOGIN_FAILURE_LIMIT=str(limit), ADMIN_LOGIN_COOLOFF="15m")
    try:
        manage("createsuperuser", "--noinput", "--username", "admin", "--email",
               "admin@example.com", database_url=url, stdout=subprocess.DEVNULL,
               env={"DJANGO_SUPERUSER_PASSWORD": "right-horse-battery"})  # fmt: skip
        web = stack.web()
        attacker, other = from_address("127.0.0.1"), from_address("127.0.0.2")
        wrong = [login(attacker, web, f"guess-{i}").status_code for i in range(attempts)]
        refused = login(attacker, web, "right-horse-battery")
        right_while_locked = refused.status_code
        note = refused.text.split('class="errornote">')[-1].split("</p>")[0]
        message = " ".join(html.unescape(re.sub(r"<[^>]+>", "", note)).split())
        form_status, token = login_page(other, web)
        other_login = login(other, web, "right-horse-battery").status_code
        recorded = sql(url, "SELECT host(ip_address), failures_since_start FROM axes_accessattempt")
        manage("axes_reset_username", "admin", database_url=url, stdout=subprocess.DEVNULL)
        after_unlock = login(attacker, web, "right-horse-battery").status_code
        locked_at = wrong.index(429) + 1 if 429 in wrong else None
        verdict(
            "8 admin lockout",
            locked_at == limit
            and set(wrong[limit:]) == {429}
            and right_while_locked == 429
            and form_status == 200
            and bool(token)
            and other_login == 302
            and after_unlock == 302
            and "Login locked" in message,
            f"{attempts} wrong passwords from 127.0.0.1: {dict(Counter(wrong))}, locked at"
            f" attempt {locked_at} (limit {limit}); right password while locked: "
            f"{right_while_locked} ({message!r}); 127.0.0.2 gets the form ({form_status})"
            f" and logs in ({other_login}); recorded {recorded}; after axes_reset_username:"
            f" {after_unlock}",
        )
    finally:
        stack.close()


def flood(url: str, requests_sent: int = 2000, threads: int = 8, rate: str = "600/min") -> None:
    """9. One client floods two web processes as fast as it can; another asks once a second."""
    sim = StreamSimulator(rate=200)
    sim.start()
    stack = Stack(url, ANALYSIS_RATE_LIMIT=rate)
    try:
        collector = stack.start("collector", "collect_stream", "--url", sim.url)
        webs = [stack.web(), stack.web()]
        wait_for(lambda: sql(url, "SELECT count(*) FROM ingestion_post")[0][0] > 500, 30, "posts")
        flooder, polite = from_address("127.0.0.1"), from_address("127.0.0.2")
        query = "/analysis?duration=1h&dimension=likes"
        done = False

        def flood_one(i: int) -> tuple[int | None, bool]:
            try:
                r = flooder.get(f"{webs[i % 2]}{query}", timeout=30)
            except requests.RequestException:
                return None, False
            shaped = r.status_code != 429 or (
                r.headers.get("Retry-After", "").isdigit() and "error" in r.json()
            )
            return r.status_code, shaped

        def politely() -> list[int | None]:
            statuses = []
            while not done or len(statuses) < 10:
                try:
                    statuses.append(polite.get(f"{webs[len(statuses) % 2]}{query}",
                                               timeout=30).status_code)  # fmt: skip
                except requests.RequestException:
                    statuses.append(None)
                time.sleep(1)
            return statuses

        with ThreadPoolExecutor(threads + 1) as pool:
            other = pool.submit(politely)
            started = time.monotonic()
            flooded = list(pool.map(flood_one, range(requests_sent)))
            seconds = time.monotonic() - started
            done = True
            polite_statuses = other.result()
        statuses = Counter(status for status, _ in flooded)
        unshaped = sum(1 for status, shaped in flooded if not shaped)
        server_errors = [s for s in [*statuses, *polite_statuses] if s is None or s >= 500]
        allowed = int(rate.split("/")[0])
        stack.stop(collector)
        verdict(
            "9 flood",
            statuses[429] > 0
            and unshaped == 0
            and set(polite_statuses) == {200}
            and not server_errors
            and statuses[200] <= allowed * 1.1,
            f"{requests_sent} requests from 127.0.0.1 in {seconds:.1f} s"
            f" ({requests_sent / seconds:.0f}/s) spread over 2 web processes, limit {rate}:"
            f" {dict(statuses)} ({statuses[200]} let through in all: one count shared through"
            f" PostgreSQL), every 429 JSON with Retry-After; 127.0.0.2 once a second:"
            f" {dict(Counter(polite_statuses))}; 5xx or failed: {len(server_errors)}",
        )
    finally:
        sim.stop()
        stack.close()


def slowloris(url: str, idle: int = 200, seconds: float = 30) -> None:
    """10. 200 connections that trickle a request's headers and never finish them."""
    stack = Stack(url)
    # The connections the worker serves at once, as gunicorn.conf.py reads them from the
    # environment; a trickling connection holds one.
    connections = runpy.run_path(str(ROOT / "gunicorn.conf.py"))["worker_connections"]
    try:
        web = stack.web()
        port = int(web.rsplit(":", 1)[1])
        held = []
        for _ in range(idle):
            sock = socket.create_connection(("127.0.0.1", port))
            sock.sendall(b"GET /analysis?duration=2m&dimension=likes HTTP/1.1\r\nHost: x\r\n")
            held.append(sock)
        served, latencies, started = [], [], time.monotonic()
        while time.monotonic() - started < seconds:
            for sock in held:  # one more header line each, as slowloris does
                with contextlib.suppress(OSError):
                    sock.sendall(b"X-Slow: %d\r\n" % len(served))
            for path in ("/healthz", "/analysis?duration=1h&dimension=likes"):
                t = time.monotonic()
                served.append(get(f"{web}{path}", timeout=10).status_code)
                latencies.append(time.monotonic() - t)
            time.sleep(1)
        still_open = sum(1 for sock in held if is_open(sock))
        for sock in held:
            sock.close()
        latencies.sort()
        verdict(
            "10 slowloris",
            set(served) <= {200, 404} and None not in served and latencies[-1] < 2,
            f"gunicorn as in compose ({connections} connections); {idle} connections trickling"
            " headers"
            f" for {seconds:.0f} s ({still_open} still open"
            f" at the end); meanwhile {len(served)} normal requests: {dict(Counter(served))}"
            f" (404: no post in the hour), latency median"
            f" {latencies[len(latencies) // 2] * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms",
        )
    finally:
        stack.close()


def is_open(sock: socket.socket) -> bool:
    """Whether the server has not closed the connection (nothing to read, no EOF)."""
    sock.setblocking(False)
    try:
        return sock.recv(1, socket.MSG_PEEK) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False


def production_settings() -> dict[str, str]:
    """The HTTPS settings .env.example documents for production behind a TLS proxy."""
    block = (ROOT / ".env.example").read_text().split("production sets")[1].split("\n# DJANGO_")[0]
    return dict(re.findall(r"(DJANGO_[A-Z_]+)=(\S+)", block))


def deploy(url: str) -> None:
    """11. `check --deploy` with the production settings; the web with the development key."""
    checked = manage("check", "--deploy", "--fail-level", "WARNING", database_url=url,
                     env={**production_settings(), "DJANGO_SECRET_KEY": "drill-" + "k" * 50},
                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    check_output = checked.stdout.read().strip()
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SECRET_KEY"}
    refused = subprocess.run(
        [sys.executable, "-m", "gunicorn", "analyzer_project.wsgi", "-c", "gunicorn.conf.py"],
        cwd=ROOT, env={**env, "DATABASE_URL": url, "PORT": str(free_port())},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    message = next((line for line in refused.stderr.splitlines()
                    if line.startswith("DJANGO_SECRET_KEY")), "")  # fmt: skip
    verdict(
        "11 production settings",
        checked.returncode == 0
        and "no issues" in check_output
        and refused.returncode != 0
        and "secrets.token_urlsafe" in message,
        f"check --deploy --fail-level WARNING: {check_output!r} (exit {checked.returncode});"
        f" gunicorn without DJANGO_SECRET_KEY: exit {refused.returncode}, {message[:90]!r}…",
    )


DRILLS = {"flapping": flapping, "database": database, "sigkill": sigkill, "load": load,
          "hostile": hostile, "soak": soak, "oversized": oversized, "lockout": lockout,
          "flood": flood, "slowloris": slowloris, "deploy": deploy}  # fmt: skip


def main() -> None:
    chosen = sys.argv[1:] or list(DRILLS)
    print(f"drills on {machine()}: {', '.join(chosen)}", flush=True)
    for name in chosen:
        with bench_database(f"stream_analyzer_drill_{name}") as url:
            try:
                DRILLS[name](url)
            except Exception as error:  # a drill that crashes is a failed drill
                verdict(name, False, f"{type(error).__name__}: {error}")
    print("\n".join(["", *VERDICTS]))
    sys.exit(0 if all(": PASS" in line for line in VERDICTS) else 1)


if __name__ == "__main__":
    main()
