"""The collector's Prometheus metrics (served on its own port: collect_stream --metrics-port)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

POSTS_INGESTED = Counter("collector_posts_ingested", "Posts committed to the table.")
EVENTS_REJECTED = Counter(
    "collector_events_rejected", "Events that are not posts, by reason.", ["reason"]
)
POSTS_DROPPED = Counter("collector_posts_dropped", "Posts dropped because the buffer was full.")
RECONNECTS = Counter("collector_stream_reconnects", "Reconnections to the upstream stream.")
BATCH_SIZE = Histogram(
    "collector_batch_size",
    "Posts per COPY.",
    buckets=(1, 10, 50, 100, 500, 1000, 2500, 5000, 10000, 50000),
)
FLUSH_SECONDS = Histogram("collector_flush_seconds", "Time to write one batch.")
INGEST_LAG = Gauge(
    "collector_ingest_lag_seconds", "Age of the oldest post of the last batch when committed."
)
BUFFERED = Gauge("collector_buffered_posts", "Posts read and not yet committed.")
BUFFER_FILL = Gauge("collector_buffer_fill_ratio", "Buffered posts / buffer limit.")
LEADING = Gauge("collector_leading", "1 while this collector holds the leader lock.")
