"""The web process's Prometheus metrics, served at /metrics."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

REQUESTS = Counter(
    "analysis_requests", "/analysis requests by mode and status.", ["mode", "status"]
)
LATENCY = Histogram(
    "analysis_request_seconds",
    "/analysis latency by mode.",
    ["mode"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 90),
)
REALTIME_IN_USE = Gauge("analysis_realtime_sessions_in_use", "Realtime windows open now.")
