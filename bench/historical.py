"""Historical /analysis latency next to the single percentile_disc statement, same rows.

Usage: python bench/historical.py --database NAME [--runs 5]
NAME is a database loaded by `bench/load.py --keep NAME`. The clock is pinned just after
the newest post, so both paths see the same rows; every answer of /analysis (Django's
test Client, the whole view) is compared with the reference statement, and any
difference is printed and makes the exit status 1.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import timedelta
from unittest import mock

from common import machine, median, server_url, with_database

WINDOWS = {"5m": timedelta(minutes=5), "1h": timedelta(hours=1), "6h": timedelta(hours=6)}
WINDOWS["24h"] = timedelta(hours=24)


def timed(call, runs: int) -> tuple[float, object]:
    """Return the median milliseconds of `runs` calls (after one warm-up) and the result."""
    result = call()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        result = call()
        times.append((time.perf_counter() - started) * 1000)
    return median(times), result


def expected_answer(dimension: str, duration: timedelta, now) -> tuple[int, dict]:
    from analysis.selectors import post_percentiles_reference

    total, minimum, maximum, carried, values = post_percentiles_reference(
        dimension=dimension, duration=duration, now=now
    )
    if not carried:
        return 404, {}
    names = (f"{dimension}_p50", f"{dimension}_p90", f"{dimension}_p99")
    body = {"total_posts": total, "minimum_timestamp": minimum, "maximum_timestamp": maximum}
    return 200, {**body, **dict(zip(names, values, strict=True))}


def compare(label: str, dimension: str, duration: timedelta, now, runs: int) -> bool:
    """Time both paths for one window and dimension; print a line; return whether equal."""
    from django.test import Client

    client = Client()
    api_ms, response = timed(
        lambda: client.get(f"/analysis?duration={label}&dimension={dimension}"), runs
    )
    raw_ms, expected = timed(lambda: expected_answer(dimension, duration, now), runs)
    got = (response.status_code, response.json() if response.status_code == 200 else {})
    same = got == expected
    print(
        f"{label:>4} {dimension:<9} /analysis {api_ms:8.1f} ms   percentile_disc {raw_ms:8.1f} ms"
        f"   ×{raw_ms / api_ms:6.1f}   {'same' if same else 'DIFFERENT'}"
        f"   n={expected[1].get('total_posts', 0):,}",
        flush=True,
    )
    if not same:
        print(f"     /analysis: {got}\n     reference: {expected}")
    return same


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", required=True, help="a database kept by bench/load.py")
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args()
    os.environ["DATABASE_URL"] = with_database(server_url(), options.database)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "analyzer_project.settings")
    import django

    django.setup()
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT max(arrived_at), count(*) FROM ingestion_post")
        newest, posts = cursor.fetchone()
    now = newest + timedelta(milliseconds=500)
    print(f"historical benchmark on {machine()}: {posts:,} posts, median of {options.runs} runs")
    with mock.patch("django.utils.timezone.now", return_value=now):
        results = [
            compare(label, dimension, duration, now, options.runs)
            for label, duration in WINDOWS.items()
            for dimension in ("likes", "comments", "favorites", "retweets")
        ]
    if not all(results):
        sys.exit(f"{results.count(False)} answer(s) differ from percentile_disc")
    print("every answer equals percentile_disc")


if __name__ == "__main__":
    main()
