"""Bulk-load posts spread over the last 24 h through the product's write path (posts_ingest).

Usage: python bench/load.py [--posts 1000000] [--keep NAME]
Posts come from the simulator's EventGenerator (heavy-tailed counts) through parse_event;
a pool of them is cycled with fresh arrival and creation times, as making millions in
Python is slow. Batches go through posts_ingest, so the COPY and the aggregates are written
exactly as the collector writes them. With --keep the database NAME is created (replaced
if present) and kept for bench/historical.py; without, a throw-away one is used.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from common import bench_database, create_database, machine

DAY = timedelta(hours=24)


def make_pool(size: int, seed: int) -> list:
    """Return `size` parsed posts with their creation lag (seconds before arrival)."""
    from ingestion.parser import parse_event
    from ingestion.simulator import EventGenerator

    generator, now = EventGenerator(seed=seed), int(time.time())
    pool = []
    for _ in range(size):
        post = parse_event(generator.next_data()[0])
        pool.append((post, max(0, now - post.created_ts)))
    return pool


def batches(
    pool: list, *, total: int, start: datetime, size: int, span: timedelta = DAY
) -> Iterator[list]:
    """Yield batches of (arrival, post): arrivals in order, evenly spread with jitter."""
    step, rng = span / total, random.Random(1)
    batch = []
    for i in range(total):
        post, lag = pool[i % len(pool)]
        arrived_at = start + step * (i + rng.random())
        created = int(arrived_at.timestamp()) - lag
        batch.append((arrived_at, dataclasses.replace(post, created_ts=created)))
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def load(total: int, *, pool_size: int, batch_size: int, span: timedelta = DAY) -> float:
    """Load `total` posts arriving over the `span` before now; return posts/s."""
    from ingestion.partitions import ensure_partitions
    from ingestion.services import posts_ingest

    started = time.monotonic()
    pool = make_pool(min(pool_size, total), seed=7)
    print(f"pool of {len(pool):,} posts made in {time.monotonic() - started:.1f} s", flush=True)
    start = datetime.now(UTC) - span
    ensure_partitions(now=start, ahead=span + timedelta(hours=2))
    loaded, started, shown = 0, time.monotonic(), time.monotonic()
    for batch in batches(pool, total=total, start=start, size=batch_size, span=span):
        loaded += posts_ingest(posts=batch)
        if time.monotonic() - shown >= 5 or loaded == total:
            shown, elapsed = time.monotonic(), time.monotonic() - started
            print(f"  {loaded:>10,} posts, {loaded / elapsed:,.0f} posts/s", flush=True)
    return loaded / (time.monotonic() - started)


SIZES = """
    SELECT 'posts (all partitions, heap)', sum(pg_relation_size(c.oid))
    FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'ingestion_post'::regclass
    UNION ALL
    SELECT 'index ' || regexp_replace(ci.relname, '^ingestion_post_p[0-9_]+', '…'),
           sum(pg_relation_size(ci.oid))
    FROM pg_inherits i JOIN pg_index x ON x.indrelid = i.inhrelid
    JOIN pg_class ci ON ci.oid = x.indexrelid
    WHERE i.inhparent = 'ingestion_post'::regclass GROUP BY 1
    UNION ALL
    SELECT relname || ' (with indexes)', pg_total_relation_size(oid) FROM pg_class
    WHERE relname IN ('ingestion_bucketcount', 'ingestion_secondcount',
                      'ingestion_periodsummary')
    ORDER BY 1
"""


def report_sizes(*, vacuum: bool) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        started = time.monotonic()
        # What autovacuum does to an insert-only table: the visibility map lets the
        # percentile lookups be index-only scans; fresh statistics for the planner.
        cursor.execute("VACUUM ANALYZE" if vacuum else "ANALYZE")
        print(f"{'VACUUM ' if vacuum else ''}ANALYZE: {time.monotonic() - started:.1f} s")
        for table in ("bucketcount", "secondcount", "periodsummary"):
            cursor.execute(f"SELECT count(*) FROM ingestion_{table}")
            print(f"ingestion_{table} rows: {cursor.fetchone()[0]:,}")
        cursor.execute(SIZES)
        for name, size in cursor.fetchall():
            print(f"  {name:<58} {size / 2**20:>9,.1f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=1_000_000)
    parser.add_argument("--keep", metavar="NAME", help="load into database NAME and keep it")
    parser.add_argument("--pool", type=int, default=200_000, help="distinct posts to cycle")
    parser.add_argument("--batch", type=int, default=20_000, help="posts per posts_ingest")
    parser.add_argument(
        "--no-vacuum", action="store_true", help="only ANALYZE: no visibility map yet"
    )
    options = parser.parse_args()
    print(f"load benchmark on {machine()}: {options.posts:,} posts over 24 h")
    # --keep: a database left for bench/historical.py; otherwise a throw-away one.
    database = (
        contextlib.nullcontext(create_database(options.keep))
        if options.keep
        else bench_database("stream_analyzer_bench_load")
    )
    with database as url:
        os.environ["DATABASE_URL"] = url
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "analyzer_project.settings")
        import django

        django.setup()
        rate = load(options.posts, pool_size=options.pool, batch_size=options.batch)
        print(f"loaded {options.posts:,} posts at {rate:,.0f} posts/s (posts_ingest, COPY)")
        report_sizes(vacuum=not options.no_vacuum)
        from django.db import connection

        connection.close()


if __name__ == "__main__":
    main()
