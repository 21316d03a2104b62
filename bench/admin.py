"""Admin at scale: the posts list, filtered, searched and paged, over 10 million rows.

Usage: python bench/admin.py [--rows 10000000] [--runs 5]
Loads the rows into a fresh database with INSERT ... SELECT generate_series, one statement
per hour of the last 24 h (the SPEC's types and shares, heavy-tailed metrics, arrival
order as a stream makes it), ANALYZEs, then renders each page through Django's test
Client as a superuser: prints the median of the runs, and the plan of each page's query.
"""

from __future__ import annotations

import argparse
import os
import re
import time
from datetime import timedelta

from common import bench_database, machine, median

from ingestion.parser import POST_TYPES

# Upper bounds of the cumulative shares of POST_TYPES (20, 8, 8, 12, 25, 8, 6, 3, 10 %).
SHARES = (0.20, 0.28, 0.36, 0.48, 0.73, 0.81, 0.87, 0.90)
PHRASES = ("Wishing for summer", "café au lait ☕", "東京の夜景 🌃", "link in bio 👇", "#ootd", "")

# Heavy-tailed counts: e**(mu + 2.2 * N(0, 1)), N by Box-Muller (PostgreSQL 15 has no
# random_normal()). Each random() is drawn per row: a subquery with volatile outputs is
# never flattened.
HEAVY = "floor(exp({mu} + 2.2 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())))::bigint"
LOAD = f"""
INSERT INTO ingestion_post (arrived_at, post_type, upstream_id, post_id, created_ts,
                            likes, comments, favorites, retweets, metrics, text, link)
SELECT arrived_at, post_type, upstream_id, post_id,
       extract(epoch FROM arrived_at)::bigint - age,
       CASE WHEN post_type NOT IN ('tweet', 'article', 'twitch_stream') THEN likes END,
       CASE WHEN post_type NOT IN ('article', 'twitch_stream') THEN comments END,
       CASE WHEN post_type = 'tweet' THEN likes END,
       CASE WHEN post_type = 'tweet' THEN retweets END,
       CASE WHEN post_type IN ('instagram_media', 'youtube_video', 'story')
            THEN jsonb_build_object('views', views) ELSE '{{}}' END,
       text, 'https://example.com/p/' || post_id
FROM (
    SELECT %(start)s::timestamptz + i * %(step)s::interval AS arrived_at,
           (%(types)s::text[])[width_bucket(random(), %(shares)s::float8[]) + 1] AS post_type,
           floor(random() * 1e9)::bigint AS upstream_id,
           (1e17 + floor(random() * 9e17))::bigint::text AS post_id,
           floor(random() * 86400 * 7)::bigint AS age,
           {HEAVY.format(mu=3.5)} AS likes,
           {HEAVY.format(mu=1.0)} AS comments,
           {HEAVY.format(mu=1.0)} AS retweets,
           {HEAVY.format(mu=6.0)} AS views,
           (%(phrases)s::text[])[1 + floor(random() * %(phrase_count)s)::int] AS text
    FROM generate_series(0, %(rows)s - 1) AS i
) AS generated
"""


def load(rows: int) -> float:
    """Fill the last 24 h with `rows` posts, then ANALYZE; return the seconds it took."""
    from django.db import connection
    from django.utils import timezone

    from ingestion.partitions import ensure_partitions

    start = timezone.now() - timedelta(hours=24)
    ensure_partitions(now=start, ahead=timedelta(hours=26))
    started = time.monotonic()
    with connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
        for hour in range(24):  # one statement per hour of arrivals, up to now
            done = rows * (hour + 1) // 24
            count = done - rows * hour // 24
            cursor.execute(
                LOAD,
                {
                    "start": start + timedelta(hours=hour),
                    "step": timedelta(hours=1) / count,
                    "rows": count,
                    "types": list(POST_TYPES),
                    "shares": list(SHARES),
                    "phrases": list(PHRASES),
                    "phrase_count": len(PHRASES),
                },
            )
            print(f"  loaded {done:>10,} rows in {time.monotonic() - started:.0f} s")
        cursor.execute("ANALYZE ingestion_post")
    return time.monotonic() - started


