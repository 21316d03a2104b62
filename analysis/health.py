"""Operational endpoints: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from datetime import timedelta

from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ingestion.models import CollectorHeartbeat
from ingestion.partitions import existing_partitions, partition_name, partition_start

HEARTBEAT_MAX_AGE = timedelta(seconds=30)


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """The process answers."""
    return JsonResponse({"status": "ok"})


@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Ready when the database answers, is migrated, is fed and has a partition for now."""
    try:
        checks = readiness_checks()
    except DatabaseError as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else "unreachable"
        checks = {"database": f"failed: {first_line}"}
    ready = all(result == "ok" for result in checks.values())
    return JsonResponse({"ready": ready, "checks": checks}, status=200 if ready else 503)


_migrated = False  # once every migration of this code is applied, it stays so


def pending_migrations() -> int:
    """Count unapplied migrations; after the first 0, skip the graph build every probe paid."""
    global _migrated
    if not _migrated:
        executor = MigrationExecutor(connection)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
        _migrated = not pending
        return len(pending)
    return 0


def readiness_checks() -> dict[str, str]:
    connection.ensure_connection()
    checks = {"database": "ok"}
    pending = pending_migrations()
    checks["migrations"] = f"failed: {pending} not applied" if pending else "ok"
    now = timezone.now()
    newest = CollectorHeartbeat.objects.order_by("-beat_at").first()
    if newest is None:
        checks["collector"] = "failed: no collector heartbeat yet"
    elif now - newest.beat_at > HEARTBEAT_MAX_AGE:
        age = int((now - newest.beat_at).total_seconds())
        checks["collector"] = f"failed: last heartbeat {age} s ago ({newest.collector})"
    else:
        checks["collector"] = "ok"
    current = partition_name(partition_start(now))
    checks["partition"] = "ok" if current in existing_partitions() else f"failed: no {current}"
    return checks


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    return HttpResponse(generate_latest(), content_type=CONTENT_TYPE_LATEST)
