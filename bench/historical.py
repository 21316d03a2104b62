"""Historical /analysis latency next to the single percentile_disc statement, same rows.

Usage: python bench/historical.py --database NAME [--runs 5]
       python bench/historical.py --stream-rate 10000 [--preload 6m] [--runs 5]
With --database, NAME is a database loaded by `bench/load.py --keep NAME`, and the clock is
pinned just after the newest post. With --stream-rate, a throw-away database gets
`--preload` worth of posts at that rate (bench/load.py's loader), then `simulate_stream`
and `collect_stream` run at that rate while the windows are asked, the clock pinned 3 s in
the past at each call so that every row of the window is committed. Either way both paths
see the same rows; every answer of /analysis (Django's test Client, the whole view) is
compared with the reference statement, and any difference is printed and makes the exit
status 1. With --database, the series of SERIES (/v1/analysis/series) are timed too, each
point compared with the reference statement over its interval.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from unittest import mock

from common import bench_database, free_port, machine, manage, median, server_url, with_database

from analyzer_project.durations import parse_duration
from ingestion.parser import DIMENSIONS

WINDOWS = ("5m", "1h", "6h", "24h")
STREAM_WINDOWS = ("2m", "5m", "1h", "24h")
SERIES = (("24h", "1h"), ("6h", "10m"), ("1h", "1m"))  # duration, step


def timed(call: Callable[[], object], runs: int) -> tuple[float, object]:
    """Return the median milliseconds of `runs` calls (after one warm-up) and the result."""
    result = call()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        result = call()
        times.append((time.perf_counter() - started) * 1000)
    return median(times), result


@dataclass(frozen=True)
class Case:
    """One /v1/analysis query: a window, its dimensions, percentiles and post types."""

    window: str
    dimensions: tuple[str, ...]
    percentiles: tuple[str, ...] = ("50", "90", "99")
    post_types: tuple[str, ...] = ()

    @property
    def query(self) -> str:
        query = f"duration={self.window}&dimension={','.join(self.dimensions)}"
        if self.percentiles != Case.percentiles:
            query += f"&percentiles={','.join(self.percentiles)}"
        if self.post_types:
            query += f"&post_type={','.join(self.post_types)}"
        return query

    def __str__(self) -> str:
        return f"{self.window:>4} {self.query.partition('&dimension=')[2]:<9}"


# The new questions of the stored-data benchmark: a common post type, every dimension at
# once, six percentiles.
BREADTH = (
    Case("24h", ("likes",), post_types=("instagram_media",)),
    Case("24h", ("comments",), post_types=("tweet",)),
    Case("24h", DIMENSIONS),
    Case("24h", ("likes",), ("50", "75", "90", "95", "99", "99.9")),
)


def expected_answer(case: Case, now: datetime) -> tuple[int, dict]:
    from analysis.historical import post_percentiles_reference
    from analysis.percentiles import Percentile

    requested = [Percentile.parse(p) for p in case.percentiles]
    body, carried_any = {}, False
    for dimension in case.dimensions:
        total, minimum, maximum, carried, values = post_percentiles_reference(
            dimension=dimension,
            duration=parse_duration(case.window),
            now=now,
            requested=requested,
            post_types=case.post_types,
        )
        body |= {"total_posts": total, "minimum_timestamp": minimum, "maximum_timestamp": maximum}
        carried_any |= bool(carried)
        for percentile, value in zip(requested, values or [None] * len(requested), strict=True):
            body[f"{dimension}_{percentile.name}"] = value
    return (200, body) if carried_any else (404, {})


def compare(case: Case, clock: Callable[[], datetime], runs: int) -> bool:
    """Time both paths for one query; print a line; return whether the answers are equal.

    Each timed /v1/analysis call reads the clock once; its answer is checked against the
    reference statements for that same `now`.
    """
    from django.test import Client

    client, differences = Client(), []
    api_ms, raw_ms, posts = [], [], 0
    for _ in range(runs + 1):  # the first is a warm-up
        now = clock()
        with mock.patch("django.utils.timezone.now", return_value=now):
            started = time.perf_counter()
            response = client.get(f"/v1/analysis?{case.query}")
            api_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        expected = expected_answer(case, now)
        raw_ms.append((time.perf_counter() - started) * 1000)
        got = (response.status_code, response.json() if response.status_code == 200 else {})
        posts = expected[1].get("total_posts", 0)
        if got != expected:
            differences.append(f"     now {now}: /analysis {got}\n     reference: {expected}")
    api, raw = median(api_ms[1:]), median(raw_ms[1:])
    print(
        f"{case} /analysis {api:8.1f} ms   percentile_disc {raw:8.1f} ms"
        f"   ×{raw / api:6.1f}   {'DIFFERENT' if differences else 'same'}   n={posts:,}",
        flush=True,
    )
    print("\n".join(differences), end="\n" if differences else "")
    return not differences


def expected_point(dimension: str, start: datetime, end: datetime) -> dict:
    """A series point by the reference statement over (start, end]."""
    from analysis.historical import post_percentiles_reference
    from analysis.percentiles import DEFAULT_PERCENTILES

    total, minimum, maximum, carried, values = post_percentiles_reference(
        dimension=dimension, duration=end - start, now=end
    )
    names = [f"{dimension}_{p.name}" for p in DEFAULT_PERCENTILES]
    point = {"start": int(start.timestamp()), "end": int(end.timestamp()), "total_posts": total}
    point |= {"minimum_timestamp": minimum, "maximum_timestamp": maximum}
    return point | dict(zip(names, values if carried else [None] * len(names), strict=True))


def compare_series(duration: str, step: str, dimension: str, now: datetime, runs: int) -> bool:
    """Time /v1/analysis/series; compare each point with the reference over its interval."""
    from django.test import Client

    client, answers, api_ms = Client(), [], []
    query = f"/v1/analysis/series?duration={duration}&step={step}&dimension={dimension}"
    for _ in range(runs + 1):  # the first is a warm-up
        with mock.patch("django.utils.timezone.now", return_value=now):
            started = time.perf_counter()
            response = client.get(query)
            api_ms.append((time.perf_counter() - started) * 1000)
        answers.append(response.json()["points"] if response.status_code == 200 else response)
    started = time.perf_counter()
    expected = [
        expected_point(
            dimension, *(datetime.fromtimestamp(p[key], UTC) for key in ("start", "end"))
        )
        for p in answers[0]
    ]
    raw = (time.perf_counter() - started) * 1000
    differences = [
        f"     {got}\n     reference: {want}"
        for answer in answers
        for got, want in zip(answer, expected, strict=True)
        if got != want
    ]
    api = median(api_ms[1:])
    print(
        f"series {duration:>3}/{step:<3} {dimension:<9} {api:8.1f} ms   percentile_disc per point"
        f" {raw:8.1f} ms   {len(expected)} points   {'DIFFERENT' if differences else 'same'}"
        f"   n={sum(p['total_posts'] for p in expected):,}",
        flush=True,
    )
    print("\n".join(differences), end="\n" if differences else "")
    return not differences


def run(cases: Iterable[Case], clock: Callable[[], datetime], runs: int) -> bool:
    results = [compare(case, clock, runs) for case in cases]
    if not all(results):
        print(f"{results.count(False)} answer(s) differ from percentile_disc")
    return all(results)


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "analyzer_project.settings")
    import django

    django.setup()


def stored(runs: int) -> bool:
    """Windows over a loaded database, the clock just after its newest post."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT max(arrived_at), count(*) FROM ingestion_post")
        newest, posts = cursor.fetchone()
    now = newest + timedelta(milliseconds=500)
    print(f"historical benchmark on {machine()}: {posts:,} posts, median of {runs} runs")
    cases = [Case(window, (dimension,)) for window in WINDOWS for dimension in DIMENSIONS]
    ok = run([*cases, *BREADTH], lambda: now, runs)
    series = [
        compare_series(duration, step, dimension, now, runs)
        for duration, step in SERIES
        for dimension in DIMENSIONS
    ]
    if not all(series):
        print(f"{series.count(False)} series differ from percentile_disc")
    return ok and all(series)