def plan(sql: str) -> str:
    """EXPLAIN ANALYZE sql; one line per kind of node, its partitions and rows added up."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) {sql}")
        lines = [row[0] for row in cursor.fetchall()]
    nodes: dict[str, list[int]] = {}  # node -> [how many, rows]
    timings = []
    for line in lines:
        if line.startswith(("Planning", "Execution")):
            timings.append(f"    {line}")
        elif "->" in line or not line[:1].isspace():  # a node, not a Sort Key, Filter...
            node, _, stats = line.partition(" (")
            node = re.sub(r"_p\d{8}_\d{2}( ingestion_post_\d+)?", "_p*", node)
            rows = re.search(r"actual rows=(\d+) loops=(\d+)", stats)
            counts = nodes.setdefault(node, [0, 0])
            counts[0] += 1
            counts[1] += int(rows[1]) * int(rows[2]) if rows else 0
    body = [
        f"    {node}  [{rows:,} rows" + (f" from {n} partitions]" if n > 1 else "]")
        for node, (n, rows) in nodes.items()
    ]
    return "\n".join(body + timings)


def measure(client, url: str, runs: int) -> tuple[float, str]:
    """Render url runs times after one warm-up; return the median seconds and the plan."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    # The page's rows: the SELECT of ingestion_post that is not a count. Read now: every
    # request start empties the connection's query log.
    page_query = next(
        q["sql"]
        for q in queries
        if q["sql"].startswith("SELECT")
        and 'FROM "ingestion_post"' in q["sql"]
        and "COUNT(" not in q["sql"]
    )
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        assert client.get(url).status_code == 200
        timings.append(time.perf_counter() - started)
    return median(timings), page_query


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args()
    print(f"admin benchmark on {machine()}")
    with bench_database("stream_analyzer_bench_admin") as url:
        os.environ["DATABASE_URL"] = url
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "analyzer_project.settings")
        import django

        django.setup()
        from django.contrib.auth.models import User
        from django.db import connection
        from django.test import Client

        from ingestion.models import Post

        seconds = load(options.rows)
        print(f"loaded {options.rows:,} rows and analyzed in {seconds:.0f} s")
        client = Client()
        client.force_login(User.objects.create_superuser("bench", password="unused"))
        sample = Post.objects.filter(post_type="pin").only("pk", "post_id").first()
        pages = {
            "list": "",
            "filtered by type (pin)": "?type=pin",
            "filtered by arrival (1 h)": "?arrived=1h",
            "type + arrival, page 50": "?type=twitch_stream&arrived=6h&p=50",
            "rare type (3 %), page 500": "?type=twitch_stream&p=500",
            "a type with no posts": "?type=vine",
            "page 500": "?p=500",
            "search by post_id": f"?q={sample.post_id}",
        }
        results = []
        for name, query in pages.items():
            seconds, sql = measure(client, f"/admin/ingestion/post/{query}", options.runs)
            results.append((name, seconds))
            print(f"{name}: median {seconds * 1000:.0f} ms\n{plan(sql)}")
        seconds, _ = measure(client, f"/admin/ingestion/post/{sample.pk}/change/", options.runs)
        results.append(("detail", seconds))
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_size_pretty(sum(pg_total_relation_size(inhrelid))) FROM pg_inherits"
                " WHERE inhparent = 'ingestion_post'::regclass"
            )
            print(f"size of the partitions with their indexes: {cursor.fetchone()[0]}")
        print(f"\nmedian of {options.runs} renders, {options.rows:,} rows:")
        for name, seconds in results:
            print(f"  {name:<28} {seconds * 1000:7.0f} ms")


if __name__ == "__main__":
    main()
