"""Ingestion's readiness: a collector feeds the table, and the current hour has a partition.

/readyz (analysis/health.py) asks every app for its checks; IngestionConfig answers with
these.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from ingestion.models import CollectorHeartbeat
from ingestion.partitions import existing_partitions, partition_name, partition_start

# The leading collector records a heartbeat every HEARTBEAT_INTERVAL; six missed beats make
# it stale, which rides out a slow flush or a short database outage.
HEARTBEAT_INTERVAL = timedelta(seconds=5)
HEARTBEAT_MAX_AGE = 6 * HEARTBEAT_INTERVAL


def readiness_checks() -> dict[str, str]:
    """Return {"collector": ..., "partition": ...}, each "ok" or "failed: <why>"."""
    now = timezone.now()
    return {"collector": _collector_check(now), "partition": _partition_check(now)}


def _collector_check(now: datetime) -> str:
    newest = CollectorHeartbeat.objects.order_by("-beat_at").first()
    if newest is None:
        return "failed: no collector heartbeat yet"
    if now - newest.beat_at > HEARTBEAT_MAX_AGE:
        age = int((now - newest.beat_at).total_seconds())
        return f"failed: last heartbeat {age} s ago ({newest.collector})"
    return "ok"


def _partition_check(now: datetime) -> str:
    current = partition_name(partition_start(now))
    return "ok" if current in existing_partitions() else f"failed: no {current}"