@contextlib.contextmanager
def streaming(url: str, rate: int) -> Iterator[None]:
    """Run simulate_stream and collect_stream at `rate` posts/s until the block ends."""
    port, quiet = free_port(), {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    processes = [
        manage("simulate_stream", "--port", str(port), "--rate", str(rate),
               database_url=url, wait=False, **quiet),
        manage("collect_stream", "--url", f"http://127.0.0.1:{port}/stream",
               database_url=url, wait=False, **quiet),
    ]  # fmt: skip
    try:
        yield
    finally:
        for process in reversed(processes):
            process.send_signal(signal.SIGTERM)
            process.wait(30)


def with_stream(rate: int, preload: timedelta, runs: int) -> bool:
    """Windows over `preload` of posts at `rate`, with the stream running at that rate."""
    import load

    with bench_database("sa_bench_historical_stream") as url:
        setup_django(url)
        from django.db import connection

        posts = int(rate * preload.total_seconds())
        load.load(posts, pool_size=50_000, batch_size=20_000, span=preload)
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
        connection.close()
        with streaming(url, rate):
            time.sleep(10)  # the collector connects and reaches its pace
            with connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM ingestion_post")
                stored_posts = cursor.fetchone()[0]
            print(
                f"historical benchmark on {machine()}: {stored_posts:,} posts, a stream of"
                f" {rate:,} posts/s running, median of {runs} runs"
            )
            cases = [Case(w, (dimension,)) for w in STREAM_WINDOWS for dimension in DIMENSIONS]
            ok = run(cases, lambda: datetime.now(UTC) - timedelta(seconds=3), runs)
            with connection.cursor() as cursor:
                cursor.execute("SELECT count(*) FROM ingestion_post")
                print(f"stream: {cursor.fetchone()[0] - stored_posts:,} posts stored meanwhile")
        connection.close()
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--database", help="a database kept by bench/load.py")
    source.add_argument("--stream-rate", type=int, help="posts/s of a running stream")
    parser.add_argument("--preload", default="6m", help="with --stream-rate: data loaded first")
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args()
    if options.database:
        setup_django(with_database(server_url(), options.database))
        ok = stored(options.runs)
    else:
        ok = with_stream(options.stream_rate, parse_duration(options.preload), options.runs)
    if not ok:
        sys.exit(1)
    print("every answer equals percentile_disc")


if __name__ == "__main__":
    main()
